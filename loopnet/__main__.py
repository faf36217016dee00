"""``python -m loopnet`` is the ``loopnet`` command."""

import sys

from .cli import main

sys.exit(main())
