"""Failures under real MPI: a killed rank, a signal on one rank, non-finite numbers."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import support

from gossip.run import checkpoint

pytestmark = pytest.mark.mpi
from support import MPIEXEC  # noqa: E402


def rank_pids(marker: str) -> dict[int, int]:
    """PID of every MPI rank whose command line contains ``marker`` (from /proc)."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if marker not in cmd or "python" not in cmd:
                continue
            env = dict(kv.split("=", 1) for kv in (d / "environ").read_bytes().decode(
                errors="replace").split("\0") if "=" in kv)
        except OSError:
            continue
        if "PMI_RANK" in env:
            out[int(env["PMI_RANK"])] = int(d.name)
    return out


def start(out: Path, *extra: str, cleanup: bool = True):
    # each rank's stderr straight into its own file: a launcher tearing the job down cannot
    # swallow the last lines the ranks wrote
    errs = ["-errfile-pattern", str(out.parent / f"{out.name}.err.%r")]
    cmd = [MPIEXEC, *([] if cleanup else ["-disable-auto-cleanup"]), *errs, "-n", "4", sys.executable,
           "-m", "gossip", "train", "--rounds", "100000", "--out", str(out), "--no-progress",
           "--exchange-timeout", "5", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_progress(out: Path, proc, lines: int = 200) -> dict[int, int]:
    deadline = time.time() + 120
    while time.time() < deadline:
        m = out / "metrics.jsonl"
        if m.exists() and m.read_text().count("\n") >= lines:
            pids = rank_pids(str(out))
            if len(pids) == 4:
                return pids
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("the run made no progress")


def rank_errors(out: Path) -> str:
    return "".join(p.read_text() for p in sorted(out.parent.glob(f"{out.name}.err.*")))


def test_killed_rank_never_hangs_the_others(tmp_path):
    # -disable-auto-cleanup asks the launcher to leave the survivors to notice by themselves;
    # MPICH's launcher still tears some jobs down at once.  Either way: everyone exits non-zero
    # within 30 s, and whatever a survivor reports names rank 2.  (The naming itself is checked
    # deterministically by test_hung_rank_is_named.)
    for attempt in range(2):
        out = tmp_path / f"o{attempt}"
        proc = start(out, cleanup=False)
        pids = wait_for_progress(out, proc)
        t0 = time.time()
        os.kill(pids[2], signal.SIGKILL)
        proc.communicate(timeout=60)
        took = time.time() - t0
        assert proc.returncode != 0
        assert took < 30, took
        errors = rank_errors(out)
        if errors:
            assert "no answer from rank 2" in errors or "lost rank 2" in errors, errors


def test_hung_rank_is_named(tmp_path):
    proc = start(tmp_path / "o")
    pids = wait_for_progress(tmp_path / "o", proc)
    err, took = support.stop_rank_and_wait(proc, pids, 3)  # alive but stuck
    assert proc.returncode != 0 and took < 30
    assert "no answer from rank 3" in err + rank_errors(tmp_path / "o"), err


def test_sigusr1_on_one_rank_checkpoints_every_rank(tmp_path):
    out = tmp_path / "o"
    proc = start(out, "--checkpoint-every", "0")
    pids = wait_for_progress(out, proc)
    os.kill(pids[1], signal.SIGUSR1)
    proc.communicate(timeout=60)
    err = rank_errors(out)
    assert proc.returncode == 75, err
    assert "stopped by SIGTERM/SIGUSR1 on another rank" in err and "--resume" in err
    t = checkpoint.latest_complete(out, 4)
    assert t is not None  # all four ranks wrote the same round
    last = max(json.loads(x)["round"] for x in (out / "metrics.jsonl").read_text().splitlines())
    assert last == t  # metrics are complete up to the checkpointed round


def test_non_finite_model_stops_the_run(tmp_path):
    r = subprocess.run([sys.executable, "-m", "gossip", "train", "--comm", "inprocess",
                        "--algorithm", "dpsgd", "--lr", "1e30", "--rounds", "50",
                        "--checkpoint-every", "1", "--out", str(tmp_path / "o"), "--no-progress"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "non-finite" in r.stderr and "lower --lr" in r.stderr
    assert "Traceback" not in r.stderr
    t = checkpoint.latest_complete(tmp_path / "o", 4)
    assert t is not None  # the last good checkpoint set stays
    ck = checkpoint.load(checkpoint.rank_file(tmp_path / "o", t, 0))
    import numpy as np

    assert np.isfinite(ck["x"]).all()


def test_second_signal_exits_at_once(tmp_path):
    out = tmp_path / "o"
    proc = subprocess.Popen([sys.executable, "-m", "gossip", "train", "--comm", "inprocess",
                             "--rounds", "100000", "--out", str(out), "--no-progress",
                             "--hidden", "30000", "--checkpoint-every", "0"],  # ~1 s rounds
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not ((out / "metrics.jsonl").exists() and (out / "metrics.jsonl").stat().st_size):
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.1)  # two separate deliveries (a pending signal is not queued twice)
    proc.send_signal(signal.SIGTERM)  # the second one: no waiting for the round to finish
    proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
