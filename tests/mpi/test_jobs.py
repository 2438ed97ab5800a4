"""jobs/: the SLURM batch script's logic (signal forwarding, requeue, resume) with stub srun and
scontrol on PATH, and the local launcher under real mpiexec."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def stub_path(tmp_path: Path) -> dict:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # srun: drop its own options, run the command (one process: gossip simulates the ranks)
    (bin_dir / "srun").write_text("#!/usr/bin/env bash\nwhile [[ $1 == -* ]]; do shift; done\n"
                                  "exec \"$@\" --comm inprocess --ranks 3\n")
    (bin_dir / "scontrol").write_text(f"#!/usr/bin/env bash\necho \"$@\" >> {tmp_path}/scontrol.log\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}",
            "SLURM_JOB_ID": "4242", "SLURM_SUBMIT_DIR": str(ROOT),
            "GOSSIP_OUT": str(tmp_path / "run")}


def test_time_limit_signal_checkpoints_requeues_and_resumes(tmp_path):
    env = stub_path(tmp_path)
    args = ["bash", str(ROOT / "jobs" / "slurm.sbatch"), "--rounds", "100000", "--model", "logreg",
            "--checkpoint-every", "0"]
    job = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.time() + 120
    while not (metrics.exists() and metrics.read_text().count("\n") > 300):
        assert time.time() < deadline and job.poll() is None
        time.sleep(0.2)
    job.send_signal(signal.SIGUSR1)  # what --signal=B:USR1@120 delivers to the batch shell
    out, _ = job.communicate(timeout=120)
    assert job.returncode == 75, out
    assert "asking every rank to checkpoint" in out and "requeueing job 4242" in out
    assert (tmp_path / "scontrol.log").read_text().split() == ["requeue", "4242"]
    assert any((tmp_path / "run" / "ckpt").iterdir())
    from gossip.run import checkpoint

    assert checkpoint.latest_complete(tmp_path / "run", 3) is not None  # every rank's file


def test_requeued_job_finishes(tmp_path):
    env = stub_path(tmp_path)
    args = ["bash", str(ROOT / "jobs" / "slurm.sbatch"), "--rounds", "40", "--model", "logreg"]
    first = subprocess.run(args + ["--stop-at-round", "15"], env=env, capture_output=True,
                           text=True, timeout=120)
    assert first.returncode == 75 and "requeueing job 4242" in first.stdout
    second = subprocess.run(args + ["--stop-at-round", "15"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "resuming from the round-15 checkpoint" in second.stdout
    assert (tmp_path / "run" / "summary.json").is_file()
    assert (tmp_path / "scontrol.log").read_text().count("requeue") == 1


def test_segment_without_progress_is_not_requeued(tmp_path):
    env = {**stub_path(tmp_path), "GOSSIP_MIN_PROGRESS": "10"}
    args = ["bash", str(ROOT / "jobs" / "slurm.sbatch"), "--rounds", "40", "--model", "logreg"]
    first = subprocess.run(args + ["--stop-at-round", "12"], env=env, capture_output=True,
                           text=True, timeout=120)
    assert first.returncode == 75 and "checkpointed round 12 (+12); requeueing" in first.stdout
    assert "launch to first round: " in first.stdout
    second = subprocess.run(args + ["--stop-at-round", "15"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert second.returncode == 75, second.stdout + second.stderr
    assert ("advanced 3 rounds (checkpoint round 12 -> 15), fewer than GOSSIP_MIN_PROGRESS=10: "
            "not requeueing job 4242") in second.stdout
    assert (tmp_path / "scontrol.log").read_text().count("requeue") == 1


def test_local_launcher_runs_under_mpiexec(tmp_path):
    r = subprocess.run(["bash", str(ROOT / "jobs" / "local.sh"), "3", "--rounds", "20",
                        "--model", "logreg", "--out", str(tmp_path / "o"), "--no-progress"],
                       capture_output=True, text=True, timeout=180,
                       env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert r.returncode == 0, r.stderr
    assert "3 ranks, mpi communicator" in r.stdout
