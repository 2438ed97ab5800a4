"""Time-varying graphs: the schedule, and public copies identical at both ends of every edge."""

import numpy as np
import pytest
import support

import topologies
from gossip import config
from gossip.run import Run, build_topology


def test_schedule_matching_and_drop():
    base = topologies.make_topology("complete", 6)
    m = topologies.Schedule(base.edges, 6, "matching", seed=3)
    for t in range(1, 50):
        act = m.active(t)
        assert set(act) <= set(base.edges)
        nodes = [v for e in act for v in e]
        assert len(nodes) == len(set(nodes)) == 6  # a perfect matching of K6 (maximal)
        for i in range(6):
            row = m.row(t, i)
            assert abs(sum(row.values()) - 1) < 1e-12 and all(w > 0 for w in row.values())
    assert m.active(7) == topologies.Schedule(base.edges, 6, "matching", seed=3).active(7)
    assert len({m.active(t) for t in range(1, 30)}) > 3  # it changes over time
    d = topologies.Schedule(base.edges, 6, "drop", drop_prob=0.3, seed=0)
    frac = np.mean([len(d.active(t)) / len(base.edges) for t in range(1, 400)])
    assert abs(frac - 0.7) < 0.03
    s = topologies.Schedule(base.edges, 6, "static")
    assert s.active(5) == tuple(base.edges)
    W = np.zeros((6, 6))  # W(t) is symmetric and doubly stochastic
    for i in range(6):
        for j, w in d.row(11, i).items():
            W[i, j] = w
    assert np.allclose(W, W.T) and np.allclose(W.sum(0), 1)


Spy = support.spy_communicator()


@pytest.mark.parametrize("mode, algo", [("matching", {"name": "malcom"}),
                                        ("drop", {"name": "malcom", "subtractive_dither": True}),
                                        ("drop", {"name": "choco", "compressor": "topk",
                                                  "codec": "sparse", "gamma": 0.04})])
def test_edge_copies_identical_at_both_ends(tmp_path, mode, algo):
    cfg = config.load(None, {"topology": {"name": "torus", "time_varying": mode},
                             "algorithm": algo,
                             "train": {"comm": "inprocess", "ranks": 9, "progress": False}})
    topo = build_topology(cfg, 9)
    comm = Spy(list(topo.neighbours))
    run = Run(cfg, comm, topo, tmp_path)
    for t in range(1, 31):
        run.round(t)
        active = run.algorithm.schedule.active(t)
        for i in range(9):  # only active edges carried messages
            assert set(comm.log[-1][i]) == set(run.algorithm.schedule.neighbours(t, i))
        assert sum(len(m) for m in comm.log[-1].values()) == 2 * len(active)
    for i in range(9):
        for j in topo.neighbours[i]:
            a, b = run.workers[i].state, run.workers[j].state
            assert np.array_equal(a.own[j], b.theirs[i]), (i, j)  # bit-identical copies


def test_time_varying_refused_for_allgather_methods():
    with pytest.raises(config.ConfigError, match="graph algorithms"):
        config.load(None, {"topology": {"time_varying": "matching"},
                           "algorithm": {"name": "sasg"}})
