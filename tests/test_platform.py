"""keyun.common.platform: the event loop Keyun's processes run on."""

from __future__ import annotations

import asyncio
import sys

import pytest

from keyun.common.platform import EVENT_LOOP_ENV, install_event_loop_policy


@pytest.fixture(autouse=True)
def default_policy():
    yield
    asyncio.set_event_loop_policy(None)


def loop_module() -> str:
    loop = asyncio.new_event_loop()
    loop.close()
    return type(loop).__module__.split(".")[0]


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop does not run on Windows")
def test_uvloop_unless_asyncios_own_loop_is_asked_for(monkeypatch):
    monkeypatch.delenv(EVENT_LOOP_ENV, raising=False)
    assert (install_event_loop_policy(), loop_module()) == ("uvloop", "uvloop")
    monkeypatch.setenv(EVENT_LOOP_ENV, "asyncio")
    assert (install_event_loop_policy(), loop_module()) == ("asyncio", "asyncio")
    monkeypatch.setenv(EVENT_LOOP_ENV, "uvloop")
    assert (install_event_loop_policy(), loop_module()) == ("uvloop", "uvloop")


def test_an_unknown_event_loop_is_refused(monkeypatch):
    monkeypatch.setenv(EVENT_LOOP_ENV, "trio")
    with pytest.raises(ValueError, match="KEYUN_EVENT_LOOP must be one of uvloop, asyncio, not 'trio'"):
        install_event_loop_policy()
