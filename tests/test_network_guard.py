import socket

import pytest

from network_guard import NetworkBlocked, is_local


def test_outside_connections_are_refused():
    with socket.socket() as s, pytest.raises(NetworkBlocked, match="offline"):
        s.connect(("93.184.216.34", 80))


def test_loopback_is_allowed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.socket() as client:
            client.connect(server.getsockname())


def test_is_local():
    assert is_local(("127.0.0.1", 1)) and is_local(("::1", 1)) and is_local(("localhost", 1))
    assert not is_local(("10.0.0.1", 1)) and not is_local(("huggingface.co", 443))
