"""Adaptive Top-K, GD-SEC and SASG over an allgather: hand-computed small cases."""

import numpy as np
import pytest

from gossip.algorithms import GDSEC, SASG, AdaptiveTopK, GradientOracle
from gossip.compressors import ErrorMemory
from gossip.compressors.sparse import split_k
from gossip.comm import InProcessCommunicator


class Quadratic(GradientOracle):
    """f_m(x) = ½‖x − c_m‖²: ∇f_m(x) = x − c_m (the same for minibatch and full gradients)."""

    def __init__(self, c, x):
        self.c, self.x = np.asarray(c, dtype=np.float32), x

    def grad(self, x=None):
        return ((self.x if x is None else x) - self.c).astype(np.float32)

    full_grad = grad


def drive(alg, cs, x0, rounds):
    """Run ``rounds`` rounds on len(cs) ranks; return models, states and the messages sent."""
    n = len(cs)
    comm = InProcessCommunicator([tuple(j for j in range(n) if j != i) for i in range(n)])
    xs = [np.array(x0, dtype=np.float32) for _ in range(n)]
    states = [alg.init_state(i, xs[i]) for i in range(n)]
    log = []
    for t in range(1, rounds + 1):
        out, infos = {}, {}
        for i in range(n):
            out[i], infos[i] = alg.compose(states[i], xs[i], Quadratic(cs[i], xs[i]))
        log.append((out, infos))
        inbox = comm.exchange(out)
        for i in range(n):
            alg.absorb(states[i], xs[i], inbox[i], t)
    return xs, states, log, comm


def test_gdsec_first_rounds_by_hand():
    cs = [[1.0, 0.0, 0.0, 4.0], [3.0, 0.0, 0.2, 0.0]]
    alg = GDSEC(size=4, world=2, block_sizes=[4], lr=0.5, beta=1.0, xi=0.2)
    xs, states, log, _ = drive(alg, cs, np.zeros(4), rounds=1)
    # round 1: τ ≡ 0, so every non-zero entry of v = ∇f_m(0) = −c_m is sent; e stays 0
    g_sum = -(np.array(cs[0]) + np.array(cs[1]))
    alpha = 0.5 / 2
    for x in xs:  # every rank holds the same model
        np.testing.assert_allclose(x, -alpha * g_sum, rtol=1e-6)
    assert log[0][1][0].kept == 2 and log[0][1][1].kept == 2  # zero entries are not sent
    np.testing.assert_allclose(states[0].g_all, g_sum)
    # round 2: τ_i = ξ/(α·M)·|θ1 − θ0| = 0.2·|θ1|/0.5
    theta1 = xs[0].copy()
    tau = 0.2 / (alpha * 2) * np.abs(theta1)
    v0 = (theta1 - np.array(cs[0])) - states[0].g_own  # β = 1, e = 0
    keep0 = np.flatnonzero(np.abs(v0) > tau)
    alg2_msg, info = alg.compose(states[0], xs[0], Quadratic(cs[0], xs[0]))
    assert info.kept == keep0.size
    expect_e = v0.copy()
    expect_e[keep0] = 0
    np.testing.assert_allclose(states[0].memory.e, expect_e, rtol=1e-6)


@pytest.mark.parametrize("variant", ["difference", "shift"])
def test_gdsec_reaches_the_minimiser_of_the_sum(variant):
    rng = np.random.default_rng(0)
    cs = rng.standard_normal((3, 20)).astype(np.float32)
    alg = GDSEC(size=20, world=3, block_sizes=[20], lr=0.5, beta=1.0, xi=0.2, variant=variant)
    xs, _, log, _ = drive(alg, cs, np.zeros(20), rounds=200)
    np.testing.assert_allclose(xs[0], cs.mean(0), atol=1e-4)  # argmin Σ ½‖x − c_m‖²
    sent = sum(info.kept for out, infos in log for info in infos.values())
    assert sent < 200 * 3 * 20 * 0.8  # components below the threshold were skipped


