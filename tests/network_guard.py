"""Refuse every network connection except loopback, so a test that needs the network fails loudly.

Installed for the pytest process by ``conftest.py``, and for the notebook kernels that nbval starts
through the IPython startup file in ``tests/ipython/`` (conftest points IPYTHONDIR there).
"""
from __future__ import annotations

import ipaddress
import socket

__all__ = ["NetworkBlocked", "install", "uninstall", "is_local"]

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class NetworkBlocked(RuntimeError):
    pass


def is_local(address) -> bool:
    if isinstance(address, (str, bytes)):     # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False                          # any other host name


def _refuse(address):
    raise NetworkBlocked(f"network connection to {address!r} refused: the course and its tests must run offline.")


def _connect(self, address):
    if not is_local(address):
        _refuse(address)
    return _real_connect(self, address)


def _connect_ex(self, address):
    if not is_local(address):
        _refuse(address)
    return _real_connect_ex(self, address)


def install() -> None:
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex


def uninstall() -> None:
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex
