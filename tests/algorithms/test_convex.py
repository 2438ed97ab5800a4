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


def gap(problem, algorithm: dict, rounds=2000):
    objective, fstar = problem
    cfg = config.load(None, {"algorithm": {"lr": 0.5, **algorithm},
                             "model": {"name": "logreg", "l2": LAM},
                             "data": {"batch_size": 100000},
                             "train": {"rounds": rounds, "comm": "inprocess", "ranks": 4,
                                       "progress": False}})
    topo = build_topology(cfg, 4)
    run = Run(cfg, InProcessCommunicator(list(topo.neighbours)), topo, Path(tempfile.mkdtemp()))
    for t in range(1, rounds + 1):
        run.round(t)
    xbar = np.mean([w.model.x.astype(np.float64) for w in run.workers], axis=0)
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
