"""``python -m sklearn_teracon``: the command line, see :mod:`sklearn_teracon.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
