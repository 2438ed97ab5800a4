"""Checkpoints that cannot run code: numpy ``.npz`` (``allow_pickle=False``) plus JSON metadata.

Each rank writes ``<out>/ckpt/round<NNNNNNNN>/rank<NNNN>.npz`` atomically (temporary file, fsync,
rename), then its checksum file ``rank<NNNN>.sha256`` (sha256 and size of the npz), also
atomically.  A checkpoint *set* is complete when every rank's file and checksum file of that
round exist; ``--resume`` takes the newest set whose files all verify (:mod:`.resume`).  Everything a rank's future depends on goes in: the model, the
algorithm state (public copies, mixed copy, error memories, skip state), the data sampler's
permutation, position and RNG, byte counters, and the round; the config and topology digests
and the world size guard against resuming a different run.

State objects are flattened generically: numpy arrays go to the npz, scalars/lists/dicts to
JSON, numpy Generators as their bit-generator state, and the few dataclasses messages are made
of (Sparse, Quantized, Dense: :mod:`gossip.messages`) by name from a fixed allow-list.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..messages import REPRESENTATIONS as _ALLOWED

# 2: algorithm states hold their error-feedback memory as an ErrorMemory (the layout of the
# restructured package); format-1 sets are refused with a message naming both formats.
FORMAT = 2


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete, corrupt or belongs to another run.

    ``reason``: a short tag for an unusable file (missing, nochecksum, truncated, checksum,
    unreadable, contents), None for a refusal.  ``everywhere``: every rank reached the same
    verdict, so rank 0 alone prints it."""

    def __init__(self, msg: str, *, reason: str | None = None, everywhere: bool = True):
        super().__init__(msg)
        self.reason, self.everywhere = reason, everywhere


