"""``python -m mmcache`` is the ``mmcache`` command."""

import sys

from .cli.main import main

sys.exit(main())
