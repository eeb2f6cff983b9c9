"""``python -m territory_geo``: see :mod:`territory_geo.cli`."""

import sys

from territory_geo.cli import main

sys.exit(main())
