"""Compiled twin of :mod:`gossip.codecs.vsc` (numba): same messages, byte for byte.

:func:`encode` returns exactly the bytes of ``gossip.codecs.vsc.encode`` and :func:`decode`
accepts exactly the messages ``gossip.codecs.vsc.decode`` accepts, with the same values; both
raise only :class:`~gossip.codecs.DecodeError` for anything malformed.  What differs is how:

* symbols stay in their own dtype (int8/int16/int32/... are read in place, never widened to
  int64), and :func:`decode` writes straight into an int8 (by default, when the symbols fit)
  output: no int64 vector, no bit-per-byte arrays, no per-level temporaries;
* up to ``WALK_MAX_J`` (64) coded symbols (any quantizer with at most 32 levels), both
  directions walk a bitmap of taken positions symbol by symbol in stream order
  (:mod:`.vsc_walk` to encode, :mod:`.vsc_wdec` to decode: one cursor per sub-stream,
  popcount and ``pdep`` per 64-bit word, ``O(J d / 64 + G)``), or, with at most one coded
  occurrence per 64 entries, get the slots from the coded positions directly (:mod:`.vsc_sparse`: one pass to encode, a branch-free
  merge per symbol to decode); the encoder reads the symbols once for quantizer-like int8
  (a compiled min/max, then the histogram, occurrence bitmaps and coded positions in one
  pass), else twice (a histogram, int8 zero words counted eight at a time, then the
  bitmaps), and every buffer of more than ``O(K)`` bytes is numpy, so memory tracing sees
  it; the usual calls cross into numba with one array for the plan or table
  (:mod:`.vsc_packed`);
* above that, the encoder (:mod:`.vsc_enc`) makes one support pass over 64-entry masks of
  the entries that differ from the first symbol, a Fenwick tree counting the rarer
  occurrences, writing every Golomb code into per-symbol scratch regions that are then
  concatenated in stream order; the decoder (:mod:`.vsc_dec`) emits the occurrences in
  position order: symbol ``k``'s next occurrence is at ``E_k`` (its remaining free-slot gap
  shifted by rarer symbols placed before it), the smallest ``E_k`` wins, ties go to the
  rarer symbol (a segment tree with range add), so the work is ``O(d + G log K)``.

Bit identity of the floating-point decisions.  The Golomb parameter and the closed-form
size estimate involve ``log``/``log1p``/``expm1``, whose last bits may differ between numba
(libm) and numpy (SIMD).  The kernels compute them and flag any value within 1e-9 (relative)
of a decision boundary (``ceil`` of the Golomb ratio, the VSC-vs-RAW estimate test); flagged
cases are recomputed with the numpy reference functions, so every decision is numpy's.

Header parsing and the CRC (``zlib.crc32``) stay in Python; all per-entry work is compiled.
"""


from __future__ import annotations

import struct
import sys
import zlib

import numpy as np

from ..codecs import DecodeError
from ..codecs import vsc as ref
from ..codecs.bitio import write_varint
from .vsc_bits import _EPS, _LIMIT, _words
from .vsc_dec import _ERRORS, _raw_decode, _supports_decode
from .vsc_packed import plan8_packed, table_packed, walk8, walk_decode_packed
from .vsc_enc import raw_write, table_bits, vsc_payload
from .vsc_plan import _analyse, _analyse8, _minmax8
from .vsc_sparse import sparse_capacity, sparse_scratch
from .vsc_walk import GROUP, WALK_MAX_J, scratch_words, walk_encode

__all__ = ["encode", "decode", "DecodeError"]


# ----------------------------------------------------------------------------- encoder

_NONE = np.zeros(0, np.int64)  # an absent int64 array argument of a kernel (never written)


