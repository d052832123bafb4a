"""``python -m cevns_fit`` is the ``cevns-fit`` command."""

import sys

from cevns_fit.cli import main

sys.exit(main())
