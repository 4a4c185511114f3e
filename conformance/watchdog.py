"""A hard deadline for every call into a port, that does not rely on the port's cooperation.

pytest-timeout's SIGALRM is the first line: a clause that overruns ``--bert-timeout`` fails and the run goes on.
It cannot stop a port that ignores or replaces SIGALRM, or one that hangs where no alarm is set (importing the
port and calling ``capabilities()`` happen at collection). The :class:`Watchdog` is the last line: a daemon
thread that, when a deadline passes, says what hung, lets the session record the run as incomplete, and ends
the process with :data:`EXIT_INCOMPLETE`. Under pytest-xdist the worker dies instead, and xdist reports the
clause it was running as failed ("worker crashed"), so the run still ends with a verdict.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

EXIT_INCOMPLETE = 6  # pytest's own codes are 0-5: 6 is "the run ended without a verdict"


def grace(timeout: float) -> float:
    """How long after ``--bert-timeout`` the watchdog waits for SIGALRM to work: as long again, between 1 s (tiny
    timeouts in tests) and 60 s (a slow clause on a busy CI machine still gets its alarm first)."""
    return min(max(timeout, 1.0), 60.0)


class Watchdog:
    """One deadline at a time; ``on_expiry(what)`` runs in the watchdog thread, then the process exits."""

    def __init__(self, on_expiry: Callable[[str], None], *, enabled: bool = True) -> None:
        self._on_expiry = on_expiry
        self.enabled = enabled  # False: deadline() does nothing (a session nested in another pytest run)
        self._condition = threading.Condition()
        self._deadline: float | None = None
        self._what = ""
        self._thread: threading.Thread | None = None

    @contextmanager
    def deadline(self, seconds: float, what: str) -> Iterator[None]:
        """Arm for ``seconds`` (0: no deadline) while the block runs."""
        if not seconds or not self.enabled:
            yield
            return
        with self._condition:
            outer = self._deadline, self._what
            mine = time.monotonic() + seconds
            if outer[0] is None or mine < outer[0]:  # nested: the earlier deadline wins
                self._deadline, self._what = mine, what
            self._start()
            self._condition.notify()
        try:
            yield
        finally:
            with self._condition:
                self._deadline, self._what = outer
                self._condition.notify()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._watch, name="bert-conformance-watchdog", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        with self._condition:
            while True:
                if self._deadline is None:
                    self._condition.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._condition.wait(left)
                    continue
                break
            what = self._what
        self._expire(what)

    def _expire(self, what: str) -> None:
        message = f"bert-conformance: {what} did not return before the hard deadline; the run is ended without a verdict"
        try:
            self._on_expiry(what)  # first: it records the run and lifts pytest's output capture
        finally:
            stream = sys.__stderr__ or sys.stderr
            stream.write(f"\n{message}\n")
            stream.flush()
            os._exit(EXIT_INCOMPLETE)
