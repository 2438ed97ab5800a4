"""Real-format data files (IDX, CIFAR-10 binary) written here, read back by gossip.datasets;
the shards-by-label partition; the seeded image models."""

import gzip
import struct

import numpy as np
import pytest
import torch

from gossip.data import Dataset
from gossip.data.files import (
    CIFAR10_FILES,
    CIFAR10_MEAN,
    CIFAR10_STD,
    MNIST_FILES,
    DatasetError,
    MissingDatasetError,
    load_cifar10,
    load_mnist,
)
from gossip.data.partitions import shards_by_label
from gossip.models.vision import build_vision_model

N_TRAIN, N_TEST = 20, 10


# --- writers for the published formats (independent of the reader) -------------------------

def write_idx_images(path, images, gz=False):
    n, r, c = images.shape
    raw = struct.pack(">IIII", 0x00000803, n, r, c) + images.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def write_idx_labels(path, labels, gz=False):
    raw = struct.pack(">II", 0x00000801, len(labels)) + np.asarray(labels, np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def make_mnist(d, gz=False, seed=0):
    """Write the four IDX files into ``d``; return the (images, labels) written per split."""
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        img = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        img[0, 0, 0], img[0, 0, 1] = 0, 255  # both ends of the pixel range appear
        lab = rng.integers(0, 10, size=n, dtype=np.uint8)
        sfx = ".gz" if gz else ""
        write_idx_images(d / (MNIST_FILES[f"{split}_images"] + sfx), img, gz)
        write_idx_labels(d / (MNIST_FILES[f"{split}_labels"] + sfx), lab, gz)
        out[split] = (img, lab)
    return out


def make_cifar(d, records=12, seed=0):
    """Write the six CIFAR-10 binary batches into ``d``; return {file name: (pixels, labels)}."""
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in CIFAR10_FILES:
        lab = rng.integers(0, 10, size=records, dtype=np.uint8)
        px = rng.integers(0, 256, size=(records, 3072), dtype=np.uint8)
        with open(d / name, "wb") as f:
            for i in range(records):
                f.write(bytes([lab[i]]) + px[i].tobytes())  # 1 label byte + R, G, B planes
        out[name] = (px, lab)
    return out


# --- MNIST / Fashion-MNIST ----------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_exactly_what_was_written(tmp_path, gz):
    written = make_mnist(tmp_path, gz=gz)
    ds = load_mnist(tmp_path)
    assert isinstance(ds, Dataset) and ds.name == "mnist" and ds.classes == 10
    assert ds.x_train.shape == (N_TRAIN, 1, 28, 28) and ds.x_test.shape == (N_TEST, 1, 28, 28)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.in_features == 784
    for split, x, y in (("train", ds.x_train, ds.y_train), ("test", ds.x_test, ds.y_test)):
        img, lab = written[split]
        np.testing.assert_array_equal(y, lab.astype(np.int64))
        np.testing.assert_allclose(x[:, 0], img / 255.0, rtol=0, atol=1e-7)
        assert x.min() == 0.0 and x.max() == 1.0


def test_fashion_mnist_in_torchvision_layout_and_limit(tmp_path):
    written = make_mnist(tmp_path / "FashionMNIST" / "raw", gz=True, seed=3)
    ds = load_mnist(tmp_path, fashion=True, limit=7)
    assert ds.name == "fashion-mnist"
    assert ds.x_train.shape == (7, 1, 28, 28) and ds.x_test.shape == (7, 1, 28, 28)
    np.testing.assert_array_equal(ds.y_train, written["train"][1][:7])
    np.testing.assert_array_equal(ds.y_test, written["test"][1][:7])
    # MNIST is looked for under MNIST/raw, not FashionMNIST/raw: the two are never mixed up.
    with pytest.raises(MissingDatasetError, match="MNIST not found"):
        load_mnist(tmp_path)
    make_mnist(tmp_path / "MNIST" / "raw", seed=4)
    assert load_mnist(tmp_path, limit=100).x_train.shape[0] == N_TRAIN  # limit is "at most"
    with pytest.raises(ValueError, match="limit"):
        load_mnist(tmp_path, limit=0)


def test_mnist_missing_files_message(tmp_path):
    with pytest.raises(DatasetError) as e:
        load_mnist(tmp_path)
    msg = str(e.value)
    assert isinstance(e.value, FileNotFoundError)
    for name in MNIST_FILES.values():
        assert name in msg
    assert str(tmp_path) in msg and str(tmp_path / "MNIST" / "raw") in msg
    assert "never downloads" in msg and "offline" in msg
    # One file gone: the message says which one is lacking.
    make_mnist(tmp_path)
    (tmp_path / MNIST_FILES["test_labels"]).unlink()
    with pytest.raises(MissingDatasetError, match=f"lacks {MNIST_FILES['test_labels']}"):
        load_mnist(tmp_path)
    with pytest.raises(MissingDatasetError, match="is not a directory"):
        load_mnist(tmp_path / "nowhere")


def _corrupt(tmp_path, what):
    make_mnist(tmp_path)
    img = tmp_path / MNIST_FILES["train_images"]
    lab = tmp_path / MNIST_FILES["train_labels"]
    if what == "truncated":
        img.write_bytes(img.read_bytes()[:-100])
    elif what == "too long":
        img.write_bytes(img.read_bytes() + b"\0" * 5)
    elif what == "header":
        img.write_bytes(img.read_bytes()[:10])
    elif what == "magic":
        raw = bytearray(img.read_bytes())
        raw[2:4] = b"\x08\x01"  # 2049: a label file's magic under an image file's name
        img.write_bytes(bytes(raw))
    elif what == "count":
        write_idx_labels(lab, np.zeros(N_TRAIN - 1, np.uint8))
    elif what == "label":
        write_idx_labels(lab, np.r_[np.zeros(N_TRAIN - 1, np.uint8), 10])
    elif what == "size":
        write_idx_images(img, np.zeros((N_TRAIN, 28, 27), np.uint8))
    elif what == "gz-unnamed":
        img.write_bytes(gzip.compress(img.read_bytes()))
    elif what == "bad-gzip":
        img.unlink()
        (tmp_path / (img.name + ".gz")).write_bytes(gzip.compress(b"x" * 4000)[:30])
    return img


@pytest.mark.parametrize("what, needle", [
    ("truncated", "truncated or corrupt"),
    ("too long", "5 bytes too long"),
    ("header", "shorter than the 16-byte header"),
    ("magic", "magic number 2049"),
    ("count", "holds 19 labels but"),
    ("label", "labels outside 0..9"),
    ("size", "28x27 pixels, expected 28x28"),
    ("gz-unnamed", "gzip-compressed but its name does not end in .gz"),
    ("bad-gzip", "not a valid gzip file"),
])
def test_mnist_corrupt_files_give_clear_errors(tmp_path, what, needle):
    img = _corrupt(tmp_path, what)
    with pytest.raises(DatasetError) as e:
        load_mnist(tmp_path)
    msg = str(e.value)
    assert needle in msg and msg.startswith("MNIST: ")
    assert img.name in msg or MNIST_FILES["train_labels"] in msg  # names the file at fault
    assert not isinstance(e.value, FileNotFoundError)


# --- CIFAR-10 ------------------------------------------------------------------------------

def _expected_cifar(px):
    x = px.reshape(-1, 3, 32, 32) / 255.0
    return (x - CIFAR10_MEAN[None, :, None, None]) / CIFAR10_STD[None, :, None, None]


@pytest.mark.parametrize("sub", ["", "cifar-10-batches-bin"])
def test_cifar10_reads_exactly_what_was_written(tmp_path, sub):
    written = make_cifar(tmp_path / sub if sub else tmp_path)
    ds = load_cifar10(tmp_path)
    assert ds.name == "cifar10" and ds.classes == 10 and ds.in_features == 3072
    assert ds.x_train.shape == (60, 3, 32, 32) and ds.x_test.shape == (12, 3, 32, 32)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    px = np.concatenate([written[f][0] for f in CIFAR10_FILES[:5]])
    lab = np.concatenate([written[f][1] for f in CIFAR10_FILES[:5]])
    np.testing.assert_array_equal(ds.y_train, lab)
    np.testing.assert_allclose(ds.x_train, _expected_cifar(px), atol=1e-5)
    np.testing.assert_array_equal(ds.y_test, written["test_batch.bin"][1])
    np.testing.assert_allclose(ds.x_test, _expected_cifar(written["test_batch.bin"][0]),
                               atol=1e-5)
    # Channel planes in R, G, B order: pixel 0 of the red plane is byte 1 of the record.
    assert ds.x_train[0, 0, 0, 0] == pytest.approx((px[0, 0] / 255 - 0.4914) / 0.2470, abs=1e-5)
    assert ds.x_train[0, 2, 31, 31] == pytest.approx((px[0, 3071] / 255 - 0.4465) / 0.2616,
                                                     abs=1e-5)
    lo, hi = (0 - CIFAR10_MEAN) / CIFAR10_STD, (1 - CIFAR10_MEAN) / CIFAR10_STD
    for ch in range(3):
        assert lo[ch] - 1e-5 <= ds.x_train[:, ch].min() and ds.x_train[:, ch].max() <= hi[ch] + 1e-5


def test_cifar10_limit_spans_batches(tmp_path):
    written = make_cifar(tmp_path)
    ds = load_cifar10(tmp_path, limit=15)  # 12 from batch 1, 3 from batch 2
    assert ds.x_train.shape == (15, 3, 32, 32) and ds.x_test.shape == (12, 3, 32, 32)
    np.testing.assert_array_equal(ds.y_train, np.r_[written["data_batch_1.bin"][1],
                                                    written["data_batch_2.bin"][1][:3]])


def test_cifar10_missing_files_message(tmp_path):
    with pytest.raises(DatasetError) as e:
        load_cifar10(tmp_path)
    msg = str(e.value)
    assert isinstance(e.value, FileNotFoundError)
    for name in CIFAR10_FILES:
        assert name in msg
    assert str(tmp_path / "cifar-10-batches-bin") in msg
    assert "never downloads" in msg and "CIFAR-10 binary version" in msg
    make_cifar(tmp_path)
    (tmp_path / "data_batch_4.bin").unlink()
    with pytest.raises(MissingDatasetError, match="lacks data_batch_4.bin"):
        load_cifar10(tmp_path)


@pytest.mark.parametrize("py_root", [False, True])
def test_cifar10_python_version_refused(tmp_path, py_root):
    d = tmp_path if py_root else tmp_path / "cifar-10-batches-py"
    d.mkdir(exist_ok=True)
    for name in ["batches.meta", "test_batch"] + [f"data_batch_{i}" for i in range(1, 6)]:
        (d / name).write_bytes(b"\x80\x04not really a pickle")  # never opened
    with pytest.raises(DatasetError) as e:
        load_cifar10(tmp_path)
    msg = str(e.value)
    assert "binary version" in msg and "pickle" in msg and "for safety" in msg
    assert "CIFAR-10 binary version" in msg and "cs.toronto.edu/~kriz/cifar.html" in msg


@pytest.mark.parametrize("cut, needle", [
    (-1, "not a whole, non-zero number of 3073-byte records"),
    (-3073 * 12, "not a whole, non-zero number"),
    (None, "labels outside 0..9"),
])
def test_cifar10_corrupt_files_give_clear_errors(tmp_path, cut, needle):
    make_cifar(tmp_path)
    p = tmp_path / "data_batch_3.bin"
    raw = bytearray(p.read_bytes())
    if cut is None:
        raw[3073 * 5] = 11  # the label byte of record 5
    else:
        raw = raw[:cut]
    p.write_bytes(bytes(raw))
    with pytest.raises(DatasetError) as e:
        load_cifar10(tmp_path)
    assert needle in str(e.value) and "data_batch_3.bin" in str(e.value)
    if cut is not None:  # a bad size is caught even when limit stops before the file
        with pytest.raises(DatasetError, match="data_batch_3.bin"):
            load_cifar10(tmp_path, limit=1)


# --- shards by label -----------------------------------------------------------------------

def test_shards_by_label_is_a_seeded_disjoint_cover():
    labels = np.repeat(np.arange(10), 60)  # 600 samples, 10 equal classes
    np.random.default_rng(1).shuffle(labels)
    for n, spr in ((10, 2), (5, 4), (4, 5)):  # n * spr shards, a multiple of the 10 classes
        parts = shards_by_label(labels, n, spr, seed=7)
        assert len(parts) == n
        allidx = np.concatenate(parts)
        assert allidx.size == labels.size and np.array_equal(np.sort(allidx),
                                                             np.arange(labels.size))
        for p in parts:
            assert p.dtype.kind == "i" and np.all(np.diff(p) > 0)
            assert len(np.unique(labels[p])) <= spr  # every shard lies inside one class
            assert p.size == labels.size // n
        again = shards_by_label(labels, n, spr, seed=7)
        assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    other = shards_by_label(labels, 10, 2, seed=8)
    assert any(not np.array_equal(a, b) for a, b in zip(shards_by_label(labels, 10, 2, 7), other))


def test_shards_by_label_uneven_and_bad_arguments():
    labels = np.random.default_rng(0).integers(0, 10, size=1003)
    parts = shards_by_label(labels, 7, 3, seed=0)
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(1003))
    # Non-iid: far fewer labels per rank than an iid split of the same sizes would give.
    assert max(len(np.unique(labels[p])) for p in parts) <= 2 * 3  # a shard spans <= 2 labels
    with pytest.raises(ValueError, match="cannot cut 5 training samples"):
        shards_by_label(np.arange(5), 3, 2)
    with pytest.raises(ValueError, match="shards_per_rank"):
        shards_by_label(labels, 3, 0)


