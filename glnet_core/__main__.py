"""``python -m glnet.glnet_core``: the ``glnet`` command line without the console script."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
