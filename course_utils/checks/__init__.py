"""Checks of the notebook exercises: one module per notebook (``nbNN_name.py``), registered on import.

Importing this package imports every ``nb*`` module in it, so adding a notebook's checks is
adding one file. The mechanism is in ``course_utils/exercises.py``.
"""
import importlib
import pkgutil

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("nb"):
        importlib.import_module(f"{__name__}.{_info.name}")
