"""``python -m nxbridge`` is the ``nxbridge`` command."""

import sys

from nxbridge.cli import main

sys.exit(main())
