"""Learning-rate schedules: the η_t formulas, the config flags, and a run that uses them."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from gossip import config, schedules
from gossip.algorithms import DPSGD
from gossip.channel import Channel


def tc(**kw):
    base = dict(lr_schedule="constant", lr_a=None, lr_b=100.0, lr_step_every=500,
                lr_step_factor=0.1, lr_min=0.0, lr_warmup=0, rounds=1000)
    return SimpleNamespace(**{**base, **kw})


def test_formulas_by_hand():
    assert schedules.make(0.1, tc()) is None  # constant: algorithms keep their float lr
    inv = schedules.make(0.2, tc(lr_schedule="inverse-time", lr_b=9.0))
    assert inv(1) == pytest.approx(0.2) and inv(11) == pytest.approx(0.2 * 10 / 20)
    inv = schedules.make(0.2, tc(lr_schedule="inverse-time", lr_a=3.0, lr_b=2.0))
    assert inv(4) == pytest.approx(0.5)
    step = schedules.make(1.0, tc(lr_schedule="step", lr_step_every=10, lr_step_factor=0.5))
    assert [step(t) for t in (1, 10, 11, 20, 21)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    cos = schedules.make(1.0, tc(lr_schedule="cosine", rounds=100, lr_min=0.1))
    assert cos(0 + 1) == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi / 100)))
    assert cos(50) == pytest.approx(0.55) and cos(100) == pytest.approx(0.1)
    warm = schedules.make(1.0, tc(lr_warmup=4))
    assert [warm(t) for t in (1, 2, 4, 5)] == [0.25, 0.5, 1.0, 1.0]
    assert schedules.depends_on_rounds("cosine")
    assert not any(schedules.depends_on_rounds(n) for n in ("constant", "inverse-time", "step"))


def test_flags_and_checks():
    cfg = config.load(None, {"train": {"lr_schedule": "step", "lr_step_every": 7}})
    assert cfg.train.lr_step_every == 7
    with pytest.raises(config.ConfigError, match="train.lr_schedule = 'linear'"):
        config.load(None, {"train": {"lr_schedule": "linear"}})
    with pytest.raises(config.ConfigError, match="lr_min"):
        config.load(None, {"train": {"lr_schedule": "cosine", "lr_min": 1.0}})


def test_algorithm_uses_the_rate_of_its_round():
    # one rank, no neighbours: D-PSGD is SGD, x_t = x_{t−1} − η_t·g with g = 1
    alg = DPSGD(weights={0: {0: 1.0}}, channel=Channel.build("identity", "raw", [3], seed=0), lr=1.0)
    alg.lr_at = schedules.make(1.0, tc(lr_schedule="step", lr_step_every=2,
                                          lr_step_factor=0.5))

    class One:
        def grad(self, x=None):
            return np.ones(3, dtype=np.float32)

    x, st = np.zeros(3, dtype=np.float32), alg.init_state(0, np.zeros(3))
    for t in range(1, 6):
        alg.compose(st, x, One())
        alg.absorb(st, x, {}, t)
    np.testing.assert_allclose(x, -(1 + 1 + 0.5 + 0.5 + 0.25))
