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


@pytest.mark.parametrize("subtractive", [False, True])
def test_channel_kernels_same_bytes(subtractive):
    """Compiled codec and compiled quantizer (dither drawn in the kernel) give numpy's bytes."""
    rng = np.random.default_rng(0)
    v = (rng.standard_normal(5000) * np.where(rng.random(5000) < 0.1, 1.0, 0.01)).astype(np.float32)
    sent = {}
    for mode in ("numpy", "compiled"):
        ch = Channel.build("dithered", "vsc", [3000, 2000], seed=3, kernels=mode, levels=4,
                           norm="l2", tau_scaling=True, subtractive=subtractive)
        assert ch.codec.kernels == mode
        assert (ch.compressor.kernel is not None) == (mode == "compiled")
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


class _Oracle:
    def __init__(self, g):
        self.g = g

    def grad(self):
        return self.g


@pytest.mark.parametrize("options,order,l1", [
    (dict(compressor="dithered", levels=4, norm="l2", tau_scaling=True), "half", 1e-2),
    (dict(compressor="dithered", levels=2, norm="inf", subtractive=True), "half", 0.0),
    (dict(compressor="qsgd", levels=16, tau_scaling=True), "prox", 1e-2),
])
def test_choco_fused_updates_bit_identical(options, order, l1):
    """Compiled copy updates and consensus-prox give the numpy path's x, x̂ and s exactly."""
    from gossip.algorithms import ChocoSGD

    n, sizes = 3, [700, 300]
    W = {i: {j: (0.5 if i == j else 0.25) for j in range(n)} for i in range(n)}
    out = {}
    for mode in ("numpy", "compiled"):
        comp = options["compressor"]
        rest = {k: v for k, v in options.items() if k != "compressor"}
        ch = Channel.build(comp, "vsc" if comp == "dithered" else "packed", sizes, seed=2,
                           kernels=mode, **rest)
        alg = ChocoSGD(weights=W, channel=ch, lr=0.1, gamma=0.2, l1=l1, residual_order=order,
                       kernels=mode)
        assert alg.fused == (mode == "compiled")
        rng = np.random.default_rng(1)
        x0 = rng.standard_normal(1000).astype(np.float32)
        xs = [x0.copy() for _ in range(n)]
        states = [alg.init_state(i, x0) for i in range(n)]
        for _ in range(4):
            grads = [rng.standard_normal(1000).astype(np.float32) for _ in range(n)]
            boxes = [alg.compose(states[i], xs[i], _Oracle(grads[i]))[0] for i in range(n)]
            for i in range(n):
                alg.absorb(states[i], xs[i], {j: boxes[j][i] for j in range(n) if j != i},
                           states[i].round)
        out[mode] = [np.concatenate([x, s.x_hat, s.s]) for x, s in zip(xs, states)]
    for a, b in zip(out["numpy"], out["compiled"]):
        assert np.array_equal(a, b)
    assert not np.array_equal(out["numpy"][0][:1000], out["numpy"][1][:1000])


def test_choco_fused_refuses_a_bad_neighbour_message():
    from gossip.algorithms import ChocoSGD, NeighbourDecodeError

    W = {0: {0: 0.5, 1: 0.5}, 1: {0: 0.5, 1: 0.5}}
    ch = Channel.build("dithered", "vsc", [100], seed=2, kernels="compiled", levels=4)
    alg = ChocoSGD(weights=W, channel=ch, lr=0.1, gamma=0.2, kernels="compiled")
    st = alg.init_state(0, np.zeros(100, np.float32))
    x = np.zeros(100, np.float32)
    alg.compose(st, x, _Oracle(np.ones(100, np.float32)))
    with pytest.raises(NeighbourDecodeError, match="neighbour 1"):
        alg.absorb(st, x, {1: b"\x00garbage"}, 1)