def test_sasg_skips_when_gradient_barely_changes_and_others_reuse():
    cs = [[1.0, 2.0], [1.0, 2.0]]
    alg = SASG(size=2, world=2, block_sizes=[2], lr=0.1, ratio=1.0, window=2, xi=1.0)
    xs, states, log, comm = drive(alg, cs, np.array([1.0, 2.0]), rounds=6)
    # x0 is the minimiser: gradients are 0, the model never moves, so after the D = 2 warm-up
    # rounds every rank skips until its staleness exceeds D, then sends once, and so on.
    skipped = [[int(infos[i].skipped) for out, infos in log] for i in range(2)]
    assert skipped[0] == [0, 0, 1, 1, 0, 1]
    for t, (out, _infos) in enumerate(log):
        for i in range(2):
            msg = out[i][1 - i]  # the one other rank
            assert (len(msg) == 0) == bool(skipped[i][t])  # a skip sends an empty payload
    assert comm.counters[0].round_sent == 0  # the last round was a skip: 0 payload bytes
    np.testing.assert_array_equal(xs[0], xs[1])


def test_sasg_communicates_when_gradient_changes_and_applies_error_memory():
    cs = [[0.0, 0.0, 0.0, 0.0], [4.0, 0.0, 0.0, 0.0]]
    alg = SASG(size=4, world=2, block_sizes=[4], lr=0.1, ratio=0.25, window=1, xi=0.0)
    x0 = np.array([1.0, 2.0, 3.0, -4.0])
    xs, states, log, _ = drive(alg, cs, x0, rounds=1)
    # rank 0: p = α·g = 0.1·x0, top-1 keeps |−0.4| (index 3); e = the rest
    np.testing.assert_allclose(states[0].memory.e, [0.1, 0.2, 0.3, 0.0], rtol=1e-6)
    # rank 1: p = 0.1·(x0 − c1) = [−0.3, 0.2, 0.3, −0.4] → keeps index 3 too
    step = np.array([0, 0, 0, -0.4 - 0.4]) / 2
    np.testing.assert_allclose(xs[0], x0 - step, rtol=1e-6)
    xs, states, log, _ = drive(alg, cs, x0, rounds=3)  # ξ = 0: threshold 0, always sends
    assert all(info.skipped == 0 for out, infos in log for info in infos.values())


def test_adaptive_topk_budget_and_k_follow_the_gradient_norm():
    alg = AdaptiveTopK(size=1000, world=2, block_sizes=[1000], lr=0.1, budget_ratio=0.01,
                       rounds=100)
    st = alg.init_state(0, np.zeros(1000))
    ks = []
    for t, norm in enumerate([1.0] * 60 + [3.0] + [1.0] * 39, start=1):
        st.round = t
        k = alg.choose_k(st, norm)
        st.bits_used += 32 + k * alg.bits_per_entry
        ks.append(k)
    assert ks[0] == 10  # budget: 1% of d per step on average
    assert ks[60] > 2 * ks[59]  # a large gradient gets more coordinates
    assert st.bits_used <= alg.budget  # never past the budget
    # whole runs: K_t logged, models identical on every rank, error memory = p − c
    cs = np.random.default_rng(1).standard_normal((2, 1000))
    xs, states, log, _ = drive(alg, cs, np.zeros(1000), rounds=100)
    assert all(info.kept >= 1 for out, infos in log for info in infos.values())
    np.testing.assert_array_equal(xs[0], xs[1])
    assert states[0].bits_used <= alg.budget