def walk_payload(v, sym, cnt, lut, vmin, vals, ranks, M, b, c, R=None, pos=_NONE):
    """:func:`walk_encode` with its scratch (numpy, so memory tracing sees it) -> (nbits,
    payload words).  ``R``: the value bitmaps of :func:`rows8` (``sym[0] == 0``) or None;
    ``pos``: the coded positions :func:`rows8` recorded (all of them when there are at most
    ``pos.size``: then the sparse walk)."""
    pre = R is not None
    S = np.zeros(sum(scratch_words(v.size, cnt, M, b, pre)), np.uint64)
    G = v.size - int(cnt[0])
    Q = np.empty(G if pre and G <= pos.size else 0, np.int64)
    return walk_encode(v, lut, vmin, vals, ranks, sym, cnt, M, b, c, S,
                       R if pre else S[:0].reshape((0, 1)), Q, pos)


def _vsc_message(d: int, nbits: int, W: np.ndarray) -> bytes:
    """Header, CRC and the payload of ``nbits`` bits in the MSB-first words ``W``."""
    if _LITTLE:  # MSB-first words -> the payload's (big-endian) byte order
        W.byteswap(inplace=True)
    payload = memoryview(W.view(np.uint8))[:(nbits + 7) // 8]
    head = _VSC_HEAD + _leb128(d) + _leb128(nbits)
    crc = zlib.crc32(payload, zlib.crc32(head))
    return b"".join((head, struct.pack("<I", crc), payload))


_VSC_HEAD = ref.MAGIC + bytes((ref.VERSION, ref.KIND_VSC))


def _leb128(n: int) -> bytes:
    """``write_varint``, without its loop for the usual sizes (below 2**21)."""
    if n < 0x80:
        return bytes((n,))
    if n < 0x4000:
        return bytes((n & 0x7F | 0x80, n >> 7))
    if n < 0x200000:
        return bytes((n & 0x7F | 0x80, n >> 7 & 0x7F | 0x80, n >> 14))
    return write_varint(n)


def _varint(head: bytes, pos: int) -> tuple[int, int]:
    """A minimal varint of at most 3 bytes at ``pos`` -> (value, next position), else
    (-1, pos): the caller then takes the reference parser, which names what is wrong."""
    n = len(head)
    if pos < n and head[pos] < 0x80:
        return head[pos], pos + 1
    if pos + 1 < n and 0 < head[pos + 1] < 0x80:
        return head[pos] & 0x7F | head[pos + 1] << 7, pos + 2
    if pos + 2 < n and head[pos + 1] >= 0x80 and 0 < head[pos + 2] < 0x80:
        return head[pos] & 0x7F | (head[pos + 1] & 0x7F) << 7 | head[pos + 2] << 14, pos + 3
    return -1, pos


def _parse_header(head: bytes) -> tuple[int, int, int, int]:
    """``ref._parse_header`` (-> kind, d, nbits, header length), its loops skipped for a
    well-formed header with sizes below 2**21; anything else goes to the reference."""
    if head[:2] == ref.MAGIC and len(head) >= 4 and head[2] == ref.VERSION \
            and head[3] in ref.KIND_NAMES:
        d, pos = _varint(head, 4)
        if d >= 0:
            nbits, pos = _varint(head, pos)
            if nbits >= 0:
                return head[3], d, nbits, pos
    _, kind, d, nbits, hlen = ref._parse_header(head)
    return kind, d, nbits, hlen


_EMPTY = ref.encode(np.zeros(0, np.int64))
_LITTLE = sys.byteorder == "little"


_FAST = (np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.int64))


def _as_symbols(symbols) -> np.ndarray:
    """Flat, native-order integer array in its own dtype (bools as uint8 0/1)."""
    if type(symbols) is np.ndarray and symbols.dtype in _FAST and symbols.flags.c_contiguous:
        return symbols.reshape(-1)  # the usual case (quantizer output): nothing to check
    a = np.asarray(symbols)
    if a.dtype == np.bool_:
        a = a.view(np.uint8)
    if not np.issubdtype(a.dtype, np.integer):
        if a.size == 0:
            return a.astype(np.int64)  # [] is float64 in numpy
        raise TypeError(f"VSC encodes integer arrays, got dtype {a.dtype}")
    a = a.reshape(-1)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    if a.dtype == np.uint64:
        if a.size and int(a.max()) > _LIMIT:
            bad = a[a > _LIMIT][0]
            raise ValueError(f"symbol value {int(bad)} is outside the encodable range "
                             f"[-2**31, 2**31]")
        a = a.astype(np.int64)
    return np.ascontiguousarray(a)


