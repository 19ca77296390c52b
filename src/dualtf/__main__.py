"""``python -m dualtf``: the same as the ``dualtf`` command."""

import sys

from .cli import main

sys.exit(main())
