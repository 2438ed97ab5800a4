"""The envelope of the raw and sparse frames: magic, version byte, body, CRC32 of it all.

Truncation, corruption and forgery show up as a bad magic, a checksum mismatch or an
unsupported version, each a :class:`~gossip.codecs.DecodeError`.  (The VSC message and the
quantized frame carry their own headers with the same checks, see :mod:`.vsc`, :mod:`.qframe`.)
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from . import DecodeError

VERSION = 1


def as_message(data) -> bytes:
    """A received message as bytes: bytes-like or a uint8 array; anything else (a str, None, an
    int that ``bytes()`` would turn into a huge buffer) is a DecodeError."""
    return bytes(_view(data))


def seal(magic: bytes, body: bytes, payload=b"") -> bytes:
    """magic | version | body | payload | CRC32 (LE) of everything before it.  ``payload``
    (any contiguous buffer, e.g. a float32 array) is copied once, into the message."""
    head = magic + bytes([VERSION]) + body
    payload = memoryview(payload).cast("B")
    crc = zlib.crc32(payload, zlib.crc32(head))
    return b"".join((head, payload, struct.pack("<I", crc)))


def _view(data) -> memoryview:
    """A received message as a flat byte view, without a copy (DecodeError for non-buffers)."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise DecodeError(f"expected a uint8 array or bytes, got an array of {data.dtype}")
        return memoryview(np.ascontiguousarray(data).reshape(-1))
    if isinstance(data, (bytes, bytearray, memoryview)):
        mv = memoryview(data)
        return mv if mv.c_contiguous and mv.format == "B" and mv.ndim == 1 else \
            memoryview(mv.tobytes())
    raise DecodeError(f"expected bytes or a uint8 array, got {type(data).__name__}")


def unseal(data, magic: bytes, what: str) -> tuple[memoryview, int]:
    """Check magic, CRC and version; return (the frame without its CRC, as a read-only view
    of ``data``: no copy; offset of the body)."""
    data = _view(data).toreadonly()
    if len(data) < len(magic) + 1 + 4 or data[:len(magic)] != magic:
        raise DecodeError(f"not a {what} message (bad magic or too short)")
    body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
    if zlib.crc32(body) != crc:
        raise DecodeError(f"{what} message checksum mismatch (truncated or corrupted)")
    if body[len(magic)] != VERSION:
        raise DecodeError(f"{what} message version {body[len(magic)]} is not supported")
    return body, len(magic) + 1
