"""``python -m lcmem``: the ``lcmem`` command line (same as the console script).

Example:
    $ python -m lcmem search "how do I rotate logs" -k 5
"""

from lcmem.cli import main

if __name__ == "__main__":
    main()
