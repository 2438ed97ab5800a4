"""The stop request set by SIGTERM/SIGUSR1 (a light module: installed before heavy imports)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


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


_IMPORTED_AT = time.time()


def process_start() -> float:
    """This process's start as a Unix time (Linux: from /proc; elsewhere: when this module was
    imported, which is early in ``gossip train``)."""
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: starttime, after comm
        btime = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                     if line.startswith("btime "))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED_AT
