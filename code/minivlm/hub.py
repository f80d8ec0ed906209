"""Whether a model hub can be reached: cells that load real checkpoints ask first."""

from __future__ import annotations

import socket


def online(host: str = "huggingface.co", port: int = 443, timeout: float = 3.0) -> bool:
    """True when a TCP connection to host:port opens within `timeout` seconds."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False
