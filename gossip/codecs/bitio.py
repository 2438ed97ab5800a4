"""Vectorised bit-level I/O.

Bits are handled as ``uint8`` arrays holding 0/1, one byte per bit, and packed MSB-first
with :func:`numpy.packbits` at the end.  Every primitive works on a whole batch of values
at once; there is no Python loop per value (large field batches are converted
in chunks of 65536 fields to bound temporary memory).

Batch layouts (they are what make vectorised decoding possible):

* unary: ``q`` ones then a zero, for each value in turn;
* fields: each value MSB-first in its own width, concatenated;
* Elias-gamma of a batch ``m_1..m_n`` (``m >= 1``, ``N = floor(log2 m)``): first every ``N``
  in unary (``N + 1`` bits each), then the ``N`` low bits of every ``m`` as fields (the
  leading one is implicit).  Same bit count as textbook gamma, ``2N + 1`` per value.

:class:`BitReader` checks bounds before every read and raises
:class:`~gossip.codecs.DecodeError` on overrun; it never allocates more than a small
multiple of the bits that are actually present in the stream.
"""

from __future__ import annotations

import numpy as np

from . import DecodeError

__all__ = ["BitWriter", "BitReader", "bit_length", "MAX_GAMMA_EXPONENT", "read_varint",
           "unzigzag", "write_varint", "zigzag"]

#: Largest gamma exponent ``N`` accepted on read (values then fit in uint64).
MAX_GAMMA_EXPONENT = 63

_U64 = np.uint64
_ONE = np.uint64(1)
_MAX_VARINT_BYTES = 10
_VARINT_LIMIT = 2**63


def write_varint(n: int) -> bytes:
    """Unsigned LEB128 (7 bits a byte, low first), the varint of every frame header."""
    if n < 0:
        raise ValueError("LEB128 needs a non-negative integer")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(buf: bytes, pos: int, what: str) -> tuple[int, int]:
    """(value, next position); a DecodeError names ``what`` if the varint is truncated, not
    minimal, longer than 10 bytes or not below 2**63."""
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= len(buf):
            raise DecodeError(f"message truncated inside the {what} varint")
        b = buf[pos + i]
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            if i > 0 and b == 0:
                raise DecodeError(f"{what} varint is not minimally encoded")
            if value >= _VARINT_LIMIT:
                raise DecodeError(f"{what} varint value {value} is not below 2**63")
            return value, pos + i + 1
    raise DecodeError(f"{what} varint is longer than {_MAX_VARINT_BYTES} bytes")


def zigzag(v: np.ndarray) -> np.ndarray:
    """Signed → unsigned: 0, -1, 1, -2, ... → 0, 1, 2, 3, ..."""
    v = v.astype(np.int64)
    return ((v << 1) ^ (v >> 63)).astype(np.uint64)


def unzigzag(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.uint64)
    return ((z >> np.uint64(1)).astype(np.int64)) ^ (-(z & np.uint64(1)).astype(np.int64))


def bit_length(x) -> np.ndarray:
    """Vectorised ``int.bit_length`` for non-negative integers (< 2**64), as int64."""
    x = np.array(x, dtype=np.uint64, copy=True)
    n = np.zeros(x.shape, dtype=np.int64)
    for s in (32, 16, 8, 4, 2, 1):
        big = x >= (_ONE << _U64(s))
        n += s * big
        x = np.where(big, x >> _U64(s), x)
    n += x > 0
    return n


def _container(width: int):
    """Smallest big-endian unsigned dtype holding ``width`` bits, and its bit size."""
    for bits, dt in ((8, ">u1"), (16, ">u2"), (32, ">u4"), (64, ">u8")):
        if width <= bits:
            return np.dtype(dt), bits
    raise ValueError(f"field width {width} exceeds 64")


#: Field batches are converted this many fields at a time, which bounds the temporary
#: memory to 64 bytes per field of one chunk.
_FIELD_CHUNK = 1 << 16


