"""``python -m taskscope``: the command line (see `taskscope.cli`)."""

import sys

from taskscope.cli import main

if __name__ == "__main__":
    sys.exit(main())
