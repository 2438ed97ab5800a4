"""``python -m gossip.kernels``: compile (or load from numba's cache) every kernel once, so the
first run does not pay the compilation; optional, after installing."""

from __future__ import annotations

import sys
import time

from . import _STATE, available


def main() -> int:
    t = time.perf_counter()
    if not available():
        print(f"compiled kernels unavailable: {_STATE.get('error')!r}", file=sys.stderr)
        return 1
    print(f"compiled kernels ready ({time.perf_counter() - t:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
