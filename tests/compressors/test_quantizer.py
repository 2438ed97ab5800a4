"""The dithered quantizer (docs/algorithms.md §2.1): range, unbiasedness, reproducibility."""

import numpy as np
import pytest

from gossip.compressors import DitheredQuantizer
from gossip.rng import numpy_rng


def test_symbols_in_range_and_scale_per_block():
    rng = np.random.default_rng(0)
    v = rng.standard_normal(300).astype(np.float32)
    v[100:200] *= 50  # a second block with a very different scale
    q = DitheredQuantizer([100, 100, 100], levels=4)
    out = q.quantize(v, numpy_rng(0, 0, "dither"))
    assert out.symbols.dtype == np.int8
    assert np.abs(out.symbols).max() <= 4
    np.testing.assert_allclose(out.scales, [np.abs(v[i:i + 100]).max() for i in (0, 100, 200)])
    # |v̂ − v| < one quantization step σ/s everywhere (stochastic rounding never jumps two levels)
    err = np.abs(q.dequantize(out) - v)
    step = np.repeat(out.scales / 4, 100)
    assert (err <= step * (1 + 1e-6)).all()


@pytest.mark.parametrize("norm", ["inf", "l2"])
def test_unbiased(norm):
    rng = np.random.default_rng(1)
    v = (rng.standard_normal(64) * rng.exponential(1, 64)).astype(np.float32)
    q = DitheredQuantizer([64], levels=2, norm=norm)
    g = numpy_rng(3, 1, "dither")
    trials = 20000
    acc = np.zeros(64)
    for _ in range(trials):
        acc += q.dequantize(q.quantize(v, g))
    mean = acc / trials
    # standard error of each entry is at most step/2/sqrt(trials)
    sigma = np.abs(v).max() if norm == "inf" else np.linalg.norm(v)
    tol = 5 * (sigma / 2) / 2 / np.sqrt(trials)
    assert np.abs(mean - v).max() < tol


def test_tau_scaling_is_contractive_with_l2():
    rng = np.random.default_rng(2)
    v = rng.standard_normal(4810).astype(np.float32)
    q = DitheredQuantizer([4810], levels=4, norm="l2", tau_scaling=True)
    g = numpy_rng(0, 0, "dither")
    errs = [np.sum((q.dequantize(q.quantize(v, g)) - v) ** 2) for _ in range(20)]
    assert np.mean(errs) < np.sum(v.astype(np.float64) ** 2)  # E||Q(v) − v||² < ||v||²
    plain = DitheredQuantizer([4810], levels=4, norm="l2")
    errs_plain = [np.sum((plain.dequantize(plain.quantize(v, g)) - v) ** 2) for _ in range(20)]
    assert np.mean(errs_plain) > np.sum(v.astype(np.float64) ** 2)  # not contractive (§1.2)


def test_reproducible_from_seed_and_zero_block():
    v = np.zeros(50, dtype=np.float32)
    v[:10] = np.linspace(-1, 1, 10)
    q = DitheredQuantizer([10, 40], levels=16)
    a = q.quantize(v, numpy_rng(7, 2, "dither"))
    b = q.quantize(v, numpy_rng(7, 2, "dither"))
    c = q.quantize(v, numpy_rng(7, 3, "dither"))
    assert np.array_equal(a.symbols, b.symbols) and np.array_equal(a.scales, b.scales)
    assert not np.array_equal(a.symbols, c.symbols)
    assert (a.symbols[10:] == 0).all() and a.scales[1] == 0  # an all-zero block stays zero


def test_bad_arguments():
    with pytest.raises(ValueError, match="levels"):
        DitheredQuantizer([3], levels=0)
    with pytest.raises(ValueError, match="norm"):
        DitheredQuantizer([3], levels=2, norm="l1")
    with pytest.raises(ValueError, match="entries"):
        DitheredQuantizer([3], levels=2).quantize(np.zeros(4, np.float32), numpy_rng(0, 0, "d"))


def test_subtractive_dither_error_is_bounded_uniform_and_unbiased():
    rng = np.random.default_rng(4)
    v = rng.standard_normal(2000).astype(np.float32)
    q = DitheredQuantizer([2000], levels=4, subtractive=True)
    g = numpy_rng(0, 0, "dither")
    errs = []
    for _ in range(200):
        u = q.dither(g)
        out = q.quantize(v, u)
        assert np.abs(out.symbols).max() <= 4
        errs.append(q.dequantize(out, u) - v)
        with pytest.raises(ValueError, match="needs the sender's dither"):
            q.dequantize(out)
    errs = np.array(errs)
    step = np.abs(v).max() / 4
    assert np.abs(errs).max() <= step / 2 * (1 + 1e-5)  # |error| ≤ half a step, always
    assert abs(errs.mean()) < 0.01 * step  # unbiased
    assert abs(errs.var() - step**2 / 12) < 0.02 * step**2  # uniform: variance step²/12
    # independent of the signal: the error does not correlate with v
    assert abs(np.corrcoef(np.tile(v, 200), errs.ravel())[0, 1]) < 0.02
