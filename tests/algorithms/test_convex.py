"""Every method, over 4 ranks, against the centralized optimum of a convex problem.

Problem: l2-regularised multinomial logistic regression on the digits training set
(λ = 1e-2, d = 650), full local gradients (batch ≥ shard), constant step.  The optimum f* is
computed here with scipy's L-BFGS.  Measured relative gaps (f(x̄) − f*)/f* after 2,000 rounds
(seed 0): dpsgd 5e-6, gdsec 3e-8, choco (QSGD-16, packed) 1.4e-5, malcom (μ = 0) 1e-4,
adaptive-topk (1% budget) 8e-4, sasg (10% kept) 4.4e-4, topk-ef (10%) 1e-5; sasg at its 1%
default reaches 3.8e-2.
"""

import tempfile
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize

from gossip import config
from gossip.comm import InProcessCommunicator
from gossip.data import partition
from gossip.data.digits import load_digits_split
from gossip.run import Run, build_topology

LAM = 1e-2


@pytest.fixture(scope="module")
def problem():
    data = load_digits_split(0.2, 0)
    X, y = data.x_train.astype(np.float64), data.y_train
    n = len(y)

    def objective(theta):
        W, b = theta[:640].reshape(10, 64), theta[640:]
        z = X @ W.T + b
        z -= z.max(1, keepdims=True)
        lse = np.log(np.exp(z).sum(1))
        p = np.exp(z - lse[:, None])
        p[np.arange(n), y] -= 1
        p /= n
        val = -(z[np.arange(n), y] - lse).mean() + 0.5 * LAM * theta @ theta
        return val, np.concatenate([(p.T @ X).ravel(), p.sum(0)]) + LAM * theta

    res = minimize(objective, np.zeros(650), jac=True, method="L-BFGS-B",
                   options=dict(maxiter=5000, gtol=1e-10, ftol=1e-15))
    assert res.success or np.linalg.norm(res.jac) < 1e-6
    return objective, res.fun


def run_models(algorithm: dict, rounds: int, train: dict | None = None,
               batch: int = 100000) -> list[np.ndarray]:
    """The 4 rank models after ``rounds`` rounds on the digits logreg problem (full local
    gradients unless ``batch`` is smaller than a shard)."""
    cfg = config.load(None, {"algorithm": {"lr": 0.5, **algorithm},
                             "model": {"name": "logreg", "l2": LAM},
                             "data": {"batch_size": batch},
                             "train": {"rounds": rounds, "comm": "inprocess", "ranks": 4,
                                       "progress": False, **(train or {})}})
    topo = build_topology(cfg, 4)
    run = Run(cfg, InProcessCommunicator(list(topo.neighbours)), topo, Path(tempfile.mkdtemp()))
    for t in range(1, rounds + 1):
        run.round(t)
    return [w.model.x.astype(np.float64) for w in run.workers]


def gap(problem, algorithm: dict, rounds=2000, train: dict | None = None):
    objective, fstar = problem
    xbar = np.mean(run_models(algorithm, rounds, train), axis=0)
    return (objective(xbar)[0] - fstar) / fstar


@pytest.mark.parametrize("algorithm, bound", [
    ({"name": "dpsgd"}, 1e-3),  # exact methods: within 1e-3 relative
    ({"name": "gdsec"}, 1e-3),
    ({"name": "choco"}, 1e-3),  # QSGD-16 with error-free public copies: also within 1e-3
    ({"name": "malcom", "l1": 0.0}, 1e-3),  # (with μ > 0 it solves the l1 problem instead)
    ({"name": "adaptive-topk"}, 2e-3),
    ({"name": "sasg", "ratio": 0.1}, 2e-3),
    ({"name": "sasg"}, 1e-1),  # 1% kept: still descending after 2,000 rounds
    ({"name": "topk-ef", "ratio": 0.1}, 1e-3),  # measured 1.0e-5
])
def test_reaches_centralized_optimum(problem, algorithm, bound):
    assert gap(problem, algorithm) < bound


# l1-regularised logistic regression: F(x) = (1/4)·Σ_i f_i(x) + (λ/2)‖x‖² + μ‖x‖₁, f_i the mean
# cross-entropy over rank i's shard (the sum the ranks minimise, shard sizes as partitioned),
# solved centrally by L-BFGS-B on the split x = u − v, u, v ≥ 0 (exact zeros at the bounds);
# μ = 5e-3 leaves 63.5% of x* exactly zero.  Gaps are of the network average, lr 0.5.
MU = 5e-3


@pytest.fixture(scope="module")
def l1_problem():
    data = load_digits_split(0.2, 0)
    X, y = data.x_train.astype(np.float64), data.y_train
    shards = partition(y, 4, "iid", 0)

    def smooth(theta):
        val, grad = 0.0, np.zeros(650)
        W, b = theta[:640].reshape(10, 64), theta[640:]
        for idx in shards:
            Xs, ys, n = X[idx], y[idx], len(idx)
            z = Xs @ W.T + b
            z -= z.max(1, keepdims=True)
            lse = np.log(np.exp(z).sum(1))
            p = np.exp(z - lse[:, None])
            p[np.arange(n), ys] -= 1
            p /= n * 4
            val += -(z[np.arange(n), ys] - lse).mean() / 4
            grad += np.concatenate([(p.T @ Xs).ravel(), p.sum(0)])
        return val + 0.5 * LAM * theta @ theta, grad + LAM * theta

    def objective(theta):
        return smooth(theta)[0] + MU * np.abs(theta).sum()

    def split(uv):
        val, g = smooth(uv[:650] - uv[650:])
        return val + MU * uv.sum(), np.concatenate([g + MU, -g + MU])

    res = minimize(split, np.zeros(1300), jac=True, method="L-BFGS-B",
                   bounds=[(0, None)] * 1300, options=dict(maxiter=20000, gtol=1e-12, ftol=1e-16))
    xstar = res.x[:650] - res.x[650:]
    xstar[np.abs(xstar) < 1e-7] = 0.0
    return objective, objective(xstar), xstar


@pytest.mark.parametrize("algorithm", [{"name": "malcom", "l1": MU},
                                       {"name": "choco", "l1": MU}])
def test_prox_methods_reach_the_l1_optimum_with_a_decaying_rate(l1_problem, algorithm):
    # Minibatch 16, 1,000 rounds.  Measured relative gaps: malcom 2.6e-3 with inverse-time
    # (b = 100), 9.5e-3 with the constant rate; choco 2.4e-3 vs 8.5e-3.
    objective, fstar, xstar = l1_problem
    assert 0.2 < np.mean(xstar == 0) < 0.9  # the optimum is genuinely sparse
    models = run_models(algorithm, 1000, {"lr_schedule": "inverse-time", "lr_b": 100.0}, batch=16)
    assert (objective(np.mean(models, axis=0)) - fstar) / fstar < 5e-3


def test_prox_zero_pattern_matches_the_l1_optimum(l1_problem):
    # Full gradients, 1,000 rounds, inverse-time b = 1000: measured gap 6e-5 and 0.928 of the
    # entries of every rank model exactly zero where x* is (malcom: 3.5e-4, 0.931); the rest are
    # entries of x* = 0 still shrinking (|x| < 2e-2).
    objective, fstar, xstar = l1_problem
    models = run_models({"name": "choco", "l1": MU}, 1000,
                        {"lr_schedule": "inverse-time", "lr_b": 1000.0})
    assert (objective(np.mean(models, axis=0)) - fstar) / fstar < 1e-3
    for x in models:
        assert np.mean((x == 0) == (xstar == 0)) >= 0.9
