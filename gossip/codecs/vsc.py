"""Vector source coding (VSC): a lossless codec for integer symbol vectors.

Meant for quantizer output: mostly one symbol (usually zero), a few small integers.  The
message carries the symbol *frequencies* (a table sorted by count) and the *supports*
(where each symbol sits) as Golomb-coded run lengths; the most frequent symbol fills what
is left at zero cost.  Encoding and decoding are numpy-vectorised: the only Python loops
run over tree levels (``log2 K``) or 65536-field chunks, never over entries.

Message (version 1)::

    b"GV" | version (1 byte) | kind (1 byte: 0 VSC, 1 RAW)
    | d (LEB128) | nbits (LEB128) | CRC32 (4 bytes LE) | payload (ceil(nbits/8) bytes)

The CRC (``zlib.crc32``) covers the header bytes before it plus the payload; padding bits
after ``nbits`` must be zero and the parser must consume exactly ``nbits`` bits.  Decoding
checks, in order: magic, version, kind, varints (minimal, at most 10 bytes, < 2**63),
``d`` against ``max_entries`` / ``expected_size`` (before any allocation), the exact total
length, the CRC, the padding, then every structural rule of the payload.  Every failure is
a :class:`~gossip.codecs.DecodeError` naming what is wrong.

VSC payload (kind 0), all Elias-gamma codes in the batch layout of :mod:`.bitio`:

1. ``gamma(K + 1)``, ``K`` = number of distinct symbols (0 only when ``d == 0``);
2. symbols ``a_1..a_K`` sorted by count descending, ties by value ascending:
   ``gamma(zigzag(a_k) + 1)`` for every k, then ``gamma(n_k)`` for ``k = 2..K``
   (``n_1 = d - sum`` is implied);
3. supports, rarest first (``k = K..2``): the occurrences of ``a_k`` are indexed among the
   ``L_k = d - sum_{j>k} n_j`` slots that rarer symbols left free; the gaps between them
   are Golomb coded with ``M_k`` from :func:`golomb_parameter`, as three sub-streams for all
   gaps of all symbols: every quotient in unary, then the first ``b_k - 1`` bits of every
   truncated-binary remainder codeword, then the last bit of those codewords that have one;
4. ``a_1`` fills the remaining positions.

RAW payload (kind 1): a width byte ``w`` (0..33), then ``d`` zigzag values in ``w`` bits.
The encoder emits whichever payload is shorter; it skips building the VSC payload when
the closed-form estimate is clearly longer than RAW (e.g. thousands of distinct symbols).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from ..messages import entropy_bits  # noqa: F401 - part of this module's API
from . import DecodeError
from .bitio import BitReader, BitWriter, read_varint, unzigzag, write_varint, zigzag
from .envelope import as_message as _to_buffer
from .vsc_stats import (  # noqa: F401 - part of this module's API
    _CRC_BYTES, MAX_GOLOMB_M, MAX_RAW_WIDTH, MAX_ZIGZAG, VALUE_LIMIT, VSC_BUILD_SLACK, _as_symbols,
    _expected_payload_bits, _free_slots, _gamma_len, _histogram, _truncated_binary,
    expected_bits, golomb_parameter)

__all__ = [
    "encode",
    "decode",
    "expected_bits",
    "entropy_bits",
    "message_info",
    "golomb_parameter",
    "DecodeError",
    "MAGIC",
    "VERSION",
    "KIND_VSC",
    "KIND_RAW",
]

MAGIC = b"GV"
VERSION = 1
KIND_VSC = 0
KIND_RAW = 1
KIND_NAMES = {KIND_VSC: "vsc", KIND_RAW: "raw"}


# ---------------------------------------------------------------------------- helpers


def _n_levels(K: int) -> int:
    return max(K - 2, 0).bit_length()


# Both directions of the support transform use an implicit binary tree over the coded
# ranks j = k - 2 (0..K-2), like a wavelet tree: at tree level l a node is j >> l; its left
# child holds the more frequent ranks, its right child the rarer ones.  A node covering
# ranks lo..hi knows the positions of its points inside S|{1..hi} (the vector restricted to
# the symbols of rank <= hi).  S|{1..hi} is S|{1..mid} with the right child's points
# inserted, so each level moves every point of every node at once with a few cumsums, one
# searchsorted (decoder only) and one scatter: O(G log K) work for G coded occurrences.
# The points are kept sorted by (node, position) throughout.


def _stable_partition_dest(left: np.ndarray, dest_left: np.ndarray) -> np.ndarray:
    """Destination of every point: left points go to ``dest_left``, right points fill the
    remaining slots in their current order."""
    n = left.size
    dest = np.empty(n, dtype=np.int64)
    dest[left] = dest_left
    free = np.ones(n, dtype=bool)
    free[dest_left] = False
    dest[~left] = np.flatnonzero(free)
    return dest


def _level_counts(jj: np.ndarray, lvl: int):
    """Right-child flags, parent ids, right points in earlier parents, and the number of
    right points before each point (globally)."""
    right = ((jj >> lvl) & 1).astype(bool)
    parent = jj >> (lvl + 1)
    per_parent = np.bincount(parent[right], minlength=int(parent[-1]) + 1)
    before_parent = (np.cumsum(per_parent) - per_parent)[parent]
    right_before = np.cumsum(right) - right
    return right, parent, before_parent, right_before


def _positions_to_slots(pos: np.ndarray, j: np.ndarray, K: int):
    """Encoder: ``pos`` (ascending) with coded ranks ``j`` -> ``(j, slots)`` sorted by
    (rank, slot), the slot being the index among the free slots of that rank."""
    cur, jj = pos.astype(np.int64), j.astype(np.int64)
    g = np.arange(cur.size)
    for lvl in range(_n_levels(K) - 1, -1, -1):
        right, parent, before_parent, right_before = _level_counts(jj, lvl)
        if not right.any():
            continue
        left = ~right
        rb = (right_before - before_parent)[left]  # rarer points before, same parent
        cur[left] -= rb
        dest = _stable_partition_dest(left, g[left] - rb)
        cur[dest], jj[dest] = cur.copy(), jj.copy()
    return jj, cur


def _slots_to_positions(slots: np.ndarray, j: np.ndarray, K: int, W: int) -> tuple:
    """Decoder: inverse of :func:`_positions_to_slots`; inputs sorted by (rank, slot).
    ``W > max position`` separates the nodes in the composite search keys."""
    cur, jj = slots.astype(np.int64), j.astype(np.int64)
    g = np.arange(cur.size)
    for lvl in range(_n_levels(K)):
        right, parent, before_parent, right_before = _level_counts(jj, lvl)
        if not right.any():
            continue
        left = ~right
        base = parent * W
        # for each inserted point: base + number of free slots before it (non-decreasing)
        rkeys = (base + cur - (right_before - before_parent))[right]
        cnt = np.searchsorted(rkeys, (base + cur)[left], "right") - before_parent[left]
        cur[left] += cnt
        dest = _stable_partition_dest(left, g[left] + cnt)
        cur[dest], jj[dest] = cur.copy(), jj.copy()
    return jj, cur


# ---------------------------------------------------------------------------- payloads


def _vsc_payload(v: np.ndarray, sym: np.ndarray, cnt: np.ndarray, rank_of) -> BitWriter:
    d, K = v.size, sym.size
    w = BitWriter()
    w.write_elias_gamma(np.array([K + 1], dtype=np.uint64))
    if K == 0:
        return w
    w.write_elias_gamma(zigzag(sym) + np.uint64(1))
    w.write_elias_gamma(cnt[1:])
    if K == 1:
        return w
    pos = np.flatnonzero(v != sym[0])
    j = rank_of(v[pos]) - 1  # coded rank 0..K-2 (symbol k = j + 2)
    j, slots = _positions_to_slots(pos, j, K)
    # gap stream order: symbols K..2 (j descending), each by slot
    order = np.argsort(K - 2 - j, kind="stable")
    js, ss = j[order], slots[order]
    prev = np.empty_like(ss)
    prev[0] = -1
    prev[1:] = ss[:-1]
    prev[np.flatnonzero(np.diff(js)) + 1] = -1
    g = ss - prev - 1
    nk = cnt[1:]
    M = golomb_parameter(nk, _free_slots(nk, d))
    b, c = _truncated_binary(M)
    Mg, bg, cg = M[js], b[js], c[js]
    q, r = g // Mg, g % Mg
    has_last = (r >= cg) & (Mg > 1)
    prefix = np.where(r < cg, r, (r + cg) >> 1)
    w.write_unary(q)
    w.write_fields(prefix.astype(np.uint64), np.maximum(bg - 1, 0))
    w.write_bits(((r + cg) & 1)[has_last].astype(np.uint8))
    return w


def _raw_width(v: np.ndarray) -> int:
    if v.size == 0:
        return 0
    # zigzag grows with |v|, so the extremes decide the width
    lo, hi = int(v.min()), int(v.max())
    return max(2 * hi if hi >= 0 else -2 * hi - 1, 2 * lo if lo >= 0 else -2 * lo - 1).bit_length()


def _raw_payload(v: np.ndarray) -> BitWriter:
    width = _raw_width(v)
    w = BitWriter()
    w.write_fields(np.array([width], dtype=np.uint64), 8)
    w.write_fields(zigzag(v), width)
    return w


def _seal(kind: int, d: int, payload_bits: int, payload: bytes) -> bytes:
    head = MAGIC + bytes([VERSION, kind]) + write_varint(d) + write_varint(payload_bits)
    crc = zlib.crc32(payload, zlib.crc32(head))
    return head + struct.pack("<I", crc) + payload


# ---------------------------------------------------------------------------- public API


def encode(symbols: np.ndarray) -> bytes:
    """Encode an integer array (any shape, flattened) with values in [-2**31, 2**31]."""
    v = _as_symbols(symbols)
    d = v.size
    sym, cnt, rank_of = _histogram(v)
    raw_bits = 8 + d * _raw_width(v)
    if _expected_payload_bits(d, sym, cnt) <= VSC_BUILD_SLACK * raw_bits:
        w = _vsc_payload(v, sym, cnt, rank_of)
        if w.nbits <= raw_bits:
            return _seal(KIND_VSC, d, w.nbits, w.to_bytes())
    w = _raw_payload(v)
    return _seal(KIND_RAW, d, w.nbits, w.to_bytes())


def _parse_header(buf: bytes) -> tuple[int, int, int, int, int]:
    """-> (version, kind, d, nbits, header length before the CRC)."""
    if len(buf) < 2 or buf[:2] != MAGIC:
        raise DecodeError(f"bad magic {bytes(buf[:2])!r}: not a VSC message (expected {MAGIC!r})")
    if len(buf) < 4:
        raise DecodeError(f"message truncated inside the header ({len(buf)} bytes)")
    version, kind = buf[2], buf[3]
    if version != VERSION:
        raise DecodeError(f"unsupported VSC message version {version} (expected {VERSION})")
    if kind not in KIND_NAMES:
        raise DecodeError(f"unknown VSC message kind {kind}")
    d, pos = read_varint(buf, 4, "size (d)")
    nbits, pos = read_varint(buf, pos, "payload bit count")
    return version, kind, d, nbits, pos


def message_info(data) -> dict:
    """Parse only the header: ``version, kind, kind_name, d, nbits, header_bytes,
    total_bytes`` (the expected total length).  No checksum or payload check."""
    buf = _to_buffer(data)
    version, kind, d, nbits, hlen = _parse_header(buf)
    return {
        "version": version,
        "kind": kind,
        "kind_name": KIND_NAMES[kind],
        "d": d,
        "nbits": nbits,
        "header_bytes": hlen + _CRC_BYTES,
        "total_bytes": hlen + _CRC_BYTES + (nbits + 7) // 8,
    }


def _decode_vsc(r: BitReader, d: int) -> np.ndarray:
    K = int(r.read_elias_gamma(1)[0]) - 1
    if d == 0:
        if K != 0:
            raise DecodeError(f"empty vector declares {K} distinct symbols")
        return np.zeros(0, dtype=np.int64)
    if K < 1 or K > d:
        raise DecodeError(f"{K} distinct symbols is impossible for {d} entries")
    if K * (d + 1) >= 2**62:
        raise DecodeError(f"{K} symbols x {d} entries exceeds this decoder's index range")
    zz = r.read_elias_gamma(K) - np.uint64(1)
    if int(zz.max()) > MAX_ZIGZAG:
        raise DecodeError(f"symbol zigzag value {int(zz.max())} exceeds 2**32")
    sym = unzigzag(zz)
    if np.unique(sym).size != K:
        raise DecodeError("symbol table has duplicate symbols")
    nk_u = r.read_elias_gamma(K - 1)
    if nk_u.size and int(nk_u.max()) > d:
        raise DecodeError(f"a symbol count {int(nk_u.max())} exceeds the size {d}")
    nk = nk_u.astype(np.int64)
    if float(nk.sum(dtype=np.float64)) > 2.0 * d + 1.0:  # before an exact int64 sum
        raise DecodeError(f"symbol counts add up to more than the size {d}")
    rest = int(nk.sum())
    if rest > d - 1:
        raise DecodeError(f"symbol counts add up to {rest}, leaving nothing of {d} for the first")
    cnt = np.concatenate([[d - rest], nk])
    dec = cnt[1:] - cnt[:-1]
    if np.any(dec > 0):
        raise DecodeError("symbol counts are not sorted in decreasing order")
    if np.any((dec == 0) & (sym[1:] <= sym[:-1])):
        raise DecodeError("symbols with equal counts are not sorted by value")
    out_first = int(sym[0])
    if K == 1:
        if r.remaining:
            raise DecodeError(f"{r.remaining} unexpected bits after the symbol table")
        return np.full(d, out_first, dtype=np.int64)

    # supports
    L = _free_slots(nk, d)
    M = golomb_parameter(nk, L)
    b, c = _truncated_binary(M)
    coded = np.arange(K - 2, -1, -1)  # coded ranks j in stream order (symbols K..2)
    G = rest
    q = r.read_unary(G)  # checks G against the remaining bits before anything is allocated
    js = np.repeat(coded, nk[coded])
    Mg, cg, Lg = M[js], c[js], L[js]
    v = r.read_fields(np.maximum(b[js] - 1, 0)).astype(np.int64)
    has_last = (v >= cg) & (Mg > 1)
    last = r.read_bits(int(np.count_nonzero(has_last))).astype(np.int64)
    rem = v.copy()
    rem[has_last] = 2 * v[has_last] + last - cg[has_last]
    if np.any(q > (Lg - 1) // Mg):
        raise DecodeError("a support gap runs past the free slots of its symbol")
    g = q * Mg + rem
    if np.any(g >= Lg):
        raise DecodeError("a support gap runs past the free slots of its symbol")
    if float(g.sum(dtype=np.float64)) + G >= 2.0**62:
        raise DecodeError("support gaps are too large")
    csum = np.cumsum(g + 1)
    seg_end = np.cumsum(nk[coded])
    seg_start = seg_end - nk[coded]
    before = np.concatenate([[0], csum])[seg_start]
    slots = csum - np.repeat(before, nk[coded]) - 1
    if np.any(slots >= Lg):
        raise DecodeError("a symbol occurrence lies beyond its free slots")
    if r.remaining:
        raise DecodeError(f"{r.remaining} unexpected bits after the supports")
    order = np.argsort(js, kind="stable")  # by (rank, slot)
    jj, pos = _slots_to_positions(slots[order], js[order], K, d + 1)
    if pos.size and (pos.min() < 0 or pos.max() >= d):  # cannot happen for valid slots
        raise DecodeError("support positions out of range")
    out = np.full(d, out_first, dtype=np.int64)
    out[pos] = sym[jj + 1]
    return out


def _decode_raw(r: BitReader, d: int) -> np.ndarray:
    width = int(r.read_fields(np.array([8]))[0])
    if width > MAX_RAW_WIDTH:
        raise DecodeError(f"raw field width {width} exceeds {MAX_RAW_WIDTH}")
    if d * width != r.remaining:
        raise DecodeError(
            f"raw payload needs {d * width} bits for {d} fields of {width} bits "
            f"but {r.remaining} remain"
        )
    zz = r.read_fields(np.full(d, width, dtype=np.int64))
    if zz.size and int(zz.max()) > MAX_ZIGZAG:
        raise DecodeError(f"raw zigzag value {int(zz.max())} exceeds 2**32")
    return unzigzag(zz)


def _decode_strict(data, expected_size: int | None, max_entries: int) -> np.ndarray:
    buf = _to_buffer(data)
    _, kind, d, nbits, hlen = _parse_header(buf)
    if d > max_entries:
        raise DecodeError(f"message declares {d} entries, more than max_entries={max_entries}")
    if expected_size is not None and d != expected_size:
        raise DecodeError(f"message declares {d} entries, expected {expected_size}")
    nbytes = (nbits + 7) // 8
    expected_len = hlen + _CRC_BYTES + nbytes
    if len(buf) != expected_len:
        how = "truncated" if len(buf) < expected_len else "trailing bytes"
        raise DecodeError(
            f"message length mismatch ({how}): expected {expected_len} bytes, got {len(buf)}"
        )
    (crc,) = struct.unpack_from("<I", buf, hlen)
    payload = buf[hlen + _CRC_BYTES:]
    if crc != zlib.crc32(payload, zlib.crc32(buf[:hlen])):
        raise DecodeError("checksum mismatch: the message is corrupted")
    if nbits % 8 and payload[-1] & ((1 << (8 - nbits % 8)) - 1):
        raise DecodeError("nonzero padding bits after the payload")
    r = BitReader(payload, nbits)
    if kind == KIND_VSC:
        out = _decode_vsc(r, d)
    else:
        out = _decode_raw(r, d)
    if r.remaining:
        raise DecodeError(f"{r.remaining} unexpected bits after the payload")
    return out


def decode(
    data: bytes | np.ndarray,
    *,
    expected_size: int | None = None,
    max_entries: int = 2**28,
) -> np.ndarray:
    """Decode a message from :func:`encode` into a 1-D int64 array.

    Raises :class:`DecodeError` (only) for anything malformed.  The declared size ``d`` is
    refused before any allocation if it exceeds ``max_entries`` or differs from
    ``expected_size``; nothing larger than ``d`` entries is ever allocated.
    """
    try:
        return _decode_strict(data, expected_size, max_entries)
    except DecodeError:
        raise
    except (ValueError, IndexError, OverflowError, TypeError, ZeroDivisionError) as exc:
        # Safety net only: the checks above are meant to make this unreachable (the
        # tests fuzz _decode_strict directly to prove it).
        raise DecodeError(f"malformed message ({type(exc).__name__}: {exc})") from exc


def encode_packed(symbols: np.ndarray) -> bytes:
    """Fixed-width bit packing of the zigzag symbols (the RAW kind, never VSC): the rate a
    coder-less implementation pays, e.g. CHOCO-SGD's QSGD as its authors count it."""
    v = _as_symbols(symbols)
    w = _raw_payload(v)
    return _seal(KIND_RAW, v.size, w.nbits, w.to_bytes())
