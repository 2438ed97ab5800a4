"""The quantized-vector frame (scales + VSC symbols): round trip and hostile input."""

import numpy as np
import pytest

from gossip.codecs import DecodeError, qframe
from gossip.compressors import DitheredQuantizer
from gossip.rng import numpy_rng

BLOCKS = [40, 8, 20, 2]


def sample():
    q = DitheredQuantizer(BLOCKS, levels=4, norm="l2", tau_scaling=True)
    v = np.random.default_rng(0).standard_normal(sum(BLOCKS)).astype(np.float32)
    return q, q.quantize(v, numpy_rng(0, 0, "dither"))


def test_round_trip():
    q, z = sample()
    back = qframe.decode(qframe.encode(z), levels=4, block_sizes=q.block_sizes)
    assert np.array_equal(back.symbols, z.symbols) and np.array_equal(back.scales, z.scales)
    assert np.array_equal(q.dequantize(back), q.dequantize(z))


def test_every_truncation_and_bit_flip_is_a_decode_error():
    q, z = sample()
    msg = qframe.encode(z)
    for n in range(len(msg)):
        with pytest.raises(DecodeError):
            qframe.decode(msg[:n], levels=4, block_sizes=q.block_sizes)
    for bit in range(8 * len(msg)):
        bad = bytearray(msg)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(DecodeError):
            qframe.decode(bytes(bad), levels=4, block_sizes=q.block_sizes)
    with pytest.raises(DecodeError):
        qframe.decode(msg + b"\0", levels=4, block_sizes=q.block_sizes)


def test_layout_mismatch_is_named():
    q, z = sample()
    msg = qframe.encode(z)
    with pytest.raises(DecodeError, match="levels"):
        qframe.decode(msg, levels=8, block_sizes=q.block_sizes)
    with pytest.raises(DecodeError, match="blocks"):
        qframe.decode(msg, levels=4, block_sizes=np.array([70]))
    with pytest.raises(DecodeError):
        qframe.decode(msg, levels=4, block_sizes=np.array([40, 8, 20, 3]))
