"""Loopback helpers for tests that start a server (streamlit, redis-server)."""

import socket
import time


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process, what: str, timeout: float = 60) -> None:
    """Until something listens on 127.0.0.1:port; fails early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            assert process.poll() is None, f"{what} exited with {process.returncode}"
            assert time.monotonic() < deadline, f"{what} did not start in {timeout:.0f} s"
            time.sleep(0.2)
