"""Codecs for the other representations: ``raw`` (dense float32) and ``sparse`` (indices in
⌈log2 d⌉ bits each plus float32 values).  Both frames end with a CRC32 of everything before it,
so truncation, corruption and forgery are DecodeErrors.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from ..compressors.sparse import Dense, Sparse
from . import DecodeError
from .bitio import BitReader, BitWriter
from .vsc import _leb128, _read_leb128

VERSION = 1


def _seal(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def _unseal(data: bytes, magic: bytes, what: str) -> tuple[bytes, int]:
    data = bytes(data)
    if len(data) < len(magic) + 1 + 4 or data[:len(magic)] != magic:
        raise DecodeError(f"not a {what} message (bad magic or too short)")
    body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
    if zlib.crc32(body) != crc:
        raise DecodeError(f"{what} message checksum mismatch (truncated or corrupted)")
    if body[len(magic)] != VERSION:
        raise DecodeError(f"{what} message version {body[len(magic)]} is not supported")
    return body, len(magic) + 1


def index_width(d: int) -> int:
    return max(1, int(d - 1).bit_length())


class RawCodec:
    """Dense float32 values: 32 bits per entry plus a small header."""

    name, kind, MAGIC = "raw", Dense, b"GR"

    def __init__(self, size: int):
        self.size = size

    def encode(self, rep: Dense) -> bytes:
        v = np.ascontiguousarray(rep.values, dtype="<f4")
        return _seal(self.MAGIC + bytes([VERSION]) + _leb128(v.size) + v.tobytes())

    def decode(self, data: bytes) -> Dense:
        body, pos = _unseal(data, self.MAGIC, "raw")
        d, pos = _read_leb128(body, pos, "length")
        if d != self.size:
            raise DecodeError(f"raw message has {d} entries, the model has {self.size}")
        if len(body) - pos != 4 * d:
            raise DecodeError(f"raw message carries {len(body) - pos} value bytes, expected {4 * d}")
        v = np.frombuffer(body, dtype="<f4", count=d, offset=pos).astype(np.float32)
        if not np.isfinite(v).all():
            raise DecodeError("raw message carries a non-finite value")
        return Dense(v)


class SparseCodec:
    """Sparse vector: k, then k indices at ⌈log2 d⌉ bits each, then k float32 values."""

    name, kind, MAGIC = "sparse", Sparse, b"GP"

    def __init__(self, size: int):
        self.size = size
        self.width = index_width(size)

    def encode(self, rep: Sparse) -> bytes:
        k = int(rep.indices.size)
        w = BitWriter()
        w.write_fields(rep.indices.astype(np.uint64), self.width)
        head = self.MAGIC + bytes([VERSION]) + _leb128(rep.size) + _leb128(k)
        vals = np.ascontiguousarray(rep.values, dtype="<f4").tobytes()
        return _seal(head + w.to_bytes() + vals)

    def decode(self, data: bytes) -> Sparse:
        body, pos = _unseal(data, self.MAGIC, "sparse")
        d, pos = _read_leb128(body, pos, "length")
        k, pos = _read_leb128(body, pos, "count")
        if d != self.size:
            raise DecodeError(f"sparse message is for {d} entries, the model has {self.size}")
        if k > d:
            raise DecodeError(f"sparse message claims {k} entries of {d}")
        nbytes = (k * self.width + 7) // 8
        if len(body) - pos != nbytes + 4 * k:
            raise DecodeError(f"sparse message has {len(body) - pos} payload bytes, "
                              f"expected {nbytes + 4 * k} for {k} entries")
        r = BitReader(body[pos:pos + nbytes], k * self.width)
        idx = r.read_fields(np.full(k, self.width, dtype=np.int64)).astype(np.int64)
        if k and (idx[-1] >= d or (np.diff(idx) <= 0).any()):
            raise DecodeError("sparse message indices are out of range or not increasing")
        vals = np.frombuffer(body, dtype="<f4", count=k, offset=pos + nbytes).astype(np.float32)
        if not np.isfinite(vals).all():
            raise DecodeError("sparse message carries a non-finite value")
        return Sparse(idx, vals, d)


class QuantizedCodec:
    """Quantized vector (scales + integer symbols): ``vsc`` (vector source coding) or
    ``packed`` (fixed-width symbols, no entropy coding)."""

    def __init__(self, name: str, levels: int, block_sizes, dtype=np.int8):
        from ..compressors.dithered import Quantized

        self.kind = Quantized
        self.name, self.levels, self.dtype = name, levels, dtype
        self.block_sizes = np.asarray(block_sizes, dtype=np.int64)

    def encode(self, rep) -> bytes:
        from . import qframe

        return qframe.encode(rep, packed=self.name == "packed")

    def decode(self, data: bytes):
        from . import qframe

        return qframe.decode(data, levels=self.levels, block_sizes=self.block_sizes,
                             dtype=self.dtype)
