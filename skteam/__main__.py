"""``python -m skteam``: the ``skteam`` command line (see :mod:`skteam.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
