"""``--kernels``: the compiled VSC codec inside a run gives the numpy run's bytes and models."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from gossip.channel import Channel
from gossip.codecs import DecodeError, qframe
from gossip.messages import Quantized
from tests.support import ROOT, gossip_inprocess

_spec = importlib.util.spec_from_file_location("golden", ROOT / "tests" / "golden" / "golden.py")
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)


def test_channel_kernels_same_bytes():
    rng = np.random.default_rng(0)
    v = (rng.standard_normal(5000) * np.where(rng.random(5000) < 0.1, 1.0, 0.01)).astype(np.float32)
    sent = {}
    for mode in ("numpy", "compiled"):
        ch = Channel.build("dithered", "vsc", [3000, 2000], seed=3, kernels=mode, levels=4,
                           norm="l2", tau_scaling=True)
        assert ch.codec.kernels == mode
        s = ch.send(v, sender=1, round_=7)
        sent[mode] = (s.message, s.decoded, ch.receive(s.message, 1, 7))
    assert sent["numpy"][0] == sent["compiled"][0]
    for a, b in zip(sent["numpy"][1:], sent["compiled"][1:]):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_compiled_frame_refuses_out_of_range_symbols():
    """The compiled decoder returns int8: -128 must still be refused for 4 levels."""
    z = np.zeros(100, np.int8)
    z[3] = -128
    msg = qframe.encode(Quantized(symbols=z, scales=np.ones(1, np.float32), levels=4))
    codec = qframe.QuantizedCodec("vsc", 4, [100], kernels="compiled")
    with pytest.raises(DecodeError, match="exceed"):
        codec.decode(msg)


def test_malcom_run_bit_identical_with_compiled_kernels(tmp_path):
    digests = {}
    for mode in ("numpy", "compiled"):
        out = tmp_path / mode
        r = gossip_inprocess(4, "--rounds", "12", "--eval-every", "6", "--seed", "5",
                             "--no-progress", "--checkpoint-every", "0", "--kernels", mode,
                             "--out", str(out))
        assert r.returncode == 0, r.stderr
        digests[mode] = golden.digest_run(out)
    assert digests["numpy"] == digests["compiled"]
    assert len(digests["numpy"]["rank_models"]) == 4


def test_bad_kernels_value_is_a_config_error(tmp_path):
    r = gossip_inprocess(2, "--rounds", "1", "--kernels", "fast", "--out", str(tmp_path / "x"))
    assert r.returncode == 2
    assert "--kernels" in r.stderr or "kernels" in r.stderr
    assert not (tmp_path / "x").exists()
