"""Compiled quantizer / dequantizer / consensus-prox kernels against the numpy code, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from gossip import kernels
from gossip.algorithms.choco import soft_threshold
from gossip.compressors import DitheredQuantizer
from gossip.kernels import quant


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


LAYOUTS = ([1], [7], [8], [9], [127, 128, 129], [1000, 3, 2000], [5000, 17, 40000, 1])
CONFIGS = [(s, norm, tau, sub) for s in (1, 4, 200) for norm in ("inf", "l2")
           for tau in (False, True) for sub in (False, True)]


@pytest.mark.parametrize("blocks", LAYOUTS)
def test_quantize_matches(blocks):
    rng = np.random.default_rng(len(blocks) * 7 + sum(blocks))
    for s, norm, tau, sub in CONFIGS:
        q = DitheredQuantizer(blocks, s, norm=norm, tau_scaling=tau, subtractive=sub)
        v = (rng.standard_normal(q.size) * rng.choice([1e-3, 1.0, 1e4])).astype(np.float32)
        v[rng.random(q.size) < 0.3] = 0.0
        if len(blocks) > 1:
            v[:blocks[0]] = 0.0  # an all-zero block: zero scale
        u = q.dither(np.random.default_rng(1))
        a, b = q.quantize(v, u), quant.quantize(q, v, u)
        assert same(a.symbols, b.symbols) and same(a.scales, b.scales), (blocks, s, norm, tau, sub)
        # the dither drawn inside the kernel is numpy's stream, bit for bit
        c = quant.quantize(q, v, np.random.default_rng(99))
        d = q.quantize(v, np.random.default_rng(99))
        assert same(c.symbols, d.symbols) and same(c.scales, d.scales)


def test_quantize_boundaries():
    q = DitheredQuantizer([6], 4, norm="inf")
    v = np.array([1.0, -1.0, 0.5, -0.25, 0.0, -0.0], np.float32)
    for u in (np.zeros(6, np.float32), np.full(6, np.nextafter(np.float32(1), np.float32(0)))):
        a, b = q.quantize(v, u), quant.quantize(q, v, u)
        assert same(a.symbols, b.symbols) and same(a.scales, b.scales)


def test_rng_state_advances_identically():
    q = DitheredQuantizer([33, 10], 4)
    r1, r2 = np.random.default_rng(5), np.random.default_rng(5)
    v = np.ones(43, np.float32)
    quant.quantize(q, v, r1)
    q.quantize(v, r2)
    assert same(r1.random(9, dtype=np.float32), r2.random(9, dtype=np.float32))


@pytest.mark.parametrize("sub", [False, True])
def test_dequantize_variants(sub):
    rng = np.random.default_rng(2)
    q = DitheredQuantizer([300, 1, 5000, 64], 4, norm="l2", tau_scaling=True, subtractive=sub)
    v = rng.standard_normal(q.size).astype(np.float32)
    v[300:301] = 0.0  # zero-scale block
    u = q.dither(np.random.default_rng(3))
    qq = q.quantize(v, u)
    ref = q.dequantize(qq, u)
    assert same(quant.dequantize(q, qq, u), ref)
    x1 = rng.standard_normal(q.size).astype(np.float32)
    x1[:10] = -0.0
    x2 = x1.copy()
    x1 += ref
    assert same(quant.dequantize_add(q, qq, x2, u), x1)
    for w in (0.25, np.float32(1 / 3), 0.1):
        a1 = rng.standard_normal(q.size).astype(np.float32)
        a2 = a1.copy()
        a1 += np.float32(w) * ref
        quant.dequantize_axpy(q, qq, w, a2, u)
        assert same(a1, a2)


def test_dead_block_adds_zero_as_numpy_does():
    """A block of zeros (scale 0, subtractive dither) adds dq = 0 to the accumulator like the
    reference: -0.0 + 0.0 is 0.0, -0.0 + (-0.5 * 0.0) stays -0.0, bit for bit."""
    q = DitheredQuantizer([5, 7], 4, norm="l2", subtractive=True)
    v = np.zeros(12, np.float32)
    v[5:] = np.arange(1, 8, dtype=np.float32)
    u = q.dither(np.random.default_rng(0))
    qq = q.quantize(v, u)
    assert qq.scales[0] == 0
    for w in (0.5, -0.5):
        want, got = np.full(12, -0.0, np.float32), np.full(12, -0.0, np.float32)
        want += np.float32(w) * q.dequantize(qq, u)
        quant.dequantize_axpy(q, qq, w, got, u)
        assert want.tobytes() == got.tobytes()
    want, got = np.full(12, -0.0, np.float32), np.full(12, -0.0, np.float32)
    want += q.dequantize(qq, u)
    quant.dequantize_add(q, qq, got, u)
    assert want.tobytes() == got.tobytes()
    assert not np.signbit(got[:5]).any()


@pytest.mark.parametrize("own", [0, 1, 2])
@pytest.mark.parametrize("sub", [False, True])
def test_absorb_one_pass_matches_the_separate_passes(sub, own):
    rng = np.random.default_rng(4)
    q = DitheredQuantizer([300, 1, 5000, 64], 4, norm="l2", tau_scaling=True, subtractive=sub)
    reps, us = [], []
    for m in range(3):
        v = rng.standard_normal(q.size).astype(np.float32) * (m + 1)
        v[300:301] = 0.0  # a zero-scale block
        us.append(q.dither(np.random.default_rng(10 + m)))
        reps.append(q.quantize(v, us[m]))
    weights = [np.float32(0.25), np.float32(1 / 3), np.float32(5 / 12)]
    x_hat = rng.standard_normal(q.size).astype(np.float32)
    acc = rng.standard_normal(q.size).astype(np.float32)
    x1, a1, x2, a2 = x_hat.copy(), acc.copy(), x_hat.copy(), acc.copy()
    kernels.select("numpy").absorb(q, reps, weights, us, own, x1, a1)
    quant.absorb(q, reps, weights, us, own, x2, a2)
    x_ref = x_hat + q.dequantize(reps[own], us[own])
    a_ref = acc.copy()
    for rep, w, u in zip(reps, weights, us):
        a_ref += w * q.dequantize(rep, u)
    assert same(x1, x_ref) and same(a1, a_ref)
    assert same(x2, x_ref) and same(a2, a_ref)


@pytest.mark.parametrize("l1", [0.0, 1e-3, 0.5, 1e-60])
def test_consensus_prox(l1):
    rng = np.random.default_rng(4)
    n = 20000
    x = (rng.standard_normal(n) * 0.01).astype(np.float32)
    x[:50] = 0.0
    x[50:100] = -0.0
    s = x + (rng.standard_normal(n) * 0.001).astype(np.float32)
    xh = x + (rng.standard_normal(n) * 0.001).astype(np.float32)
    gamma, lr = 0.3, 0.05
    ref = x.copy()
    y = ref + np.float32(gamma) * (s - xh)
    soft_threshold(y, lr * l1, out=ref)
    got = quant.consensus_prox(x.copy(), s, xh, gamma, lr, l1)
    assert same(got, ref)


def test_select_modes_agree():
    assert kernels.available()
    npk, ck, auto = kernels.select("numpy"), kernels.select("compiled"), kernels.select("auto")
    assert (npk.mode, ck.mode, auto.mode) == ("numpy", "compiled", "compiled")
    with pytest.raises(ValueError):
        kernels.select("fast")
    rng = np.random.default_rng(6)
    q = DitheredQuantizer([100, 2000], 4, norm="l2", tau_scaling=True)
    v = rng.standard_normal(q.size).astype(np.float32)
    qa, qb = npk.quantize(q, v, np.random.default_rng(1)), ck.quantize(q, v, np.random.default_rng(1))
    assert same(qa.symbols, qb.symbols)
    assert npk.vsc_encode(qa.symbols) == ck.vsc_encode(qb.symbols)
    msg = ck.vsc_encode(qb.symbols)
    assert same(npk.vsc_decode(msg, dtype=np.int8), ck.vsc_decode(msg))
    a1, a2 = np.zeros(q.size, np.float32), np.zeros(q.size, np.float32)
    assert same(npk.dequantize_axpy(q, qa, 0.5, a1), ck.dequantize_axpy(q, qb, 0.5, a2))
    assert same(npk.dequantize_add(q, qa, a1), ck.dequantize_add(q, qb, a2))
    assert same(npk.dequantize(q, qa), ck.dequantize(q, qb))
    assert same(npk.consensus_prox(a1, v, v * 0.5, 0.2, 0.1, 0.01),
                ck.consensus_prox(a2, v, v * 0.5, 0.2, 0.1, 0.01))


def test_compiled_without_numba_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(kernels._STATE, "available", False)
    monkeypatch.setitem(kernels._STATE, "error", ImportError("No module named 'numba'"))
    with pytest.raises(RuntimeError, match="numba"):
        kernels.select("compiled")
    assert kernels.select("auto").mode == "numpy"


def test_cli_compiled_without_numba_exits_2_with_one_message(monkeypatch, tmp_path):
    from tests.support import train

    monkeypatch.setitem(kernels._STATE, "available", False)
    monkeypatch.setitem(kernels._STATE, "error", ImportError("No module named 'numba'"))
    r = train("--kernels", "compiled", "--rounds", "1", "--out", str(tmp_path / "o"))
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("train.kernels = 'compiled' needs numba") == 1, r.stderr
    assert "No module named 'numba'" in r.stderr and "--kernels auto" in r.stderr
    assert not (tmp_path / "o").exists()