def test_adaptive_topk_tensor_scope_splits_k_over_the_tensors():
    sizes = [600, 300, 100]
    alg = AdaptiveTopK(size=1000, world=2, block_sizes=sizes, lr=0.1, budget_ratio=0.05,
                       rounds=20, scope="tensor")
    cs = np.random.default_rng(2).standard_normal((2, 1000))
    cs[:, :600] *= 0.01  # the whole-model top-K would take nothing from the first tensor
    xs, states, log, _ = drive(alg, cs, np.zeros(1000), rounds=20)
    edges = np.cumsum([0, *sizes])
    for t, (out, infos) in enumerate(log):
        rep = alg.channel.receive_rep(out[1][0])  # rank 1's message of round t + 1
        k = int(infos[1].kept)
        per = np.histogram(rep.indices, bins=edges)[0]
        assert per.sum() == k  # sizes add up to K_t
        np.testing.assert_array_equal(per, split_k(k, sizes))
    assert per[0] > 0
    np.testing.assert_array_equal(xs[0], xs[1])
    # the same run over the whole model: nothing from the small-valued first tensor in round 1
    whole = AdaptiveTopK(size=1000, world=2, block_sizes=sizes, lr=0.1, budget_ratio=0.05,
                         rounds=20, scope="model")
    _, _, log, _ = drive(whole, cs, np.zeros(1000), rounds=1)
    assert (whole.channel.receive_rep(log[0][0][1][0]).indices >= 600).all()


def test_error_memory():
    m = ErrorMemory.zeros(3)
    p = m.compensate(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    m.update(p, np.array([1.0, 0.0, 3.0], dtype=np.float32))
    np.testing.assert_array_equal(m.e, [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(m.compensate(np.ones(3, dtype=np.float32)), [1.0, 3.0, 1.0])


def test_topk_ef_never_skips_and_keeps_the_error():
    from gossip.algorithms import TopKEF

    cs = [[1.0, 2.0], [1.0, 2.0]]  # at the minimiser: SASG would skip, top-k + EF never does
    alg = TopKEF(size=2, world=2, block_sizes=[2], lr=0.1, ratio=0.5)
    xs, states, log, _ = drive(alg, cs, np.array([1.0, 2.0]), rounds=5)
    assert all(info.skipped == 0 and len(out[i]) > 0 for out, infos in log
               for i, info in infos.items())
    cs = [[0.0, 0.0], [0.0, 0.0]]
    xs, states, log, _ = drive(alg, cs, np.array([3.0, -1.0]), rounds=1)
    np.testing.assert_allclose(states[0].memory.e, [0.0, -0.1], rtol=1e-6)  # |0.3| kept, −0.1 remembered


def test_sasg_code_compat_threshold_is_the_notebooks_under_the_mean_convention():
    # Notebook (sum convention, per-worker rate α = η/M): thr = S/(2·α·M²) = S/(2·η·M), with
    # S = Σ_{d=1..D−1}‖Δθ_d‖².  Here η = 0.1, M = 4, D = 3, history (‖Δθ‖², newest last)
    # [1.0, 0.5, 0.3]: S = 0.5 + 0.3 = 0.8, thr = 0.8/(2·0.1·4) = 1.0 (the old S/(2η) gave 4.0).
    alg = SASG(size=2, world=4, block_sizes=[2], lr=0.1, ratio=1.0, window=3,
               rule="code_compat")
    assert alg.threshold([1.0, 0.5, 0.3]) == pytest.approx(1.0)
    # A rank whose gradient moved by δ = ‖g − g_stale‖² = 2.0 (between 1.0 and 4.0) must send.
    st = alg.init_state(0, np.zeros(2))
    st.round, st.staleness, st.history = 3, 1, [1.0, 0.5, 0.3]
    st.x_sent = np.array([1.0, 0.0], dtype=np.float32)
    x = np.array([0.0, 1.0], dtype=np.float32)  # ∇f = x − c: δ = ‖x − x_sent‖² = 2.0
    _, info = alg.compose(st, x, Quadratic([0.0, 0.0], x))
    assert info.skipped == 0.0 and info.message_bytes > 0
    # δ = 0.5 < 1.0: skips
    st2 = alg.init_state(0, np.zeros(2))
    st2.round, st2.staleness, st2.history = 3, 1, [1.0, 0.5, 0.3]
    st2.last[0] = st.pending
    st2.x_sent = np.array([0.5, 0.5], dtype=np.float32)
    _, info = alg.compose(st2, x, Quadratic([0.0, 0.0], x))
    assert info.skipped == 1.0
