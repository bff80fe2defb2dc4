"""The index pipeline as stages: plan -> read -> chunk -> embed -> commit -> update indices.

Each stage is a plain function over a batch (:mod:`lcmem.indexing.stages`); an executor runs
them: :mod:`lcmem.indexing.local` in this process, :mod:`lcmem.indexing.ray` over a Ray
cluster. :class:`lcmem.Library` is the facade that picks one.

Example:
    >>> from lcmem.indexing.stages import Pending, Failed, Unchanged   # doctest: +SKIP
"""

EXECUTORS = ("local", "ray")