# --- image models --------------------------------------------------------------------------

@pytest.mark.parametrize("name, shape, lo, hi", [
    ("cnn", (1, 28, 28), 10_000, 100_000),
    ("cnn", (3, 32, 32), 10_000, 100_000),
    ("resnet18", (3, 32, 32), 11_000_000, 11_300_000),
    ("resnet18", (1, 28, 28), 11_000_000, 11_300_000),
])
def test_vision_models_forward_and_seeded_init(name, shape, lo, hi):
    state = torch.random.get_rng_state()
    a = build_vision_model(name, shape, 10, seed=3)
    assert torch.equal(state, torch.random.get_rng_state())  # global stream untouched
    b = build_vision_model(name, shape, 10, seed=3)
    c = build_vision_model(name, shape, 10, seed=4)
    assert lo <= sum(p.numel() for p in a.parameters()) <= hi
    pa, pb, pc = (dict(m.named_parameters()) for m in (a, b, c))
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    weights = [k for k in pa if pa[k].dim() > 1]
    assert all(not torch.equal(pa[k], pc[k]) for k in weights)  # every drawn weight differs
    x = torch.rand(4, *shape, generator=torch.Generator().manual_seed(0))
    out = a.train()(x)
    assert out.shape == (4, 10) and torch.isfinite(out).all()
    assert torch.equal(out, b.train()(x))  # same seed, same function
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in a.parameters())
    assert a.eval()(x).shape == (4, 10)
    with pytest.raises(ValueError, match="accepted: cnn, resnet18"):
        build_vision_model("vgg", shape, 10)


def test_vision_model_shape_errors():
    with pytest.raises(ValueError, match="channels, height, width"):
        build_vision_model("cnn", (784,), 10)
