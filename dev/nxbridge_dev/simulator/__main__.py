"""``python -m nxbridge_dev.simulator``."""

import sys

from nxbridge_dev.simulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
