"""Frame for a quantized vector: levels, per-block float32 scales, then a VSC symbol message.

Layout (version 1): b"GQ", version byte, LEB128 levels, LEB128 n_blocks, n_blocks float32
scales (little-endian), CRC32 of all of the above (4 bytes LE), then the VSC message (which
carries its own header and checksum).  The receiver knows the model layout, so it passes the
expected block count and size; anything else is a DecodeError.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from ..messages import Quantized
from . import DecodeError, vsc
from .envelope import as_message
from .bitio import read_varint as _read_varint
from .bitio import write_varint as _varint

MAGIC = b"GQ"
VERSION = 1


def encode(q: Quantized, packed: bool = False, vsc_encode=vsc.encode) -> bytes:
    """``packed``: fixed-width symbols instead of vector source coding (same frame);
    ``vsc_encode``: the VSC implementation (the numpy reference or its compiled twin)."""
    return encode_counted(q, packed, lambda z: (vsc_encode(z), None))[0]


def encode_counted(q: Quantized, packed: bool = False,
                   vsc_encode_counted=vsc.encode_counted) -> tuple[bytes, np.ndarray | None]:
    """:func:`encode`, plus the symbol counts the VSC encoder built on the way (None when
    packed, or when the encoder does not report them)."""
    scales = np.ascontiguousarray(q.scales, dtype="<f4")
    head = MAGIC + bytes([VERSION]) + _varint(q.levels) + _varint(scales.size) + scales.tobytes()
    body, counts = (vsc.encode_packed(q.symbols), None) if packed else vsc_encode_counted(q.symbols)
    return head + struct.pack("<I", zlib.crc32(head)) + body, counts


def decode(data: bytes, *, levels: int, block_sizes: np.ndarray, dtype=np.int8,
           vsc_decode=vsc.decode) -> Quantized:
    """Parse and check a frame against the receiver's own layout (levels, blocks);
    ``vsc_decode``: the VSC implementation (the numpy reference or its compiled twin)."""
    data = as_message(data)
    if len(data) < 3 or data[:2] != MAGIC:
        raise DecodeError("not a quantized frame (bad magic)")
    if data[2] != VERSION:
        raise DecodeError(f"quantized frame version {data[2]} is not supported (expected {VERSION})")
    lv, pos = _read_varint(data, 3, "levels")
    nb, pos = _read_varint(data, pos, "block count")
    if lv != levels:
        raise DecodeError(f"quantized frame has {lv} levels, this run uses {levels}")
    if nb != len(block_sizes):
        raise DecodeError(f"quantized frame has {nb} scale blocks, the model has {len(block_sizes)}")
    end = pos + 4 * nb
    if end + 4 > len(data):
        raise DecodeError("quantized frame truncated inside the scales")
    (crc,) = struct.unpack_from("<I", data, end)
    if crc != zlib.crc32(data[:end]):
        raise DecodeError("quantized frame header checksum mismatch")
    scales = np.frombuffer(data, dtype="<f4", count=nb, offset=pos).astype(np.float32)
    if not np.isfinite(scales).all() or (scales < 0).any():
        raise DecodeError("quantized frame carries a negative or non-finite scale")
    z = vsc_decode(data[end + 4:], expected_size=int(np.sum(block_sizes)))
    if z.size and (int(z.min()) < -levels or int(z.max()) > levels):  # else the cast would wrap
        raise DecodeError(f"quantized symbols exceed ±{levels}")
    return Quantized(symbols=z.astype(dtype, copy=False), scales=scales, levels=levels)


class QuantizedCodec:
    """Quantized vector (scales + integer symbols): ``vsc`` (vector source coding) or
    ``packed`` (fixed-width symbols, no entropy coding), in the frame above.  ``kernels``
    ("numpy", "compiled", "auto": :func:`gossip.kernels.select`) picks the VSC
    implementation once, at construction; the bytes are the same either way."""

    kind = Quantized

    def __init__(self, name: str, levels: int, block_sizes, dtype=np.int8, kernels="numpy"):
        self.name, self.levels, self.dtype = name, levels, dtype
        self.block_sizes = np.asarray(block_sizes, dtype=np.int64)
        if kernels == "numpy":
            self._enc_counted, self._dec, self.kernels = vsc.encode_counted, vsc.decode, "numpy"
        else:
            from ..kernels import select, warm

            k = select(kernels)
            if k.mode == "compiled":
                warm((dtype,))  # load the cache now (set-up), not inside round 1
            self._enc_counted, self._dec, self.kernels = k.vsc_encode_counted, k.vsc_decode, k.mode

    last_counts: np.ndarray | None = None  # symbol counts of the last encode (vsc only)

    def encode(self, rep: Quantized) -> bytes:
        msg, self.last_counts = encode_counted(rep, self.name == "packed", self._enc_counted)
        return msg

    def decode(self, data: bytes) -> Quantized:
        return decode(data, levels=self.levels, block_sizes=self.block_sizes, dtype=self.dtype,
                      vsc_decode=self._dec)
