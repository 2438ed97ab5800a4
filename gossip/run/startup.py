"""Seconds since this process started (for the launch-to-first-round time in summary.json).

From the kernel's start time of the process (``/proc/self/stat``, against ``/proc/uptime``), so
interpreter start-up and imports count; where there is no ``/proc``, from when this module was
first imported.
"""

from __future__ import annotations

import os
import time

_IMPORTED = time.monotonic()


def _from_proc() -> float | None:
    try:
        with open("/proc/self/stat") as f:
            stat = f.read()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        ticks = int(stat[stat.rindex(")") + 2:].split()[19])  # field 22: starttime
        return uptime - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def since_start() -> float:
    """Seconds from this process's start to now."""
    took = _from_proc()
    return took if took is not None else time.monotonic() - _IMPORTED
