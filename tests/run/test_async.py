"""Asynchronous mode: the seeded in-process simulator, staleness bound, flush, bad combinations."""

import json

import pytest
import support

from gossip import config
from gossip.comm import InProcessCommunicator
from gossip.run import build_topology
from gossip.run.async_loop import AsyncRun
from gossip.run.metrics import read_metrics


def run_async(tmp_path, name="a", **train):
    run = make_run(tmp_path, name, **train)
    return run, run.execute()


def make_run(tmp_path, name="a", **train):
    algo = train.pop("algo", {"name": "malcom"})
    topo = train.pop("topology", "ring")
    n = train.pop("ranks", 4)
    cfg = config.load(None, {"algorithm": algo, "topology": {"name": topo},
                             "train": {"comm": "inprocess", "ranks": n, "progress": False,
                                       "mode": "async", "rounds": 30, "eval_every": 15, **train}})
    topo = build_topology(cfg, n)
    return AsyncRun(cfg, InProcessCommunicator(list(topo.neighbours)), topo, tmp_path / name)


def assert_copies_identical(run):
    """Both ends of every directed edge hold the same bits of its public copy."""
    states = {w.rank: w.state for w in run.workers}
    for i, st in states.items():
        for j in run.algorithm.peers[i]:
            assert st.own[j].tobytes() == states[j].theirs[i].tobytes()
            assert st.applied[j] == states[j].step


@pytest.mark.parametrize("algo", [{"name": "malcom"}, {"name": "dpsgd"},
                                  {"name": "choco", "subtractive_dither": True}])
def test_simulated_runs_reproducible_and_copies_identical(tmp_path, algo):
    r1, s1 = run_async(tmp_path, "a", algo=algo, slowdown="1:3", seed=5)
    r2, s2 = run_async(tmp_path, "b", algo=algo, slowdown="1:3", seed=5)
    assert_copies_identical(r1)
    for w1, w2 in zip(r1.workers, r2.workers):
        assert w1.model.x.tobytes() == w2.model.x.tobytes()
    assert read_metrics(tmp_path / "a") == read_metrics(tmp_path / "b")
    assert s1["staleness_histogram"] == s2["staleness_histogram"]
    assert s1["total_bytes_sent"] == s2["total_bytes_sent"] > 0
    assert s1["copies_identical_after_flush"] and s1["steps_per_rank"] == [30] * 4
    # a different schedule seed gives another interleaving (same data split and init)
    r3, _ = run_async(tmp_path, "c", algo=algo, slowdown="1:3", seed=5, sim_delay=1.5)
    assert_copies_identical(r3)
    assert any(a.model.x.tobytes() != b.model.x.tobytes() for a, b in zip(r1.workers, r3.workers))


def test_staleness_never_exceeds_the_bound_and_waits_are_reported(tmp_path):
    run, s = run_async(tmp_path, max_staleness=2, slowdown="2:6", rounds=40, ranks=6,
                       sim_delay=0.5)
    for hist in s["staleness_histogram"]:
        assert len(hist) == 3 and sum(hist) > 0  # bins 0..2: nothing above the bound
    assert s["wait_seconds"][1] > 5 and s["wait_seconds"][3] > 5  # the straggler's neighbours
    rows = [r for r in read_metrics(tmp_path / "a", timing=True) if r["rank"] >= 0]
    assert max(r["staleness"] for r in rows if "staleness" in r) <= 2
    assert max(r["wait_s"] for r in rows if r["rank"] == 1) > 5
    assert_copies_identical(run)
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["mode"] == "async" and summary["max_staleness"] == 2


def test_time_budget_ends_ranks_at_their_own_step(tmp_path):
    run, s = run_async(tmp_path, rounds=1000, time_budget=20.0, slowdown="0:4", sim_delay=0.1,
                       max_staleness=8)
    steps = s["steps_per_rank"]
    assert 4 <= steps[0] <= 6 and min(steps[1:]) >= 12  # the 4x-slow rank did fewer steps
    assert_copies_identical(run)
    assert (tmp_path / "a" / "model.pt").is_file()
    assert (tmp_path / "a" / "rank_models" / "rank0003.pt").is_file()