def _flatten(obj: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    if isinstance(obj, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, np.random.Generator):
        return {"__rng__": obj.bit_generator.state}
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if dataclasses.is_dataclass(obj):
        return {"__dataclass__": type(obj).__name__,
                "fields": {f.name: _flatten(getattr(obj, f.name), arrays, f"{path}.{f.name}")
                           for f in dataclasses.fields(obj)}}
    if isinstance(obj, dict):
        return {"__dict__": [[_flatten(k, arrays, path), _flatten(v, arrays, f"{path}[{k}]")]
                             for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_flatten(v, arrays, f"{path}[{i}]") for i, v in enumerate(obj)]
    raise CheckpointError(f"cannot checkpoint {path} of type {type(obj).__name__}")


def _unflatten(tree: Any, arrays) -> Any:
    if isinstance(tree, list):
        return [_unflatten(v, arrays) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if "__array__" in tree:
        return arrays[tree["__array__"]]
    if "__rng__" in tree:
        g = np.random.Generator(np.random.PCG64())
        g.bit_generator.state = tree["__rng__"]
        return g
    if "__dict__" in tree:
        return {_unflatten(k, arrays): _unflatten(v, arrays) for k, v in tree["__dict__"]}
    if "__dataclass__" in tree:
        name = tree["__dataclass__"]
        fields = {k: _unflatten(v, arrays) for k, v in tree["fields"].items()}
        if name in _ALLOWED:
            return _ALLOWED[name](**fields)
        return fields  # a state object: restored into a fresh instance by restore_into
    raise CheckpointError("unrecognised node in checkpoint metadata", reason="contents")


def restore_into(obj: Any, values: dict) -> None:
    """Set the fields of the dataclass ``obj`` from a restored field dict (recursively)."""
    for f in dataclasses.fields(obj):
        if f.name not in values:
            raise CheckpointError(f"checkpoint lacks {type(obj).__name__}.{f.name}",
                                  reason="contents")
        cur, new = getattr(obj, f.name), values[f.name]
        if dataclasses.is_dataclass(cur) and isinstance(new, dict):
            restore_into(cur, new)
        else:
            setattr(obj, f.name, new)


def save(path: Path, tree: dict) -> None:
    """Write ``tree`` atomically to ``path`` (.npz)."""
    arrays: dict[str, np.ndarray] = {}
    meta = _flatten(tree, arrays, "state")
    arrays["__meta__"] = np.frombuffer(json.dumps({"format": FORMAT, "state": meta}).encode(),
                                       dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        digest, size = _sha256(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _write_atomic(checksum_file(path), f"{digest}  {size}  {path.name}\n".encode())


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dirfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


def _sha256(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def checksum_file(path: Path) -> Path:
    return Path(path).with_suffix(".sha256")


def verify(path: Path) -> None:
    """Raise :class:`CheckpointError` (with its ``reason``) unless ``path`` matches the sha256
    and size its checksum file records."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is missing", reason="missing")
    try:
        fields = checksum_file(path).read_text().split()
        want, want_size = fields[0], int(fields[1])
    except (OSError, ValueError, IndexError):
        raise CheckpointError(f"checkpoint {path} is unreadable: its checksum file "
                              f"{checksum_file(path).name} is missing or damaged (the write was "
                              f"cut short, or an older gossip wrote it)",
                              reason="nochecksum") from None
    size = path.stat().st_size
    if size != want_size:
        raise CheckpointError(f"checkpoint {path} is truncated or extended: {size} bytes, its "
                              f"checksum file says {want_size}", reason="truncated")
    if _sha256(path)[0] != want:
        raise CheckpointError(f"checkpoint {path} is corrupt: its sha256 differs from the one "
                              f"recorded in {checksum_file(path).name}", reason="checksum")


def load(path: Path, *, check: bool = True) -> dict:
    """The state tree saved in ``path``, verified against its checksum file unless ``check`` is
    False; any unusable file is a :class:`CheckpointError` naming it."""
    if check:
        verify(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    except Exception as e:  # noqa: BLE001 - zip, CRC, zlib, npy header, JSON: all "unreadable"
        raise CheckpointError(f"checkpoint {path} is unreadable: {type(e).__name__}: {e}",
                              reason="unreadable") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else None
        raise CheckpointError(f"checkpoint {path} has format {got}, "
                              f"this gossip reads format {FORMAT}: resume it with the gossip "
                              f"version that wrote it, or start a new run with another --out")
    try:
        return _unflatten(meta["state"], arrays)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"checkpoint {path} has unusable contents "
                              f"({type(e).__name__}: {e})", reason="contents") from None


def round_dir(out: Path, round_: int) -> Path:
    return out / "ckpt" / f"round{round_:08d}"


def rank_file(out: Path, round_: int, rank: int) -> Path:
    return round_dir(out, round_) / f"rank{rank:04d}.npz"


def _rounds(out: Path) -> list[int]:
    """Rounds of the plain ``round<N>`` directories (not sets set aside as ``.bad-``), oldest
    first."""
    base = Path(out) / "ckpt"
    if not base.is_dir():
        return []
    return sorted(int(m.group(1)) for p in base.iterdir()
                  if (m := re.fullmatch(r"round(\d+)", p.name)) and p.is_dir())


def _complete(out: Path, r: int, world: int) -> bool:
    """Every rank's file and checksum file exist (cheap: :func:`verify` hashes them)."""
    return all(rank_file(out, r, k).is_file() and checksum_file(rank_file(out, r, k)).is_file()
               for k in range(world))


def complete_rounds(out: Path, world: int) -> list[int]:
    """Rounds whose set is complete for ``world`` ranks, newest first (not yet verified)."""
    return [r for r in reversed(_rounds(out)) if _complete(out, r, world)]


def latest_complete(out: Path, world: int) -> int | None:
    """Newest round whose set is complete for all ``world`` ranks."""
    found = complete_rounds(out, world)
    return found[0] if found else None


def newest_round(out: Path) -> int:
    """Newest round directory whose every npz has its checksum file (0 if none): what a batch
    script that does not know the world size reads as the run's progress."""
    out = Path(out)
    for r in reversed(_rounds(out)):
        files = list(round_dir(out, r).glob("rank*.npz"))
        if files and all(checksum_file(f).is_file() for f in files):
            return r
    return 0


def set_aside(out: Path, r: int, reason: str) -> Path:
    """Rename the round-``r`` set to ``round<N>.bad-<reason>`` (kept for inspection; prune and
    resume ignore it).  Returns the new path."""
    src = round_dir(out, r)
    dst, n = src.with_name(f"{src.name}.bad-{reason}"), 1
    while dst.exists():
        n += 1
        dst = src.with_name(f"{src.name}.bad-{reason}-{n}")
    os.replace(src, dst)
    return dst


def prune(out: Path, keep: int, world: int) -> None:
    """Keep the newest ``keep`` complete sets; remove the round directories older than the
    oldest of them.  Nothing goes while no set is complete, and sets set aside as ``.bad-``
    are never touched."""
    kept = complete_rounds(out, world)[:max(1, keep)]
    if not kept:
        return
    for r in _rounds(out):
        if r < kept[-1]:
            shutil.rmtree(round_dir(out, r), ignore_errors=True)
