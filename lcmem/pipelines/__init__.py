"""Pipelines that answer questions about long inputs: rag, coa, rtr, kv, memory.

Example:
    >>> from lcmem.pipelines import PIPELINES
    >>> sorted(PIPELINES)
    ['coa', 'kv', 'memory', 'rag', 'rtr']
"""

from lcmem.pipelines.base import PIPELINES, Answer, Pipeline, Step, Trace, get_pipeline

__all__ = ["PIPELINES", "Answer", "Pipeline", "Step", "Trace", "get_pipeline"]
