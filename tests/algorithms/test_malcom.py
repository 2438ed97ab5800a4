"""Malcom-PSGD in one process: public-copy tracking, byte accounting, the prox, training."""

import json

import numpy as np
import pytest
import support

from gossip.algorithms import NeighbourDecodeError, soft_threshold
from gossip.comm import InProcessCommunicator
from gossip.comm.base import INLINE


SpyCommunicator = support.spy_communicator()


def make_run(tmp_path, ranks=4, comm_cls=InProcessCommunicator, **sections):
    return support.make_run(tmp_path, ranks=ranks, comm_cls=comm_cls, **sections)


@pytest.mark.parametrize("subtractive", [False, True])
def test_public_copies_identical_at_every_holder(tmp_path, subtractive):
    run, topo, comm = make_run(tmp_path, ranks=5, comm_cls=SpyCommunicator,
                               topology={"name": "complete"},
                               algorithm={"subtractive_dither": subtractive})
    ch = run.algorithm.channel
    # Every holder's copy of x̂_j, rebuilt from the bytes that crossed the wire.
    held = {(i, j): run.workers[j].state.x_hat.copy() for i in range(5) for j in topo.neighbours[i]}
    for t in range(1, 41):
        run.round(t)
        for (i, j) in held:  # decode exactly the bytes that crossed the wire
            held[(i, j)] += ch.receive(comm.log[-1][j][i], j, t)
    for (i, j), copy in held.items():
        assert np.array_equal(copy, run.workers[j].state.x_hat), (i, j)  # bit-identical
    for i, w in enumerate(run.workers):  # s_i tracks Σ_j w_ij x̂_j (up to float32 summation order)
        expect = sum(topo.W[i, j] * run.workers[j].state.x_hat.astype(np.float64)
                     for j in (*topo.neighbours[i], i))
        np.testing.assert_allclose(w.state.s, expect, atol=1e-5)


def test_bytes_counted_equal_encoded_lengths(tmp_path):
    run, topo, comm = make_run(tmp_path, comm_cls=SpyCommunicator)
    for t in range(1, 11):
        run.round(t)
    for r in range(4):
        sent = sum(len(rnd[r][j]) for rnd in comm.log for j in topo.neighbours[r])
        recv = sum(len(rnd[j][r]) for rnd in comm.log for j in topo.neighbours[r])
        c = comm.counters[r]
        assert c.sent == sent and c.received == recv
        big = sum(len(rnd[r][j]) > INLINE for rnd in comm.log for j in topo.neighbours[r])
        assert c.control_sent == 8 * big  # length announcements of the large payloads only
        assert sum(c.per_neighbour_sent.values()) == sent


def test_soft_threshold_exact_zeros():
    y = np.array([-2.0, -0.5, 0.0, 0.3, 0.5, 1.5], dtype=np.float32)
    out = np.empty_like(y)
    soft_threshold(y, 0.5, out)
    assert out.tolist() == [-1.5, 0.0, 0.0, 0.0, 0.0, 1.0]


def test_corrupt_neighbour_message_names_neighbour_and_round(tmp_path):
    run, topo, comm = make_run(tmp_path)
    w = run.workers[0]
    w.new_round()
    msg, _ = run.algorithm.compose(w.state, w.model.x, w)
    bad = bytearray(msg)
    bad[-1] ^= 0x40
    inbox = {j: bytes(bad) for j in topo.neighbours[0]}
    with pytest.raises(NeighbourDecodeError, match=r"neighbour 1 in round 1"):
        run.algorithm.absorb(w.state, w.model.x, inbox, 1)


def test_training_learns_and_logs(tmp_path):
    run, topo, comm = make_run(tmp_path, train={"rounds": 300, "eval_every": 100})
    s = run.execute()
    assert s["final_avg_test_accuracy"] > 0.85
    assert s["bytes_vs_dpsgd"] < 1 / 16
    assert 0 < s["final_nonzero_fraction"] < 1  # the prox made exact zeros
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    per_rank = [x for x in lines if x["rank"] >= 0]
    assert len(per_rank) == 300 * 4
    for key in ("round", "rank", "loss", "bytes_sent", "bytes_received", "bits_per_entry",
                "symbol_entropy_bits", "nonzero_fraction"):
        assert all(key in x for x in per_rank), key
    evals = [x for x in per_rank if "test_accuracy" in x]
    assert len(evals) == 3 * 4 and all("consensus_distance" in x for x in evals)
    avg = [x for x in lines if x["rank"] == -1]
    assert [x["round"] for x in avg] == [100, 200, 300]
    assert sum(x["bytes_sent"] for x in per_rank) == s["total_bytes_sent"]
    # the entropy of the symbols is a lower bound on what the coder can reach (plus headers)
    assert all(x["bits_per_entry"] >= x["symbol_entropy_bits"] for x in per_rank)
