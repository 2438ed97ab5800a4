"""Checkpoint and resume: bit-identical continuation for every algorithm; wrong runs refused."""

import json

from gossip.run.metrics import read_metrics

import numpy as np
import pytest
import support
import torch

from gossip.run import checkpoint
from gossip.messages import Sparse

ALGOS = [
    ["--algorithm", "malcom"],
    ["--algorithm", "malcom", "--subtractive-dither"],
    ["--algorithm", "choco", "--compressor", "randk", "--codec", "sparse", "--gamma", "0.05"],
    ["--algorithm", "dpsgd"],
    ["--algorithm", "adaptive-topk", "--model", "logreg"],
    ["--algorithm", "gdsec", "--model", "logreg"],
    ["--algorithm", "sasg", "--model", "logreg", "--sasg-window", "3"],
    ["--algorithm", "malcom", "--time-varying", "matching", "--topology", "complete"],
]


def gossip(*args):
    return support.train(*args)


@pytest.mark.parametrize("algo", ALGOS, ids=lambda a: " ".join(a[1:]))
def test_resume_is_bit_identical(tmp_path, algo):
    common = ["--rounds", "24", "--eval-every", "8", "--checkpoint-every", "10", "--ranks", "3",
              "--seed", "5", *algo]
    a = gossip("--out", str(tmp_path / "a"), *common)
    assert a.returncode == 0, a.stderr
    b = gossip("--out", str(tmp_path / "b"), "--stop-at-round", "13", *common)
    assert b.returncode == 75, b.stderr  # preempted: distinct exit code
    assert "--resume" in b.stderr
    assert checkpoint.latest_complete(tmp_path / "b", 3) == 13
    assert not (tmp_path / "b" / "summary.json").exists()
    c = gossip("--out", str(tmp_path / "b"), "--resume", *common)
    assert c.returncode == 0, c.stderr
    assert "resuming from the round-13 checkpoint" in c.stdout
    for r in range(3):
        ma = torch.load(tmp_path / "a" / "rank_models" / f"rank{r:04d}.pt", weights_only=True)
        mb = torch.load(tmp_path / "b" / "rank_models" / f"rank{r:04d}.pt", weights_only=True)
        assert all(torch.equal(ma[k], mb[k]) for k in ma)
    assert read_metrics(tmp_path / "a") == read_metrics(tmp_path / "b")
    sa = json.loads((tmp_path / "a" / "summary.json").read_text())
    sb = json.loads((tmp_path / "b" / "summary.json").read_text())
    for s in (sa, sb):
        s.pop("wall_seconds"), s.pop("launch_to_first_round_s")
    assert sa == sb
    # only the newest --keep-checkpoints (2) sets remain: rounds 20 and 24 (the last round)
    assert sorted(p.name for p in (tmp_path / "b" / "ckpt").glob("round*")) == [
        "round00000020", "round00000024"]


def test_resume_refuses_another_run(tmp_path):
    out = str(tmp_path / "r")
    assert gossip("--out", out, "--rounds", "10", "--stop-at-round", "5").returncode == 75
    r = gossip("--out", out, "--rounds", "10", "--resume", "--lr", "0.2")
    assert r.returncode == 2 and "algorithm.lr: checkpoint 0.1, now 0.2" in r.stderr
    r = gossip("--out", out, "--rounds", "10", "--resume", "--topology", "complete")
    assert r.returncode == 2 and "topology" in r.stderr
    assert r.stderr.count("checkpoint error") == 1  # once, not once per rank
    r = gossip("--out", out, "--rounds", "10", "--resume", "--ranks", "5")
    # 5 ranks: no complete 5-rank set exists, so it would start fresh... into a used directory
    assert r.returncode == 0 or "checkpoint" in r.stderr
    r = gossip("--out", out, "--rounds", "10")
    assert r.returncode == 2 and "not empty" in r.stderr and "--resume" in r.stderr


def test_state_round_trip_without_pickle(tmp_path):
    g = np.random.default_rng(3)
    g.random(5)
    tree = {"x": np.arange(4, dtype=np.float32), "n": 3, "h": [0.5, 1.5], "rng": g,
            "last": {2: Sparse(np.array([1, 3]), np.array([0.5, -1.0], np.float32), 4)},
            "none": None}
    checkpoint.save(tmp_path / "c.npz", tree)
    back = checkpoint.load(tmp_path / "c.npz")
    assert np.array_equal(back["x"], tree["x"]) and back["n"] == 3 and back["h"] == [0.5, 1.5]
    assert back["rng"].random() == g.random()  # the generator continues exactly
    assert isinstance(back["last"][2], Sparse) and back["last"][2].size == 4
    (tmp_path / "bad.npz").write_bytes(b"not a zip file")
    with pytest.raises(checkpoint.CheckpointError, match="unreadable"):
        checkpoint.load(tmp_path / "bad.npz")
