# Runs at the start of every notebook kernel that nbval starts (conftest sets IPYTHONDIR here):
# the notebooks get the same "loopback only" network guard as the unit tests.
import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parents[3]))
import network_guard as _network_guard  # noqa: E402

_network_guard.install()
_sys.path.pop(0)
