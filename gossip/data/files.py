"""Real image data sets read from disk in their published formats: MNIST, Fashion-MNIST and
CIFAR-10.

Nothing here downloads anything (gossip runs offline, often on compute nodes without internet
access): the files must already be under ``data_dir``. The readers parse the formats themselves
(no torchvision, no pickle) and check every header and size, so a missing, truncated or
mistaken file ends in one :class:`DatasetError` that names the file and what is wrong.

* MNIST / Fashion-MNIST: the four IDX files, optionally gzipped, in ``data_dir`` or in
  torchvision's layout ``data_dir/MNIST/raw`` / ``data_dir/FashionMNIST/raw``.
* CIFAR-10: the *binary version* (``cifar-10-batches-bin/data_batch_{1..5}.bin`` and
  ``test_batch.bin``), in ``data_dir`` or ``data_dir/cifar-10-batches-bin``. The Python version
  is a set of pickles, and unpickling can run arbitrary code, so gossip refuses to read it.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .base import Dataset

__all__ = [
    "CIFAR10_FILES",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "MNIST_FILES",
    "DatasetError",
    "MissingDatasetError",
    "load_cifar10",
    "load_mnist",
]


class DatasetError(ValueError):
    """A data set could not be read: files missing, truncated, corrupt or of the wrong kind."""


class MissingDatasetError(DatasetError, FileNotFoundError):
    """The data set's files are not where gossip looked (also a ``FileNotFoundError``)."""


# ---------------------------------------------------------------------------------------------
# MNIST and Fashion-MNIST (IDX format)

IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_MNIST_SIDE = 28
_CLASSES = 10


def load_mnist(data_dir: str | os.PathLike, fashion: bool = False,
               limit: int | None = None) -> Dataset:
    """MNIST (or Fashion-MNIST with ``fashion=True``) from the IDX files under ``data_dir``.

    Looks in ``data_dir`` and ``data_dir/MNIST/raw`` (``data_dir/FashionMNIST/raw`` for
    Fashion-MNIST); each file may be gzipped (``.gz``). Images come back float32 in [0, 1] with
    shape (N, 1, 28, 28), labels int64 in 0..9. ``limit`` keeps the first ``limit`` training
    and the first ``limit`` test samples (for quick runs).
    """
    title = "Fashion-MNIST" if fashion else "MNIST"
    limit = _check_limit(limit)
    root = Path(data_dir)
    candidates = [root, root / ("FashionMNIST" if fashion else "MNIST") / "raw"]
    paths = _find_mnist_files(title, root, candidates, fashion)

    splits = {}
    for split in ("train", "test"):
        img_path, lab_path = paths[f"{split}_images"], paths[f"{split}_labels"]
        images = _read_idx(title, img_path, IDX_IMAGES_MAGIC, 3, "image")
        labels = _read_idx(title, lab_path, IDX_LABELS_MAGIC, 1, "label")
        n, rows, cols = images.shape
        if (rows, cols) != (_MNIST_SIDE, _MNIST_SIDE):
            raise DatasetError(f"{title}: {img_path}: images are {rows}x{cols} pixels, expected "
                               f"{_MNIST_SIDE}x{_MNIST_SIDE}")
        if n == 0:
            raise DatasetError(f"{title}: {img_path}: the file holds no images")
        if labels.shape[0] != n:
            raise DatasetError(f"{title}: {lab_path} holds {labels.shape[0]} labels but "
                               f"{img_path} holds {n} images; the two files must match")
        _check_labels(title, lab_path, labels)
        if limit is not None:
            images, labels = images[:limit], labels[:limit]
        x = images.astype(np.float32).reshape(-1, 1, _MNIST_SIDE, _MNIST_SIDE)
        x /= 255.0
        splits[split] = (x, labels.astype(np.int64))
    return Dataset(*splits["train"], *splits["test"], classes=_CLASSES,
                   name="fashion-mnist" if fashion else "mnist")


