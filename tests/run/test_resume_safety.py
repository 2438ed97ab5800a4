"""Nothing lost, one clear message: corrupt checkpoint sets are skipped (and kept), unusable
--out directories are refused before anything is written, finished runs can be extended."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import support
import torch

from gossip.run import checkpoint
from gossip.run.metrics import read_metrics

MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
COMMON = ["--ranks", "3", "--model", "logreg", "--seed", "5", "--eval-every", "10"]


def gossip(*args):
    return support.train(*args)


def same_run(a: Path, b: Path) -> None:
    for r in range(3):
        ma = torch.load(a / "rank_models" / f"rank{r:04d}.pt", weights_only=True)
        mb = torch.load(b / "rank_models" / f"rank{r:04d}.pt", weights_only=True)
        assert all(torch.equal(ma[k], mb[k]) for k in ma)
    assert read_metrics(a) == read_metrics(b)
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    for s in (sa, sb):
        s.pop("wall_seconds"), s.pop("launch_to_first_round_s")
    assert sa == sb


def truncate(f: Path) -> None:
    f.write_bytes(f.read_bytes()[:-100])


def flip(f: Path) -> None:
    b = bytearray(f.read_bytes())
    b[len(b) // 2] ^= 0xFF
    f.write_bytes(bytes(b))


def test_corrupt_files_are_clean_errors(tmp_path):
    f = tmp_path / "c.npz"
    for damage, reason in [(truncate, "truncated"), (flip, "checksum")]:
        checkpoint.save(f, {"x": np.arange(1000.0), "n": 3})
        damage(f)
        with pytest.raises(checkpoint.CheckpointError, match=str(f)) as e:
            checkpoint.load(f)
        assert e.value.reason == reason
        with pytest.raises(checkpoint.CheckpointError, match="unreadable"):  # zip CRC, unchecked
            checkpoint.load(f, check=False)
    checkpoint.save(f, {"x": np.arange(4.0)})
    checkpoint.checksum_file(f).unlink()
    with pytest.raises(checkpoint.CheckpointError, match="checksum file") as e:
        checkpoint.load(f)
    assert e.value.reason == "nochecksum"


def test_prune_keeps_the_newest_complete_sets(tmp_path):
    for r in (10, 20):
        for k in range(2):
            checkpoint.save(checkpoint.rank_file(tmp_path, r, k), {"r": r})
    checkpoint.save(checkpoint.rank_file(tmp_path, 30, 0), {"r": 30})  # rank 1 never wrote 30
    bad = checkpoint.set_aside(tmp_path, 10, "checksum")
    checkpoint.prune(tmp_path, 1, 2)
    assert checkpoint.complete_rounds(tmp_path, 2) == [20]  # the only complete set stays
    assert bad.is_dir() and checkpoint.round_dir(tmp_path, 30).is_dir()


def test_resume_skips_corrupt_sets_and_matches_an_uninterrupted_run(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    extra = ["--rounds", "30", "--checkpoint-every", "5", "--keep-checkpoints", "4"]
    assert gossip("--out", str(a), *COMMON, *extra).returncode == 0
    assert gossip("--out", str(b), *COMMON, *extra, "--stop-at-round", "20").returncode == 75
    truncate(checkpoint.rank_file(b, 20, 1))
    flip(checkpoint.rank_file(b, 15, 2))
    checkpoint.save(checkpoint.rank_file(b, 10, 0), {"x": np.arange(3)})  # verifies, wrong arrays
    r = gossip("--out", str(b), *COMMON, *extra, "--resume")
    assert r.returncode == 0, r.stderr
    for t, name, why in [(20, "rank0001", "truncated"), (15, "rank0002", "checksum"),
                         (10, "rank0000", "contents")]:
        assert (f"skipping the round-{t} checkpoint set: {name}.npz is" in r.stderr
                and f"kept as ckpt/round{t:08d}.bad-{why} for inspection" in r.stderr), r.stderr
        assert (b / "ckpt" / f"round{t:08d}.bad-{why}").is_dir()
    assert "resuming from the round-5 checkpoint" in r.stdout
    same_run(a, b)


def test_unusable_out_is_refused_before_anything_is_written(tmp_path):
    (tmp_path / "afile").write_text("x")
    cases = {"/sys/gossip-out": "cannot create files in /sys (Permission denied)",
             "/proc/gossip-out": "cannot create files in /proc",
             str(tmp_path / "afile"): "is a file, not a directory",
             str(tmp_path / "no" / "out"): "its parent directory"}
    for out, msg in cases.items():
        r = gossip("--out", out, "--rounds", "3", "--model", "logreg")
        assert r.returncode == 2 and msg in r.stderr, (out, r.stderr)
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
        assert not os.path.exists(out) or out.endswith("afile")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_finished_run_continues_bit_identically(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    extra = ["--checkpoint-every", "10"]
    assert gossip("--out", str(a), *COMMON, *extra, "--rounds", "40").returncode == 0
    r = gossip("--out", str(b), *COMMON, *extra, "--rounds", "20", "--keep-checkpoints", "1")
    assert r.returncode == 0 and (b / "ckpt" / "round00000020").is_dir()  # the last round
    r = gossip("--out", str(b), *COMMON, *extra, "--rounds", "40", "--resume")
    assert r.returncode == 0 and "resuming from the round-20 checkpoint" in r.stdout, r.stderr
    assert "launch to first round: " in r.stdout
    same_run(a, b)
    r = gossip("--out", str(b), *COMMON, *extra, "--rounds", "30", "--resume")
    assert r.returncode == 2 and "is at round 40, beyond --rounds 30" in r.stderr


def test_one_rank_summary(tmp_path):
    r = gossip("--out", str(tmp_path / "o"), "--ranks", "1", "--model", "logreg", "--rounds", "3",
               "--checkpoint-every", "0")
    assert r.returncode == 0, r.stderr
    assert "on 1 rank (" in r.stdout and "no peers: nothing sent" in r.stdout
    assert "bits per model entry" not in r.stdout
    assert ("(config.toml, metrics.jsonl, summary.json, model.pt, rank_models/, ckpt/)"
            in r.stdout)
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["mean_bits_per_entry"] is None and s["launch_to_first_round_s"] > 0


@pytest.mark.mpi
def test_ranks_agree_on_a_corrupt_set_and_refuse_once_under_mpi(tmp_path):
    """Only rank 2's file of round 20 is bad: all four ranks skip that set together; then the
    --rounds change of adaptive-topk is refused by every rank and printed once."""
    out = tmp_path / "r"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def mpi(*args):
        return subprocess.run([MPIEXEC, "-n", "4", sys.executable, "-m", "gossip", "train",
                               "--no-progress", "--out", str(out), "--model", "logreg",
                               "--algorithm", "adaptive-topk", "--checkpoint-every", "10", *args],
                              capture_output=True, text=True, timeout=300, env=env)

    assert mpi("--rounds", "20").returncode == 0
    flip(checkpoint.rank_file(out, 20, 2))
    r = mpi("--rounds", "40", "--resume")
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.count("skipping the round-20 checkpoint set: rank0002.npz is corrupt") == 1
    assert r.stderr.count("checkpoint error") == 1, r.stderr
    assert "depends on the total number of rounds (algorithm adaptive-topk" in r.stderr
    assert (out / "ckpt" / "round00000020.bad-checksum").is_dir()
