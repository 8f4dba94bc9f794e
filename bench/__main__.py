"""`python -m bench`: the performance suite (bench/run.py)."""

import sys

from .run import main

sys.exit(main())