def _find_mnist_files(title: str, root: Path, candidates: list[Path],
                      fashion: bool) -> dict[str, Path]:
    partial: list[tuple[Path, list[str]]] = []
    for d in candidates:
        found, missing = {}, []
        for key, name in MNIST_FILES.items():
            for fname in (name, name + ".gz"):  # prefer the uncompressed file when both exist
                if (d / fname).is_file():
                    found[key] = d / fname
                    break
            else:
                missing.append(name)
        if not missing:
            return found
        if found:
            partial.append((d, missing))
    expected = ", ".join(MNIST_FILES.values())
    where = " and ".join(str(d) for d in candidates)
    msg = (f"{title} not found: searched {where} for {expected} (each may also end in .gz)")
    if not root.is_dir():
        msg += f"; {root} is not a directory"
    for d, missing in partial:
        msg += f"; {d} lacks {', '.join(missing)}"
    tv = "FashionMNIST" if fashion else "MNIST"
    msg += (f". gossip never downloads data (it runs offline): copy the four files into "
            f"{candidates[0]} or {candidates[1]}, for example from a machine with internet access "
            f"via torchvision.datasets.{tv}(root, download=True), which writes "
            f"root/{tv}/raw; then pass --data-dir root")
    raise MissingDatasetError(msg)


def _read_bytes(title: str, path: Path) -> bytes:
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DatasetError(f"{title}: {path}: not a valid gzip file, or truncated ({e})") from e
    except OSError as e:
        raise DatasetError(f"{title}: {path}: cannot be read ({e})") from e


def _read_idx(title: str, path: Path, magic: int, ndim: int, kind: str) -> np.ndarray:
    data = _read_bytes(title, path)
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{title}: {path}: {len(data)} bytes, shorter than the {header}-byte "
                           f"header of an IDX {kind} file; truncated or empty")
    got = struct.unpack(">I", data[:4])[0]
    if got != magic:
        what = f"{title}: {path}: not an IDX {kind} file: magic number {got} (0x{got:08x}), " \
               f"expected {magic} (0x{magic:08x})"
        if data[:2] == b"\x1f\x8b":
            what += "; the file is gzip-compressed but its name does not end in .gz"
        elif got in (IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC):
            what += "; it looks like an IDX " + \
                    ("image" if got == IDX_IMAGES_MAGIC else "label") + " file under the wrong name"
        raise DatasetError(what)
    dims = struct.unpack(">" + "I" * ndim, data[4:header])
    need = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != need:
        shape = " x ".join(str(d) for d in dims)
        problem = "truncated" if len(data) < need else f"{len(data) - need} bytes too long"
        raise DatasetError(f"{title}: {path}: the header declares {shape} bytes of data "
                           f"({need} bytes with the header) but the "
                           f"{'decompressed ' if path.name.endswith('.gz') else ''}file has "
                           f"{len(data)} bytes: {problem} or corrupt")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _check_labels(title: str, path: Path, labels: np.ndarray) -> None:
    bad = np.flatnonzero(labels >= _CLASSES)
    if bad.size:
        raise DatasetError(f"{title}: {path}: {bad.size} labels outside 0..{_CLASSES - 1} "
                           f"(first: label {int(labels[bad[0]])} at index {int(bad[0])})")


def _check_limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise ValueError(f"limit must be None or a positive integer, got {limit!r}")
    return int(limit)


# ---------------------------------------------------------------------------------------------
# CIFAR-10 (binary version)

CIFAR10_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
# Per-channel mean and standard deviation of the 50,000 training images scaled to [0, 1].
CIFAR10_MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
CIFAR10_STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32)
_CIFAR_PIXELS = 3 * 32 * 32
_CIFAR_RECORD = 1 + _CIFAR_PIXELS  # 3,073 bytes: label, then 1024 R, 1024 G, 1024 B (row-major)


