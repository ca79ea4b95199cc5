"""``python -m course_utils.train <recipe>``: the training command every shipped record.json stores.

A thin entry point kept so those commands keep working; the recipes themselves live in
``course_utils/recipes/`` (the workshop), which notebooks never import.
"""
from __future__ import annotations

import sys

from .recipes import RECIPES, build, main

__all__ = ["RECIPES", "build", "main"]

if __name__ == "__main__":
    sys.exit(main())
