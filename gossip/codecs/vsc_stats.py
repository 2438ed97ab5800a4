"""Symbol statistics of vector source coding: input checks, the histogram in the coder's order,
the Golomb parameter of each support, and the closed-form expected message length.

Shared by the encoder (:mod:`.vsc`), which uses the closed form to decide whether to build the
VSC payload at all, and by benchmarks that compare the coder with its bound.
"""

from __future__ import annotations

import math

import numpy as np

from .bitio import bit_length, write_varint, zigzag

#: Symbol values must lie in [-VALUE_LIMIT, VALUE_LIMIT].
VALUE_LIMIT = 2**31
#: zigzag(VALUE_LIMIT) == 2**32 is the largest zigzag value a message may carry.
MAX_ZIGZAG = 2**32
#: The encoder only builds the VSC payload when its closed-form estimate is at most this
#: factor above the RAW size (then it emits the shorter of the two).  This replaces a
#: fixed cap on K: a large symbol table makes the estimate exceed RAW by itself, while a
#: sparse vector with many distinct outliers still gets VSC.
VSC_BUILD_SLACK = 1.25
#: Golomb parameter cap.
MAX_GOLOMB_M = 2**40
#: Widest RAW field (zigzag of +-2**31 needs 33 bits).
MAX_RAW_WIDTH = 33


_CRC_BYTES = 4
_HEADER_FIXED = 4  # magic (2) + version + kind


def golomb_parameter(n, L) -> np.ndarray:
    """Golomb parameter for ``n`` occurrences among ``L`` free slots (vectorised).

    ``M = max(1, ceil(log(2 - p) / -log1p(-p)))`` with ``p = n / L``, capped at 2**40.
    Encoder and decoder both call this one function, so they agree bit for bit.
    """
    n = np.asarray(n, dtype=np.float64)
    L = np.asarray(L, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p = n / L
        ratio = np.log(2.0 - p) / -np.log1p(-p)
        ratio = np.where((p > 0) & (p < 1) & np.isfinite(ratio), ratio, 1.0)
        M = np.ceil(np.minimum(ratio, float(MAX_GOLOMB_M)))
    return np.maximum(M, 1.0).astype(np.int64)


def _truncated_binary(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``b = ceil(log2 M)`` and ``c = 2**b - M`` for int64 ``M >= 1``."""
    b = bit_length((M - 1).astype(np.uint64))
    c = (np.int64(1) << b) - M
    return b, c


def _gamma_len(m) -> np.ndarray:
    """Elias-gamma length ``2 floor(log2 m) + 1`` (vectorised, m >= 1)."""
    return 2 * (bit_length(m) - 1) + 1


def _as_symbols(symbols) -> np.ndarray:
    """Flatten, check dtype and range, return int64."""
    a = np.asarray(symbols)
    if a.dtype == np.bool_ or a.size == 0:  # bools count as 0/1; [] is float64 in numpy
        a = a.astype(np.int64)
    if not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"VSC encodes integer arrays, got dtype {a.dtype}")
    a = a.reshape(-1)
    if a.size:
        lo, hi = int(a.min()), int(a.max())
        if lo < -VALUE_LIMIT or hi > VALUE_LIMIT:
            bad = a[(a < -VALUE_LIMIT) | (a > VALUE_LIMIT)][0]
            raise ValueError(
                f"symbol value {int(bad)} is outside the encodable range "
                f"[-2**31, 2**31]"
            )
    return a.astype(np.int64, copy=False)


def _histogram(v: np.ndarray):
    """Distinct symbols sorted by (count desc, value asc), their counts, and a rank lookup.

    Returns ``(sym, cnt, rank_of)`` where ``rank_of(values)`` maps values (all present in
    ``v``) to their 0-based rank.
    """
    d = v.size
    if d == 0:
        e = np.zeros(0, np.int64)
        return e, e, lambda x: np.zeros(0, np.int64)
    vmin, vmax = int(v.min()), int(v.max())
    span = vmax - vmin + 1
    if span <= max(1 << 16, 2 * d):
        counts = np.bincount(v - vmin, minlength=span)
        vals = np.flatnonzero(counts)
        cnts = counts[vals].astype(np.int64)
        vals = vals.astype(np.int64) + vmin
        order = np.lexsort((vals, -cnts))
        lut = np.empty(span, dtype=np.int64)
        lut[vals[order] - vmin] = np.arange(order.size)

        def rank_of(x):
            return lut[x - vmin]
    else:
        vals, cnts = np.unique(v, return_counts=True)
        cnts = cnts.astype(np.int64)
        order = np.lexsort((vals, -cnts))
        rank_sorted = np.empty(order.size, dtype=np.int64)
        rank_sorted[order] = np.arange(order.size)

        def rank_of(x):
            return rank_sorted[np.searchsorted(vals, x)]
    return vals[order], cnts[order], rank_of


def _free_slots(nk: np.ndarray, d: int) -> np.ndarray:
    """``L_k = d - sum_{j>k} n_j`` for the coded symbols ``k = 2..K`` (``nk = n_2..n_K``)."""
    suffix = np.cumsum(nk[::-1])[::-1]  # sum_{j>=k}
    return d - (suffix - nk)


def _golomb_expected_len(M: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Expected Golomb(M) codeword length for geometric gaps ``P(g) = p (1 - p)^g``.

    ``l(M, theta) = 1/(1 - theta^M) + (b - 1) + (theta^c - theta^M)/(1 - theta^M)`` with
    ``theta = 1 - p``, ``b = ceil(log2 M)``, ``c = 2^b - M``; ``1/p`` (unary) when M = 1.
    """
    b, c = _truncated_binary(M)
    Mf, bf, cf = M.astype(np.float64), b.astype(np.float64), c.astype(np.float64)
    log_theta = np.log1p(-p)
    one_minus_tM = -np.expm1(Mf * log_theta)  # 1 - theta^M, accurate for small p
    with np.errstate(divide="ignore", invalid="ignore"):
        golomb = (1.0 + np.exp(cf * log_theta) - np.exp(Mf * log_theta)) / one_minus_tM + bf - 1.0
        unary = 1.0 / p
    return np.where(M > 1, golomb, unary)


def _expected_payload_bits(d: int, sym: np.ndarray, cnt: np.ndarray) -> float:
    K = sym.size
    bits = float(_gamma_len(np.array([K + 1]))[0])
    if K:
        bits += float(_gamma_len(zigzag(sym) + np.uint64(1)).sum())
        nk = cnt[1:]
        if nk.size:
            bits += float(_gamma_len(nk).sum())
            L = _free_slots(nk, d)
            M = golomb_parameter(nk, L)
            bits += float((nk * _golomb_expected_len(M, nk / L)).sum())
    return bits


def expected_bits(symbols) -> float:
    """Closed-form expected VSC message length in bits (header included, padding not)
    under the geometric-gap model: every symbol's occurrences among its free slots are
    treated as i.i.d. with probability ``p_k = n_k / L_k``."""
    v = _as_symbols(symbols)
    sym, cnt, _ = _histogram(v)
    bits = _expected_payload_bits(v.size, sym, cnt)
    header = _HEADER_FIXED + len(write_varint(v.size)) + len(write_varint(math.ceil(bits))) + _CRC_BYTES
    return 8.0 * header + bits
