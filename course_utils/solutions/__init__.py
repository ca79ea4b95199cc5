"""Reference solutions of every exercise, in one place: one module per notebook (``nbNN_name.py``).

Each module defines ``SOLUTIONS = {exercise name: function building the answer}``; this package
merges them. Learners: try first, then peek. ``tests/test_exercises.py`` checks every solution.
"""
import importlib
import pkgutil

SOLUTIONS: dict = {}
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("nb"):
        _module = importlib.import_module(f"{__name__}.{_info.name}")
        _clash = set(SOLUTIONS) & set(_module.SOLUTIONS)
        if _clash:
            raise ValueError(f"solutions defined twice: {sorted(_clash)}")
        SOLUTIONS.update(_module.SOLUTIONS)

__all__ = ["SOLUTIONS"]
