"""The stop request set by SIGTERM/SIGUSR1 (a light module: installed before heavy imports)."""

from __future__ import annotations

import os
import signal


class _StopFlag:
    """Set by the signal handler; read at the end of every round."""

    requested = False
    signal_name = ""


STOP = _StopFlag()


def install_signal_handlers() -> None:
    """First SIGTERM/SIGUSR1: finish the round, checkpoint on every rank, exit 75.
    A second one: exit at once."""

    def handler(signum, frame):
        if STOP.requested:
            os._exit(128 + signum)
        STOP.requested = True
        STOP.signal_name = signal.Signals(signum).name

    for sig in (signal.SIGTERM, signal.SIGUSR1):
        signal.signal(sig, handler)
