"""Compiled hot paths (numba), bit-identical to the numpy reference code.

``select(mode)`` returns a :class:`Kernels` namespace with the same functions either way:

* ``vsc_encode(symbols) -> bytes``, ``vsc_encode_counted(symbols) -> (bytes, counts)`` /
  ``vsc_decode(data, *, max_entries=None,
  expected_size=None, dtype=None)`` (:mod:`gossip.codecs.vsc`; the numpy twin decodes to
  int64 and applies ``dtype``, when given, with ``astype``);
* ``quantize(q, v, rng)``, ``dequantize(q, quantized, u=None)``,
  ``dequantize_add(q, quantized, x_hat, u=None)``, ``dequantize_axpy(q, quantized, w, acc,
  u=None)``, ``absorb(q, reps, weights, us, own, x_hat, acc)`` (both in one pass) for a
  :class:`~gossip.compressors.DitheredQuantizer` ``q``;
* ``consensus_prox(x, s, x_hat, gamma, lr, l1)`` (:mod:`gossip.algorithms.choco`).

``mode``: "numpy" (the existing implementations, wrapped, not rewritten), "compiled"
(numba; a RuntimeError when numba is missing or the kernels do not compile) or "auto"
(compiled when numba imports).  :func:`warm` compiles or loads every kernel once; the
numba cache lives in ``gossip/kernels/__pycache__`` (numba falls back to its user-wide
cache directory when the package is not writable, or set ``NUMBA_CACHE_DIR``), and
:mod:`._jit` clears it whenever any kernel source changed (numba alone would keep a caller
compiled against an old callee from another file).
"""

from __future__ import annotations

import types

import numpy as np

__all__ = ["available", "select", "unavailable_reason", "warm", "Kernels"]

_STATE: dict = {}


class Kernels(types.SimpleNamespace):
    """The functions of one mode (``mode`` says which)."""


def _numpy_kernels() -> Kernels:
    from ..prox import soft_threshold
    from ..codecs import vsc

    def vsc_decode(data, *, max_entries=None, expected_size=None, dtype=None):
        out = vsc.decode(data, expected_size=expected_size,
                         max_entries=2**28 if max_entries is None else max_entries)
        return out if dtype is None else out.astype(dtype)

    def quantize(q, v, rng):
        return q.quantize(v, rng)

    def dequantize(q, quantized, u=None):
        return q.dequantize(quantized, u)

    def dequantize_add(q, quantized, x_hat, u=None):
        x_hat += q.dequantize(quantized, u)
        return x_hat

    def dequantize_axpy(q, quantized, w, acc, u=None):
        acc += np.float32(w) * q.dequantize(quantized, u)
        return acc

    def absorb(q, reps, weights, us, own, x_hat, acc):
        dequantize_add(q, reps[own], x_hat, us[own])
        for rep, w, u in zip(reps, weights, us):
            dequantize_axpy(q, rep, w, acc, u)

    def consensus_prox(x, s, x_hat, gamma, lr, l1):
        y = x + np.float32(gamma) * (s - x_hat)
        soft_threshold(y, lr * l1, out=x)
        return x

    return Kernels(mode="numpy", vsc_encode=vsc.encode, vsc_encode_counted=vsc.encode_counted,
                   vsc_decode=vsc_decode,
                   quantize=quantize, dequantize=dequantize, dequantize_add=dequantize_add,
                   dequantize_axpy=dequantize_axpy, absorb=absorb, consensus_prox=consensus_prox)


def _compiled_kernels() -> Kernels:
    from . import quant, vsc

    return Kernels(mode="compiled", vsc_encode=vsc.encode, vsc_encode_counted=vsc.encode_counted,
                   vsc_decode=vsc.decode,
                   quantize=quant.quantize, dequantize=quant.dequantize,
                   dequantize_add=quant.dequantize_add, dequantize_axpy=quant.dequantize_axpy,
                   absorb=quant.absorb, consensus_prox=quant.consensus_prox)


def available() -> bool:
    """numba imports.  Kernels compile on first use (once per install: ``cache=True``) or all
    at once with :func:`warm` (``python -m gossip.kernels``); loading only what a run calls
    keeps every rank's start-up short."""
    if "available" not in _STATE:
        try:
            import numba  # noqa: F401
            _STATE["available"] = True
        except Exception as exc:  # ImportError, a broken numba/llvmlite install
            _STATE["available"] = False
            _STATE["error"] = exc
    return _STATE["available"]


def unavailable_reason() -> str:
    """Why numba does not import (after :func:`available` returned False), in one line."""
    err = _STATE.get("error")
    return f"{type(err).__name__}: {err}" if err is not None else "numba imports"


def select(mode: str = "auto") -> Kernels:
    if mode == "numpy":
        return _numpy_kernels()
    if mode == "compiled":
        if not available():
            raise RuntimeError(f"compiled kernels unavailable (is numba installed?): "
                               f"{_STATE.get('error')!r}")
        return _compiled_kernels()
    if mode == "auto":
        return _compiled_kernels() if available() else _numpy_kernels()
    raise ValueError(f"mode must be 'numpy', 'compiled' or 'auto', got {mode!r}")


def warm(dtypes=(np.int8, np.int16, np.int32, np.int64)) -> None:
    """Compile (or load from numba's cache) every kernel for the symbol ``dtypes``, once.  A
    run calls it in its set-up with its own symbol dtype, so loading the cache (tenths of a
    second) counts in the launch time, not in round 1."""
    from ..compressors import DitheredQuantizer
    from . import quant, vsc

    todo = [np.dtype(d) for d in dtypes if ("warm", np.dtype(d).name) not in _STATE]
    if not todo:
        return
    rng = np.random.default_rng(0)
    every = len(dtypes) > 1  # the install-time warm-up: every path, the older ones too
    many = np.zeros(4000, np.int64)  # > WALK_MAX_J coded symbols: the older VSC kernels
    many[::40] = np.arange(-50, 50)
    for dt in todo:
        z = np.array([0, 0, 0, 1, -1, 0, 2, 0, 0, 0, -3, 0] * 4, dt)
        few = np.zeros(640, dt)  # at most one coded symbol per 64: the sparse walk
        few[[5, 100, 300, 301]] = [1, -1, 2, 1]
        for out_dt in (None, dt) if len(dtypes) == 1 else (None, np.int16, np.int32, np.int64):
            vsc.decode(vsc.encode(z), dtype=out_dt)
            vsc.decode(vsc.encode(few), dtype=out_dt)
            vsc.decode(vsc.encode(np.arange(-40, 40).astype(dt)), dtype=out_dt)  # RAW
            if every:
                vsc.decode(vsc.encode(many.astype(dt)), dtype=out_dt)
    if "warm-quant" not in _STATE:
        for norm, sub in (("l2", False), ("inf", True)):
            q = DitheredQuantizer([5, 7], 4, norm=norm, tau_scaling=True, subtractive=sub)
            v = rng.standard_normal(12).astype(np.float32)
            u = q.dither(rng)
            qq = quant.quantize(q, v, u)
            quant.quantize(q, v, rng)
            acc = np.zeros(12, np.float32)
            quant.dequantize(q, qq, u)
            quant.dequantize_add(q, qq, acc, u)
            quant.dequantize_axpy(q, qq, 0.5, acc, u)
            quant.absorb(q, [qq, qq], [0.5, 0.5], [u, u], 1, acc.copy(), acc)
        x = np.ones(4, np.float32)
        quant.consensus_prox(x, x.copy(), x.copy(), 0.1, 0.1, 0.1)
    _STATE["warm-quant"] = True
    _STATE.update({("warm", dt.name): True for dt in todo})
