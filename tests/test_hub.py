"""minivlm.hub.online: whether a cell may load a real checkpoint. It tries a connection, and
says no whenever Hugging Face's offline mode is set, as the Makefile sets it for the book's
builds and tests."""

from __future__ import annotations

import socket

import pytest

from minivlm.hub import online


@pytest.fixture
def listening():
    """A TCP port on this machine that accepts connections: a host that can be reached."""
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


def test_a_host_that_answers_is_online(listening, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert online("127.0.0.1", listening, timeout=2.0)


def test_a_port_that_refuses_is_offline(listening, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    assert not online("127.0.0.1", port, timeout=2.0)


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_offline_mode_says_no_even_to_a_host_that_answers(listening, monkeypatch, value):
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert not online("127.0.0.1", listening, timeout=2.0)


@pytest.mark.parametrize("value", ["0", "", "false"])
def test_offline_mode_unset_or_false_leaves_the_connection_to_decide(listening, monkeypatch, value):
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert online("127.0.0.1", listening, timeout=2.0)


def test_the_makefile_sets_offline_mode_for_every_target():
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert "\nexport HF_HUB_OFFLINE := 1\n" in makefile
