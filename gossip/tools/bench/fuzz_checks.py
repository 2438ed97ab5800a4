"""What a decode that returns must have returned, per decoder (None: well-formed, else why not)."""

from __future__ import annotations

import numpy as np

from .._core import Dense, Quantized, Sparse, vsc
from .fuzz_seeds import QSeed


def _wrong_type(out, cls) -> str | None:
    return None if isinstance(out, cls) else f"returned {type(out).__name__}"


def _check_vsc_output(out, d_decl: int, expected: int | None, narrow: bool = False) -> str | None:
    """``narrow``: any signed int dtype is fine (the compiled decoder's), else int64 only."""
    ok = (np.issubdtype(out.dtype, np.signedinteger) if narrow else out.dtype == np.int64) \
        if isinstance(out, np.ndarray) else False
    if not ok or out.ndim != 1:
        return f"returned {type(out).__name__} {getattr(out, 'dtype', '')}"
    if out.size != d_decl or (expected is not None and out.size != expected):
        return f"returned {out.size} entries, header declares {d_decl}, expected {expected}"
    if out.size <= 1 << 16:
        back = vsc.decode(vsc.encode(out))
        if not np.array_equal(back, out):
            return "decoded vector does not survive its own round trip"
    return None


def _check_qframe_output(out, s: QSeed) -> str | None:
    if (wrong := _wrong_type(out, Quantized)):
        return wrong
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



def check_raw(out, size: int) -> str | None:
    if (wrong := _wrong_type(out, Dense)):
        return wrong
    v = np.asarray(out.values)
    if v.dtype != np.float32 or v.ndim != 1 or v.size != size:
        return f"values of shape {v.shape} / {v.dtype} for a {size}-entry model"
    if not np.isfinite(v).all():
        return "non-finite value accepted"
    return None


def check_sparse(out, size: int) -> str | None:
    if (wrong := _wrong_type(out, Sparse)):
        return wrong
    idx, v = np.asarray(out.indices), np.asarray(out.values)
    if out.size != size:
        return f"size {out.size} for a {size}-entry model"
    if idx.dtype != np.int64 or v.dtype != np.float32 or idx.ndim != 1 or idx.shape != v.shape:
        return f"indices {idx.shape}/{idx.dtype}, values {v.shape}/{v.dtype}"
    if idx.size and (idx[0] < 0 or idx[-1] >= size or (np.diff(idx) <= 0).any()):
        return "indices out of range or not strictly increasing accepted"
    if not np.isfinite(v).all():
        return "non-finite value accepted"
    return None