def _seal(kind: int, d: int, nbits: int, buf: np.ndarray, hlen: int, head: bytes) -> bytes:
    buf[:hlen] = np.frombuffer(head, np.uint8)
    crc = zlib.crc32(buf[hlen + 4:], zlib.crc32(head))
    buf[hlen:hlen + 4] = np.frombuffer(struct.pack("<I", crc), np.uint8)
    return buf.tobytes()


def _message(kind: int, d: int, nbits: int):
    head = b"GV" + bytes((ref.VERSION, kind)) + _leb128(d) + _leb128(nbits)
    hlen = len(head)
    buf = np.zeros(hlen + 4 + (nbits + 7) // 8, np.uint8)
    return head, hlen, buf


def encode(symbols) -> bytes:
    """Encode an integer array (any shape, flattened) with values in [-2**31, 2**31]:
    the same bytes as :func:`gossip.codecs.vsc.encode`, without widening the symbols."""
    return encode_counted(symbols)[0]


def encode_counted(symbols, walk: int | None = None) -> tuple[bytes, np.ndarray]:
    """:func:`encode`, plus the symbol counts of the histogram it built (int64, count desc,
    value asc), as :func:`gossip.codecs.vsc.encode_counted`; ``walk``: the most coded symbols
    for the bitmap-walk encoder (default ``WALK_MAX_J``; more take the one-pass encoder of
    :mod:`.vsc_enc`)."""
    walk = WALK_MAX_J if walk is None else walk
    v = _as_symbols(symbols)
    d = v.size
    if d == 0:
        return _EMPTY, np.zeros(0, np.int64)
    R, pos = None, _NONE
    if v.dtype == np.int8:
        lo, hi = _minmax8(v)
        if lo <= 0 <= hi and 0 < hi - lo <= GROUP:  # quantizer-like: one pass, see rows8
            R = np.zeros((hi - lo, (d + 63) // 64), np.uint64)
            pos = np.empty(sparse_capacity(d), np.int64)
            code, vmin, vmax = 0, lo, hi
            T, K, flag, est, sw = plan8_packed(v, lo, R, pos)
            width = max(2 * hi, -2 * lo - 1).bit_length()
            raw_bits = 8 + d * width
            thr = ref.VSC_BUILD_SLACK * raw_bits
            if (not flag and est <= thr and abs(est - thr) > _EPS * thr and 2 <= K <= walk + 1
                    and T[0, 0] == 0):  # the usual case, decided as below, in fewer calls
                G = d - int(T[1, 0])
                nbits, W = walk8(v, T, K, lo, np.zeros(sw, np.uint64), R,
                                 np.empty(G if G <= pos.size else 0, np.int64), pos)
                if nbits <= raw_bits:
                    return _vsc_message(d, nbits, W), T[1, :K]
            sym, cnt, M, b, c, L = T[0, :K], T[1, :K], T[2, :K - 1], T[3, :K - 1], \
                T[4, :K - 1], T[5, :K - 1]
            lut, vals, ranks = T[6], _NONE, _NONE
            if sym[0] != 0:  # 0 has no bitmap there: free R, walk_payload builds its own
                R = None
        else:
            (code, vmin, vmax, sym, cnt, lut, vals, ranks, M, b, c, L, flag,
             est) = _analyse8(v, v[:d - d % 8].view(np.uint64))
    else:
        (code, vmin, vmax, sym, cnt, lut, vals, ranks, M, b, c, L, flag, est) = _analyse(v)
    if code:
        bad = v[(v < -_LIMIT) | (v > _LIMIT)][0]
        raise ValueError(f"symbol value {int(bad)} is outside the encodable range "
                         f"[-2**31, 2**31]")
    width = max(2 * vmax if vmax >= 0 else -2 * vmax - 1,
                2 * vmin if vmin >= 0 else -2 * vmin - 1).bit_length()
    raw_bits = 8 + d * width
    thr = ref.VSC_BUILD_SLACK * raw_bits
    if flag:  # a Golomb ratio near an integer: take numpy's parameters and estimate
        M = ref.golomb_parameter(cnt[1:], L)
        b, c = ref._truncated_binary(M)
        b, c = np.ascontiguousarray(b, np.int64), np.ascontiguousarray(c, np.int64)
        est = ref._expected_payload_bits(d, sym, cnt)
    elif abs(est - thr) <= _EPS * thr:
        est = ref._expected_payload_bits(d, sym, cnt)
    if est <= thr:
        if sym.size == 1:
            nbits, W = table_bits(sym, cnt)
        elif sym.size - 1 <= walk:
            nbits, W = walk_payload(v, sym, cnt, lut, vmin, vals, ranks, M, b, c, R, pos)
        else:
            nbits, W = vsc_payload(v, sym, cnt, lut, vmin, vals, ranks, M, b, c, L)
        if nbits <= raw_bits:
            return _vsc_message(d, nbits, W), cnt
    head, hlen, buf = _message(ref.KIND_RAW, d, raw_bits)
    raw_write(v, buf[hlen + 4:], width)
    return _seal(ref.KIND_RAW, d, raw_bits, buf, hlen, head), cnt


_DTYPES = {np.dtype(t): (int(np.iinfo(t).min), int(np.iinfo(t).max))
           for t in (np.int8, np.int16, np.int32, np.int64)}
_NARROW = [(np.dtype(t), int(np.iinfo(t).min), int(np.iinfo(t).max))
           for t in (np.int8, np.int16, np.int32, np.int64)]


def _pick_dtype(dtype, lo: int, hi: int) -> np.dtype:
    if dtype is None:
        for dt, a, b in _NARROW:
            if a <= lo and hi <= b:
                return dt
        return np.dtype(np.int64)
    dt = np.dtype(dtype)
    a, b = _DTYPES[dt]
    if lo < a or hi > b:
        raise DecodeError(f"symbols in [{lo}, {hi}] do not fit the requested dtype {dt}")
    return dt


def _as_u8(data) -> np.ndarray:
    if isinstance(data, bytes):
        return np.frombuffer(data, np.uint8)
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise DecodeError(f"expected a uint8 array or bytes, got an array of {data.dtype}")
        return np.ascontiguousarray(data).reshape(-1)
    if isinstance(data, (bytearray, memoryview)):
        mv = memoryview(data)
        if not mv.c_contiguous:
            return np.frombuffer(mv.tobytes(), np.uint8)
        return np.frombuffer(mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv, np.uint8)
    raise DecodeError(f"expected bytes or a uint8 array, got {type(data).__name__}")


def _fail(code: int):
    raise DecodeError(_ERRORS[code])


def _decode_strict(data, expected_size, max_entries, dtype, walk=WALK_MAX_J) -> np.ndarray:
    """``walk``: the most coded symbols for the bitmap-walk decoder (the segment-tree
    decoder above)."""
    if dtype is not None and np.dtype(dtype) not in _DTYPES:
        raise ValueError(f"dtype must be one of int8, int16, int32, int64, got {dtype}")
    buf = _as_u8(data)
    n = buf.size
    head = buf[:24].tobytes()
    kind, d, nbits, hlen = _parse_header(head)
    if d > max_entries:
        raise DecodeError(f"message declares {d} entries, more than max_entries={max_entries}")
    if expected_size is not None and d != expected_size:
        raise DecodeError(f"message declares {d} entries, expected {expected_size}")
    expected_len = hlen + 4 + (nbits + 7) // 8
    if n != expected_len:
        how = "truncated" if n < expected_len else "trailing bytes"
        raise DecodeError(
            f"message length mismatch ({how}): expected {expected_len} bytes, got {n}")
    payload = buf[hlen + 4:]
    (crc,) = struct.unpack_from("<I", head, hlen) if hlen + 4 <= 24 else \
        struct.unpack("<I", buf[hlen:hlen + 4].tobytes())
    if crc != zlib.crc32(payload, zlib.crc32(head[:hlen])):
        raise DecodeError("checksum mismatch: the message is corrupted")
    if nbits % 8 and int(payload[-1]) & ((1 << (8 - nbits % 8)) - 1):
        raise DecodeError("nonzero padding bits after the payload")
    if kind == ref.KIND_RAW:
        if nbits < 8:
            raise DecodeError("raw payload truncated inside the width byte")
        width = int(payload[0])
        if width > ref.MAX_RAW_WIDTH:
            raise DecodeError(f"raw field width {width} exceeds {ref.MAX_RAW_WIDTH}")
        if d * width != nbits - 8:
            raise DecodeError(f"raw payload needs {d * width} bits for {d} fields of "
                              f"{width} bits but {nbits - 8} remain")
        if width == 0:
            lo = hi = 0
        else:  # the widest values a width allows (a zigzag of 2**32 is refused below)
            lo, hi = -(1 << (min(width, 33) - 1)), (1 << (min(width, 33) - 1)) - 1
            hi = min(hi, _LIMIT)
            if width == 33:
                hi = _LIMIT
        if dtype is None:
            dt = _pick_dtype(None, lo, hi)
            blo, bhi = _DTYPES[dt]
        else:
            dt = np.dtype(dtype)
            blo, bhi = _DTYPES[dt]
        out = np.empty(d, dt)
        code = _raw_decode(_words(payload), d, width, out, blo, bhi)
        if code:
            _fail(code)
        return out
    words = _words(payload)
    code, pos, flag, T, K, lo, hi, G = table_packed(words, nbits, d)
    if code:
        _fail(code)
    if d == 0:
        if pos != nbits:
            raise DecodeError(f"{nbits - pos} unexpected bits after the payload")
        return np.zeros(0, _pick_dtype(dtype, 0, 0))
    dt = _pick_dtype(dtype, lo, hi)
    if K == 1:
        return np.full(d, lo, dt)
    if flag:  # a Golomb ratio near an integer: numpy's parameters, into the table
        M = ref.golomb_parameter(T[1, 1:K], T[5, :K - 1])
        T[2, :K - 1] = M
        T[3, :K - 1], T[4, :K - 1] = ref._truncated_binary(M)
    out = np.empty(d, dt)
    if K - 1 <= walk:  # one call with the table as one array (see .vsc_packed)
        Q = sparse_scratch(d, G, 4)  # G: checked against the payload's length first
        code = walk_decode_packed(words, nbits, pos, T, K, out,
                                  np.zeros(2 if Q.size else (d + 63) // 64 * 2 + 2, np.uint64), Q)
    else:
        code = _supports_decode(words, nbits, pos, T[0, :K], T[1, :K], T[2, :K - 1],
                                T[3, :K - 1], T[4, :K - 1], T[5, :K - 1], out)
    if code:
        _fail(code)
    return out


def decode(data, *, max_entries: int | None = None, expected_size: int | None = None,
           dtype=None) -> np.ndarray:
    """Decode a VSC message into a 1-D integer array; the values of
    :func:`gossip.codecs.vsc.decode`, which accepts exactly the same messages.

    ``dtype``: None (default) gives the narrowest of int8/int16/int32/int64 holding the
    message's symbols (int8 for quantizer output: the symbol table, or the RAW field
    width, decides before anything is allocated); an explicit int dtype is used as is and a
    symbol outside its range is a DecodeError.  ``max_entries`` (None: 2**28, the
    reference default) and ``expected_size`` are checked before any allocation.
    Raises :class:`DecodeError` (only) for anything malformed.
    """
    if max_entries is None:
        max_entries = 2**28
    try:
        return _decode_strict(data, expected_size, max_entries, dtype)
    except DecodeError:
        raise
    except (IndexError, OverflowError, TypeError, ZeroDivisionError, struct.error) as exc:
        # safety net only; the tests fuzz _decode_strict directly to show it is unused
        raise DecodeError(f"malformed message ({type(exc).__name__}: {exc})") from exc
