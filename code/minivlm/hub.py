"""Whether a model hub can be reached: cells that load real checkpoints ask first."""

from __future__ import annotations

import os
import socket


def online(host: str = "huggingface.co", port: int = 443, timeout: float = 3.0) -> bool:
    """True when a TCP connection to host:port opens within `timeout` seconds, and Hugging
    Face's offline mode is not set: the book's own builds and tests set HF_HUB_OFFLINE=1
    (the Makefile), so that they never download a checkpoint, network or not."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False
