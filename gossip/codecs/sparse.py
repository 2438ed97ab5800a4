"""``sparse``: k, then k indices at ⌈log2 d⌉ bits each, then k float32 values."""

from __future__ import annotations

import numpy as np

from ..messages import Sparse
from . import DecodeError
from .bitio import BitReader, BitWriter, read_varint, write_varint
from .envelope import seal, unseal


def index_width(d: int) -> int:
    return max(1, int(d - 1).bit_length())


class SparseCodec:
    name, kind, MAGIC = "sparse", Sparse, b"GP"

    def __init__(self, size: int):
        self.size = size
        self.width = index_width(size)

    def encode(self, rep: Sparse) -> bytes:
        k = int(rep.indices.size)
        w = BitWriter()
        w.write_fields(rep.indices.astype(np.uint64), self.width)
        vals = np.ascontiguousarray(rep.values, dtype="<f4")
        return seal(self.MAGIC, write_varint(rep.size) + write_varint(k) + w.to_bytes(), vals)

    def decode(self, data: bytes) -> Sparse:
        body, pos = unseal(data, self.MAGIC, "sparse")
        d, pos = read_varint(body, pos, "length")
        k, pos = read_varint(body, pos, "count")
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
