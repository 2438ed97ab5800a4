"""Training on image data read from disk (real IDX / CIFAR binary formats written here)."""

import json
import struct

import numpy as np
import pytest
import support
import torch


def write_idx(path, magic, dims, data):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims))
        f.write(data.tobytes())


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    for split, n in (("train", 64), ("t10k", 32)):
        y = rng.integers(0, 10, n).astype(np.uint8)
        x = (rng.random((n, 28, 28)) * 50).astype(np.uint8)
        for i in range(n):
            x[i, 2 * y[i]:2 * y[i] + 6, 5:20] = 250  # a label-dependent bar: learnable
        write_idx(d / f"{split}-images-idx3-ubyte", 2051, (n, 28, 28), x)
        write_idx(d / f"{split}-labels-idx1-ubyte", 2049, (n,), y)
    return d


@pytest.fixture(scope="module")
def cifar_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cifar") / "cifar-10-batches-bin"
    d.mkdir()
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        rec = rng.integers(0, 256, (4, 3073)).astype(np.uint8)
        rec[:, 0] %= 10
        rec.tofile(d / name)
    return d.parent


def gossip(*args):
    return support.train(*args)


def test_mnist_cnn_learns(tmp_path, mnist_dir):
    r = gossip("--dataset", "mnist", "--data-dir", str(mnist_dir), "--model", "cnn", "--ranks", "2",
               "--rounds", "60", "--batch-size", "8", "--norm", "inf", "--gamma",
               "0.3", "--no-tau-scaling", "--levels", "4", "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["final_avg_test_accuracy"] > 0.3  # chance is 0.1
    assert s["model_entries"] > 20000


def test_resnet18_bn_buffers_resume_bit_identical(tmp_path, cifar_dir):
    common = ["--dataset", "cifar10", "--data-dir", str(cifar_dir), "--model", "resnet18",
              "--ranks", "2", "--rounds", "3", "--eval-every", "3", "--batch-size", "4",
              "--checkpoint-every", "0"]
    assert gossip("--out", str(tmp_path / "a"), *common).returncode == 0
    b = gossip("--out", str(tmp_path / "b"), "--stop-at-round", "1", *common)
    assert b.returncode == 75, b.stderr
    c = gossip("--out", str(tmp_path / "b"), "--resume", *common)
    assert c.returncode == 0, c.stderr
    for r in range(2):
        ma = torch.load(tmp_path / "a" / "rank_models" / f"rank{r:04d}.pt", weights_only=True)
        mb = torch.load(tmp_path / "b" / "rank_models" / f"rank{r:04d}.pt", weights_only=True)
        assert any("running_mean" in k for k in ma)
        assert all(torch.equal(ma[k], mb[k]) for k in ma), r


def test_missing_data_dir_is_a_clear_error(tmp_path):
    r = gossip("--dataset", "mnist", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "--data-dir" in r.stderr
    r = gossip("--dataset", "mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "train-images-idx3-ubyte" in r.stderr and "offline" in r.stderr
    assert not (tmp_path / "o").exists()
    r = gossip("--model", "cnn", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "image data" in r.stderr
