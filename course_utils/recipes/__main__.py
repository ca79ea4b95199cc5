"""``python -m course_utils.recipes …`` is the same command as ``python -m course_utils.train …``."""
import sys

from . import main

sys.exit(main())
