"""A client-side deadline for a database round trip that libpq cannot give: libpq has no read
timeout, so a server that stalls (a frozen process, or a network path that holds its
packets) keeps the caller waiting for as long as the stall lasts. Whoever watches a round
trip registers its connection's socket with a deadline; one thread per process shuts down
the socket of any round trip still registered past its deadline, so the blocked call fails
with an OperationalError (answered 503) instead of hanging.

Registering costs a dict insert under an uncontended lock, not a thread or a timer per call;
the thread wakes every TICK_SECONDS only while a deadline is registered. Connections in use
are registered without one: when a stall is seen, `cut_all` fails every request waiting on
the same server at once. The socket is shut
down while its round trip is still registered (same lock), so a connection that finished in
time, or one since closed and its file descriptor reused, is never touched."""
from __future__ import annotations

import itertools
import logging
import math
import os
import socket
import threading
import time
from contextlib import contextmanager

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.1


class StallWatchdog:
    def __init__(self) -> None:
        self._watched: dict[int, tuple[float, int]] = {}  # ticket -> (deadline, socket fd)
        self._tickets = itertools.count()
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(self, fileno: int, *, seconds: float):
        """The block's round trips on the socket `fileno` must end within `seconds`."""
        ticket = self.watch(fileno, seconds=seconds)
        try:
            yield
        finally:
            self.unwatch(ticket)

    def watch(self, fileno: int, *, seconds: float = math.inf) -> int:
        """Registers the socket `fileno` until `unwatch(ticket)`; cut past `seconds`, or by
        `cut_all` (without a deadline: a connection in use, cut only when a stall is seen)."""
        ticket = next(self._tickets)
        with self._lock:
            self._watched[ticket] = (time.monotonic() + seconds, fileno)
            if seconds != math.inf:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="db-stall-watchdog", daemon=True)
                    self._thread.start()
                self._work.notify()
        return ticket

    def unwatch(self, ticket: int) -> None:
        with self._lock:
            self._watched.pop(ticket, None)

    def cut_all(self) -> int:
        """A stall was seen: cuts every registered socket (the requests waiting on the same
        server fail now instead of when it answers again). Returns how many."""
        with self._lock:
            watched, self._watched = list(self._watched.values()), {}
            for _, fileno in watched:
                _socket_shutdown(fileno)
        return len(watched)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not any(deadline != math.inf for deadline, _ in self._watched.values()):
                    self._work.wait()
                now = time.monotonic()
                for ticket, (deadline, fileno) in list(self._watched.items()):
                    if deadline <= now:
                        del self._watched[ticket]
                        _socket_shutdown(fileno)
            time.sleep(TICK_SECONDS)


def _socket_shutdown(fileno: int) -> None:
    """Shuts the connection down for both directions (the blocked read returns at once); the
    caller's connection closes its own descriptor."""
    try:
        duplicate = socket.socket(fileno=os.dup(fileno))
    except OSError:
        return
    try:
        duplicate.shutdown(socket.SHUT_RDWR)
        logger.warning("database round trip past its deadline: connection cut (fd %d)", fileno)
    except OSError:
        pass
    finally:
        duplicate.close()


stall_watchdog = StallWatchdog()