def test_async_converges_in_process(tmp_path):
    _, s = run_async(tmp_path, algo={"name": "dpsgd"}, rounds=300, eval_every=300)
    assert s["final_avg_test_accuracy"] > 0.88  # sync: 0.925 (in-process, 300 rounds)


@pytest.mark.parametrize("flags, words", [
    (["--mode", "async", "--algorithm", "sasg"], ["train.mode = 'async'", "sasg", "--mode sync"]),
    (["--mode", "async", "--time-varying", "matching"], ["time_varying", "--time-varying static"]),
    (["--mode", "async", "--max-staleness", "0"], ["max_staleness = 0", "--mode sync"]),
    (["--slowdown", "2x"], ["train.slowdown = '2x'", "RANK:FACTOR"]),
    (["--slowdown", "9:2", "--rounds", "1"], ["rank 9 does not exist", "0 to 3"]),
    (["--time-budget", "5"], ["time_budget", "--mode async"]),
])
def test_bad_combinations_one_clear_message_exit_2(tmp_path, flags, words):
    r = support.train("--out", str(tmp_path / "o"), *flags)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("gossip:") == 1
    for w in words:
        assert w in r.stderr
    assert not any((tmp_path / "o").glob("*.pt"))


def rank_steps(out):
    rows = [r for r in read_metrics(out) if r["rank"] >= 0]
    return {k: sorted(r["round"] for r in rows if r["rank"] == k)
            for k in {r["rank"] for r in rows}}


def test_stop_checkpoints_every_rank_at_its_own_step_and_resume_continues(tmp_path, monkeypatch):
    from gossip.run import checkpoint
    from gossip.run.async_rank import AsyncRank
    from gossip.run.errors import Preempted
    from gossip.run.stop import STOP

    step = AsyncRank.step

    def step_then_signal(self, *a):  # a signal arrives while rank 0 is at its step 10
        step(self, *a)
        if self.rank == 0 and self.state.step == 10:
            STOP.requested = True

    monkeypatch.setattr(AsyncRank, "step", step_then_signal)
    monkeypatch.setattr(STOP, "requested", False)
    run = make_run(tmp_path, slowdown="2:3", seed=3)
    with pytest.raises(Preempted) as stop:
        run.execute()
    assert_copies_identical(run)  # flushed before the checkpoint
    monkeypatch.setattr(AsyncRank, "step", step)
    STOP.requested = False
    key = stop.value.round
    assert checkpoint.latest_complete(tmp_path / "a", 4) == key
    saved = {k: checkpoint.load(checkpoint.rank_file(tmp_path / "a", key, k))["state"]
             for k in range(4)}
    steps = [saved[k]["step"] for k in range(4)]
    assert max(steps) == key and len(set(steps)) > 1 and steps[2] < 10  # own steps; 2 is slow
    assert rank_steps(tmp_path / "a") == {k: list(range(1, s + 1)) for k, s in enumerate(steps)}
    assert not (tmp_path / "a" / "summary.json").exists()

    run = make_run(tmp_path, slowdown="2:3", seed=3, resume=True)
    s = run.execute(key)
    assert_copies_identical(run)
    assert s["steps_per_rank"] == [30] * 4 and s["copies_identical_after_flush"]
    assert rank_steps(tmp_path / "a") == {k: list(range(1, 31)) for k in range(4)}
    for k, hist in enumerate(s["staleness_histogram"]):  # carried over the stop
        assert sum(hist) > sum(saved[k]["staleness"]) and min(
            a - b for a, b in zip(hist, saved[k]["staleness"])) >= 0
    assert s["final_avg_test_accuracy"] > 0.2


def test_stop_at_round_is_each_ranks_own_step(tmp_path):
    from gossip.run import checkpoint
    from gossip.run.errors import Preempted

    with pytest.raises(Preempted) as stop:
        run_async(tmp_path, slowdown="1:4", stop_at_round=7)
    assert stop.value.round == 7
    for k in range(4):
        tree = checkpoint.load(checkpoint.rank_file(tmp_path / "a", 7, k))
        assert tree["state"]["step"] == 7


def test_straggler_bench_refuses_flags_it_sets_itself(capsys):
    from gossip.tools.bench import straggler

    assert straggler.main(["--out", "/tmp/elsewhere"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out is set by the benchmark itself" in err