def _left_aligned_bits(values: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Non-uniform widths: left-align each value in a word, unpack, keep each row's
    first ``w`` bits (a boolean mask taken in row-major order is the concatenation)."""
    maxw = int(widths.max())
    if maxw == 0:
        return np.zeros(0, dtype=np.uint8)
    dt, cbits = _container(maxw)
    shift = np.where(widths > 0, cbits - widths, 0).astype(np.uint64)
    words = (values << shift).astype(dt)
    bits = np.unpackbits(words.view(np.uint8).reshape(-1, cbits // 8), axis=1)
    return bits[np.arange(cbits) < widths[:, None]]


def _left_aligned_fields(bits: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_left_aligned_bits`; ``bits`` holds exactly ``sum(widths)`` bits."""
    maxw = int(widths.max())
    if maxw == 0:
        return np.zeros(widths.size, dtype=np.uint64)
    dt, cbits = _container(maxw)
    full = np.zeros((widths.size, cbits), dtype=np.uint8)
    full[np.arange(cbits) < widths[:, None]] = bits
    words = np.packbits(full, axis=1).view(dt).reshape(-1).astype(np.uint64)
    shift = np.where(widths > 0, cbits - widths, 0).astype(np.uint64)
    return words >> shift


def _chunk_to_bits(values: np.ndarray, widths: np.ndarray) -> np.ndarray:
    w0 = int(widths[0])
    if not np.all(widths == w0):
        return _left_aligned_bits(values, widths)
    if w0 == 0:
        return np.zeros(0, dtype=np.uint8)
    dt, cbits = _container(w0)
    packed = values.astype(dt).view(np.uint8).reshape(-1, cbits // 8)
    return np.ascontiguousarray(np.unpackbits(packed, axis=1)[:, cbits - w0:]).reshape(-1)


def _chunk_to_fields(bits: np.ndarray, widths: np.ndarray) -> np.ndarray:
    w0 = int(widths[0])
    if not np.all(widths == w0):
        return _left_aligned_fields(bits, widths)
    if w0 == 0:
        return np.zeros(widths.size, dtype=np.uint64)
    dt, cbits = _container(w0)
    full = np.zeros((widths.size, cbits), dtype=np.uint8)
    full[:, cbits - w0:] = bits.reshape(-1, w0)
    return np.packbits(full, axis=1).view(dt).reshape(-1).astype(np.uint64)


def _fields_to_bits(values: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """MSB-first bits of every value in its width, concatenated (uint8 0/1 array)."""
    parts = [_chunk_to_bits(values[i:i + _FIELD_CHUNK], widths[i:i + _FIELD_CHUNK])
             for i in range(0, values.size, _FIELD_CHUNK)]
    if len(parts) <= 1:
        return parts[0] if parts else np.zeros(0, dtype=np.uint8)
    return np.concatenate(parts)


def _bits_to_fields(bits: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_fields_to_bits`; ``bits`` holds exactly ``sum(widths)`` bits."""
    n = widths.size
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    if n <= _FIELD_CHUNK:
        return _chunk_to_fields(bits, widths)
    out = np.empty(n, dtype=np.uint64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(widths, out=offsets[1:])
    for i in range(0, n, _FIELD_CHUNK):
        j = min(i + _FIELD_CHUNK, n)
        out[i:j] = _chunk_to_fields(bits[offsets[i]:offsets[j]], widths[i:j])
    return out


class BitWriter:
    """Collects chunks of 0/1 bits; :meth:`to_bytes` packs them MSB-first."""

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        self._nbits = 0

    @property
    def nbits(self) -> int:
        return self._nbits

    def _append(self, bits: np.ndarray) -> None:
        if bits.size:
            self._chunks.append(bits)
            self._nbits += int(bits.size)

    def write_bits(self, bits) -> None:
        b = np.asarray(bits).reshape(-1)
        if b.size and (b.min() < 0 or b.max() > 1):
            raise ValueError("write_bits expects 0/1 values")
        self._append(b.astype(np.uint8))

    def write_unary(self, q) -> None:
        """Each ``q`` as ``q`` ones followed by a zero."""
        q = np.asarray(q).reshape(-1)
        if q.size == 0:
            return
        if not np.issubdtype(q.dtype, np.integer) or q.min() < 0:
            raise ValueError("write_unary expects non-negative integers")
        q = q.astype(np.int64)
        ends = np.cumsum(q + 1)
        bits = np.ones(int(ends[-1]), dtype=np.uint8)
        bits[ends - 1] = 0
        self._append(bits)

    def write_fields(self, values, widths) -> None:
        """Each value MSB-first in its own width (0..64 bits); values must fit."""
        values = np.asarray(values).reshape(-1)
        if values.size and np.issubdtype(values.dtype, np.signedinteger) and values.min() < 0:
            raise ValueError("write_fields expects non-negative values")
        values = values.astype(np.uint64)
        widths = np.asarray(widths, dtype=np.int64)
        if widths.ndim == 0:
            widths = np.full(values.shape, int(widths), dtype=np.int64)
        widths = widths.reshape(-1)
        if widths.shape != values.shape:
            raise ValueError("write_fields: values and widths differ in length")
        if values.size == 0:
            return
        if widths.min() < 0 or widths.max() > 64:
            raise ValueError("write_fields: widths must be within 0..64")
        small = widths < 64
        if np.any(values[small] >> widths[small].astype(np.uint64)):
            raise ValueError("write_fields: a value does not fit in its width")
        self._append(_fields_to_bits(values, widths))

    def write_elias_gamma(self, m) -> None:
        """Batch Elias-gamma (see module docstring) of integers ``m >= 1``."""
        m = np.asarray(m).reshape(-1)
        if m.size == 0:
            return
        if np.issubdtype(m.dtype, np.signedinteger) and m.min() < 1:
            raise ValueError("Elias-gamma needs integers >= 1")
        m = m.astype(np.uint64)
        if np.any(m == 0):
            raise ValueError("Elias-gamma needs integers >= 1")
        N = bit_length(m) - 1
        self.write_unary(N)
        self.write_fields(m & ((_ONE << N.astype(np.uint64)) - _ONE), N)

    def bits(self) -> np.ndarray:
        if not self._chunks:
            return np.zeros(0, dtype=np.uint8)
        return np.concatenate(self._chunks)

    def to_bytes(self) -> bytes:
        return np.packbits(self.bits()).tobytes()


class BitReader:
    """Bounds-checked reader over the first ``nbits`` bits (MSB-first) of a byte buffer."""

    def __init__(self, data, nbits: int | None = None) -> None:
        if isinstance(data, np.ndarray):
            if data.dtype != np.uint8:
                raise DecodeError(f"bit reader expects uint8 data, got {data.dtype}")
            buf = data.reshape(-1)
        else:
            buf = np.frombuffer(bytes(data), dtype=np.uint8)
        avail = 8 * buf.size
        if nbits is None:
            nbits = avail
        nbits = int(nbits)
        if nbits < 0 or nbits > avail:
            raise DecodeError(f"bit stream declares {nbits} bits but only {avail} are present")
        self._bits = np.unpackbits(buf, count=nbits) if nbits else np.zeros(0, np.uint8)
        self._nbits = nbits
        self._pos = 0

    @property
    def nbits(self) -> int:
        return self._nbits

    @property
    def position(self) -> int:
        return self._pos

    @property
    def remaining(self) -> int:
        return self._nbits - self._pos

    def _need(self, n: int, what: str) -> None:
        if n < 0:
            raise DecodeError(f"{what}: negative bit count {n}")
        if n > self.remaining:
            raise DecodeError(
                f"{what} needs {n} bits but only {self.remaining} remain "
                f"(at bit {self._pos} of {self._nbits})"
            )

    def read_bits(self, n: int) -> np.ndarray:
        n = int(n)
        self._need(n, "read_bits")
        out = self._bits[self._pos:self._pos + n]
        self._pos += n
        return out

    def read_unary(self, count: int) -> np.ndarray:
        """``count`` unary codes (ones terminated by a zero) -> int64 array of the ones."""
        count = int(count)
        # every code takes at least one bit: refuse absurd counts before allocating
        self._need(count, f"read_unary of {count} codes")
        if count == 0:
            return np.zeros(0, dtype=np.int64)
        start, rem = self._pos, self.remaining
        # Search a window that grows geometrically, so memory stays proportional to
        # the bits the codes really span rather than to the whole stream.
        span = min(rem, 4 * count + 64)
        while True:
            zeros = np.flatnonzero(self._bits[start:start + span] == 0)
            if zeros.size >= count or span == rem:
                break
            span = min(rem, 2 * span)
        if zeros.size < count:
            raise DecodeError(
                f"read_unary needs {count} unary codes but only {zeros.size} terminators "
                f"remain in the last {rem} bits"
            )
        zeros = zeros[:count]
        q = np.diff(zeros, prepend=-1) - 1
        self._pos = start + int(zeros[-1]) + 1
        return q.astype(np.int64)

    def read_fields(self, widths) -> np.ndarray:
        """Fields of the given widths (0..64 each), MSB-first -> uint64 array."""
        widths = np.asarray(widths, dtype=np.int64).reshape(-1)
        if widths.size == 0:
            return np.zeros(0, dtype=np.uint64)
        if widths.min() < 0 or widths.max() > 64:
            raise DecodeError("read_fields: field widths must be within 0..64")
        total = int(widths.sum())
        self._need(total, f"read_fields of {widths.size} fields")
        bits = self._bits[self._pos:self._pos + total]
        out = _bits_to_fields(bits, widths)
        self._pos += total
        return out

    def read_elias_gamma(self, count: int) -> np.ndarray:
        """``count`` batch Elias-gamma codes -> uint64 array of values >= 1."""
        N = self.read_unary(count)
        if N.size and int(N.max()) > MAX_GAMMA_EXPONENT:
            raise DecodeError(
                f"Elias-gamma exponent {int(N.max())} exceeds {MAX_GAMMA_EXPONENT}"
            )
        low = self.read_fields(N)
        return (_ONE << N.astype(np.uint64)) | low
