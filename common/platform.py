"""Everything Keyun does differently from one operating system to another, in one place.

The rest of the code asks this module instead of testing `sys.platform` itself: which event loop
serves gRPC and how it hears a stop signal, how a data directory is locked, how a file's creation
is made durable, whether files have permission bits, and whether several processes may share a
listening port, and whether a port is free to listen on.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

# The event loop of Keyun's processes: "uvloop" (the default where it exists, not on Windows) or
# "asyncio" (the standard library's own, as on Windows; tests run a station day on it).
EVENT_LOOP_ENV = "KEYUN_EVENT_LOOP"
EVENT_LOOPS = ("uvloop", "asyncio")

# SO_REUSEPORT, which lets several gateway processes listen on one port (keyun serve --workers);
# Windows does not have it.
SHARED_PORTS = sys.platform != "win32"

# Whether files have POSIX permission bits (key files are made 0600 and checked to be private).
FILE_MODES = os.name == "posix"

# The os.open flag for binary files: Windows would otherwise translate line endings.
O_BINARY: int = getattr(os, "O_BINARY", 0)


def install_event_loop_policy() -> str:
    """Make new event loops uvloop's where it exists, or asyncio's own where it does not or where
    KEYUN_EVENT_LOOP=asyncio asks for it; return which ("uvloop" or "asyncio").

    Raises ValueError for any other KEYUN_EVENT_LOOP, or for "uvloop" without uvloop installed.
    """
    asked = os.environ.get(EVENT_LOOP_ENV, "")
    if asked and asked not in EVENT_LOOPS:
        raise ValueError(f"{EVENT_LOOP_ENV} must be one of {', '.join(EVENT_LOOPS)}, not {asked!r}")
    if (asked or ("asyncio" if sys.platform == "win32" else "uvloop")) == "uvloop":
        try:
            import uvloop
        except ImportError:
            if asked:
                raise ValueError(f"{EVENT_LOOP_ENV}=uvloop, but uvloop is not installed") from None
            log.info("uvloop is not installed; using the default asyncio event loop")
        else:
            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
            return "uvloop"
    asyncio.set_event_loop_policy(None)  # the standard library's own
    return "asyncio"


def on_stop_signals(loop: asyncio.AbstractEventLoop, stop: Callable[[], object]) -> None:
    """Call `stop` on SIGINT and SIGTERM.  Windows loops take no signal handlers: Ctrl-C raises
    KeyboardInterrupt there instead."""
    if sys.platform == "win32":
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)


def try_lock(fd: int) -> bool:
    """Take an exclusive lock on the open file `fd` without waiting; False if another process holds
    it.  Closing the descriptor, or the process ending, releases it."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def fsync_directory(directory: Path) -> None:
    """Make a file's creation or removal durable.  Windows cannot open directories; NTFS journals names."""
    if sys.platform == "win32":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def port_in_use(host: str, port: int) -> str:
    """Why `keyun serve` cannot listen on host:port ("" if it can): checked before anything starts,
    so a second `make run` fails at once and leaves nothing behind."""
    if port == 0:
        return ""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        return f"cannot listen on {host}: {error.strerror}"
    failures = []
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as grpc does: TIME_WAIT is no obstacle
            try:
                probe.bind(address)
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    return f"port {port} on {host} is in use (another keyun serve?): stop it, or choose another --port"
                failures.append(error)
    # grpc serves when it can bind one of the addresses (localhost without IPv6, say).
    return f"cannot listen on port {port} of {host}: {failures[0].strerror}" if len(failures) == len(addresses) else ""
