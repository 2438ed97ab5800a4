"""What a decode that returns must have returned, per decoder (None: well-formed, else why not)."""

from __future__ import annotations

import numpy as np

from .._core import Quantized, vsc
from .fuzz_seeds import QSeed


def _check_vsc_output(out, d_decl: int, expected: int | None) -> str | None:
    if not isinstance(out, np.ndarray) or out.dtype != np.int64 or out.ndim != 1:
        return f"returned {type(out).__name__} {getattr(out, 'dtype', '')}"
    if out.size != d_decl or (expected is not None and out.size != expected):
        return f"returned {out.size} entries, header declares {d_decl}, expected {expected}"
    if out.size <= 1 << 16:
        back = vsc.decode(vsc.encode(out))
        if not np.array_equal(back, out):
            return "decoded vector does not survive its own round trip"
    return None


def _check_qframe_output(out, s: QSeed) -> str | None:
    if not isinstance(out, Quantized):
        return f"returned {type(out).__name__}"
    z, sc = np.asarray(out.symbols), np.asarray(out.scales)
    if z.ndim != 1 or z.size != int(np.sum(s.block_sizes)):
        return f"symbols of shape {z.shape} for a {int(np.sum(s.block_sizes))}-entry layout"
    if sc.shape != (len(s.block_sizes),) or sc.dtype != np.float32:
        return f"scales of shape {sc.shape} / {sc.dtype}"
    if not np.isfinite(sc).all() or (sc < 0).any():
        return "non-finite or negative scale accepted"
    if z.size and int(np.abs(z.astype(np.int64)).max()) > s.levels:
        return f"symbol beyond ±{s.levels} accepted"
    if out.levels != s.levels:
        return f"levels {out.levels} != {s.levels}"
    return None
