"""``python -m mmcache.eval ...`` (and ``accelerate launch -m mmcache.eval ...``) is ``mmcache eval ...``."""

import sys

from mmcache.cli.main import main

sys.exit(main(["eval", *sys.argv[1:]]))
