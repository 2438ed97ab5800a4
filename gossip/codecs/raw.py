"""``raw``: a dense float32 vector, 32 bits per entry plus a small header."""

from __future__ import annotations

import numpy as np

from ..messages import Dense
from . import DecodeError
from .bitio import read_varint, write_varint
from .envelope import seal, unseal


class RawCodec:
    name, kind, MAGIC = "raw", Dense, b"GR"

    def __init__(self, size: int):
        self.size = size

    def encode(self, rep: Dense) -> bytes:
        v = np.ascontiguousarray(rep.values, dtype="<f4")
        return seal(self.MAGIC, write_varint(v.size), v)

    def decode(self, data: bytes) -> Dense:
        body, pos = unseal(data, self.MAGIC, "raw")
        d, pos = read_varint(body, pos, "length")
        if d != self.size:
            raise DecodeError(f"raw message has {d} entries, the model has {self.size}")
        if len(body) - pos != 4 * d:
            raise DecodeError(f"raw message carries {len(body) - pos} value bytes, expected {4 * d}")
        v = np.frombuffer(body, dtype="<f4", count=d, offset=pos).astype(np.float32)
        if not np.isfinite(v).all():
            raise DecodeError("raw message carries a non-finite value")
        return Dense(v)