def load_cifar10(data_dir: str | os.PathLike, limit: int | None = None) -> Dataset:
    """CIFAR-10 from its binary version under ``data_dir`` (or ``data_dir/cifar-10-batches-bin``).

    Images come back float32 with shape (N, 3, 32, 32): scaled to [0, 1], then normalised per
    channel with :data:`CIFAR10_MEAN` / :data:`CIFAR10_STD`. Labels are int64 in 0..9.
    ``limit`` keeps the first ``limit`` training and the first ``limit`` test samples.
    """
    limit = _check_limit(limit)
    root = Path(data_dir)
    d = _find_cifar_dir(root)
    train = _read_cifar_batches([d / f for f in CIFAR10_FILES[:5]], limit)
    test = _read_cifar_batches([d / CIFAR10_FILES[5]], limit)
    return Dataset(*train, *test, classes=_CLASSES, name="cifar10")


def _find_cifar_dir(root: Path) -> Path:
    candidates = [root, root / "cifar-10-batches-bin"]
    partial = []
    for d in candidates:
        missing = [f for f in CIFAR10_FILES if not (d / f).is_file()]
        if not missing:
            return d
        if len(missing) < len(CIFAR10_FILES):
            partial.append((d, missing))
    get = (f'download the "CIFAR-10 binary version" (cifar-10-binary.tar.gz) from {CIFAR10_URL} '
           f"and extract it into {root} (tar xzf cifar-10-binary.tar.gz -C {root}), which "
           f"creates {root / 'cifar-10-batches-bin'}")
    py_dirs = [d for d in (root, root / "cifar-10-batches-py")
               if (d / "data_batch_1").is_file() or (d / "batches.meta").is_file()]
    if py_dirs and not partial:
        raise MissingDatasetError(
            f"CIFAR-10: {py_dirs[0]} holds the Python version of CIFAR-10, which is pickled; "
            f"gossip reads only the binary version, for safety (unpickling a file can run "
            f"arbitrary code). gossip never downloads data (it runs offline): {get}")
    where = " and ".join(str(d) for d in candidates)
    msg = f"CIFAR-10 not found: searched {where} for {', '.join(CIFAR10_FILES)}"
    if not root.is_dir():
        msg += f"; {root} is not a directory"
    for d, missing in partial:
        msg += f"; {d} lacks {', '.join(missing)}"
    if (root / "cifar-10-binary.tar.gz").is_file():
        msg += (f"; {root / 'cifar-10-binary.tar.gz'} is there but not extracted: run "
                f"tar xzf cifar-10-binary.tar.gz -C {root}")
    msg += f". gossip never downloads data (it runs offline): {get}"
    raise MissingDatasetError(msg)


def _read_cifar_batches(paths: list[Path], limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    # Check every file's size first, so a bad file is reported even when ``limit`` stops early.
    counts = []
    for p in paths:
        size = p.stat().st_size
        if size == 0 or size % _CIFAR_RECORD:
            raise DatasetError(
                f"CIFAR-10: {p}: {size} bytes is not a whole, non-zero number of "
                f"{_CIFAR_RECORD}-byte records (1 label byte + {_CIFAR_PIXELS} pixel bytes); "
                f"truncated, or not a file of the CIFAR-10 binary version")
        counts.append(size // _CIFAR_RECORD)
    chunks = []
    remaining = sum(counts) if limit is None else min(limit, sum(counts))
    for p, n in zip(paths, counts):
        if remaining == 0:
            break
        k = min(n, remaining)
        try:
            with open(p, "rb") as f:
                raw = f.read(k * _CIFAR_RECORD)
        except OSError as e:
            raise DatasetError(f"CIFAR-10: {p}: cannot be read ({e})") from e
        if len(raw) != k * _CIFAR_RECORD:  # the file shrank under us
            raise DatasetError(f"CIFAR-10: {p}: read {len(raw)} bytes, expected "
                               f"{k * _CIFAR_RECORD}; truncated")
        rec = np.frombuffer(raw, dtype=np.uint8).reshape(k, _CIFAR_RECORD)
        _check_labels("CIFAR-10", p, rec[:, 0])
        chunks.append(rec)
        remaining -= k
    rec = np.concatenate(chunks)
    y = rec[:, 0].astype(np.int64)
    x = rec[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32)
    x /= 255.0
    x -= CIFAR10_MEAN[None, :, None, None]
    x /= CIFAR10_STD[None, :, None, None]
    return x, y
