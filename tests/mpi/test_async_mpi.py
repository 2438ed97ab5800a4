"""Asynchronous mode under mpiexec: copies agree after the flush, a stopped rank is named."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import support

from support import MPIEXEC, mpirun
from test_failures import rank_errors, rank_pids

pytestmark = pytest.mark.mpi


@pytest.mark.parametrize("n, algo, extra", [
    (4, "malcom", ["--slowdown", "1:3", "--max-staleness", "3", "--rounds", "60"]),
    (8, "dpsgd", ["--topology", "exponential", "--slowdown", "5:2", "--max-staleness", "2",
                  "--rounds", "25"]),
])
def test_async_mpi_copies_identical_and_bounded(tmp_path, n, algo, extra):
    out = tmp_path / "o"
    r = mpirun(n, "-m", "gossip", "train", "--mode", "async", "--algorithm", algo,
               "--eval-every", "20", "--out", str(out), "--no-progress", *extra, timeout=300)
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    rounds = int(extra[extra.index("--rounds") + 1])
    bound = int(extra[extra.index("--max-staleness") + 1])
    assert s["communicator"] == "mpi" and s["mode"] == "async" and s["clock"] == "wall"
    assert s["copies_identical_after_flush"]  # each rank compared sha256 digests, else exit 1
    assert s["steps_per_rank"] == [rounds] * n
    assert all(len(h) == bound + 1 and sum(h) > 0 for h in s["staleness_histogram"])
    assert max(s["wait_seconds"]) > 0
    assert s["total_bytes_sent"] > 0 and s["final_avg_test_accuracy"] > 0.2  # chance: 0.1
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert {x["rank"] for x in rows} == set(range(-1, n))
    assert max(x.get("staleness", 0) for x in rows) <= bound


def test_async_stopped_rank_is_named_nobody_hangs(tmp_path):
    out = tmp_path / "o"
    errs = ["-errfile-pattern", str(out.parent / f"{out.name}.err.%r")]
    proc = subprocess.Popen([MPIEXEC, *errs, "-n", "4", sys.executable, "-m", "gossip", "train",
                             "--mode", "async", "--rounds", "100000", "--out", str(out),
                             "--no-progress", "--exchange-timeout", "5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "config.toml").exists() or len(rank_pids(str(out))) < 4:
        assert time.time() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    time.sleep(3.0)  # let the ranks run asynchronously for a while
    pids = rank_pids(str(out))
    err, took = support.stop_rank_and_wait(proc, pids, 3)
    assert proc.returncode != 0 and took < 30
    assert "no answer from rank 3" in err + rank_errors(out), err


def test_async_sigterm_checkpoints_then_resume_finishes(tmp_path):
    out = tmp_path / "o"
    steps = 1200  # long enough that the signal lands mid-run on a fast machine
    args = ["-m", "gossip", "train", "--mode", "async", "--rounds", str(steps), "--eval-every", "50",
            "--slowdown", "1:3", "--out", str(out), "--no-progress"]
    proc = subprocess.Popen([MPIEXEC, "-n", "4", sys.executable, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "config.toml").exists() or len(rank_pids(str(out))) < 4:
        assert time.time() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    time.sleep(1.0)
    os.kill(rank_pids(str(out))[2], signal.SIGTERM)  # one rank: the stop spreads
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 75, err
    assert "--resume" in err and not (out / "summary.json").exists()
    sets = sorted((out / "ckpt").iterdir())
    assert len(sets) == 1 and len(list(sets[0].glob("rank*.npz"))) == 4
    r = mpirun(4, *args, "--resume", timeout=300)
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["steps_per_rank"] == [steps] * 4 and s["copies_identical_after_flush"]
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    for k in range(4):  # every step of every rank once, over the two runs
        assert sorted(x["round"] for x in rows if x["rank"] == k) == list(range(1, steps + 1))
