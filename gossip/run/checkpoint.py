"""Checkpoints that cannot run code: numpy ``.npz`` (``allow_pickle=False``) plus JSON metadata.

Each rank writes ``<out>/ckpt/round<NNNNNNNN>/rank<NNNN>.npz`` atomically (temporary file, fsync,
rename).  A checkpoint *set* is complete when every rank's file of that round exists; ``--resume``
takes the newest complete set.  Everything a rank's future depends on goes in: the model, the
algorithm state (public copies, mixed copy, error memories, skip state), the data sampler's
permutation, position and RNG, byte counters, and the round; the config and topology digests
and the world size guard against resuming a different run.

State objects are flattened generically: numpy arrays go to the npz, scalars/lists/dicts to
JSON, numpy Generators as their bit-generator state, and the few dataclasses messages are made
of (Sparse, Quantized, Dense: :mod:`gossip.messages`) by name from a fixed allow-list.
"""

from __future__ import annotations

import dataclasses
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
    """A checkpoint is missing, incomplete, corrupt or belongs to another run."""


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
    raise CheckpointError("unrecognised node in checkpoint metadata")


def restore_into(obj: Any, values: dict) -> None:
    """Set the fields of the dataclass ``obj`` from a restored field dict (recursively)."""
    for f in dataclasses.fields(obj):
        if f.name not in values:
            raise CheckpointError(f"checkpoint lacks {type(obj).__name__}.{f.name}")
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
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dirfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


def load(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    except (OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"checkpoint {path} is unreadable: {e}") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} has format {meta.get('format')}, "
                              f"this gossip reads format {FORMAT}: resume it with the gossip "
                              f"version that wrote it, or start a new run with another --out")
    return _unflatten(meta["state"], arrays)


def round_dir(out: Path, round_: int) -> Path:
    return out / "ckpt" / f"round{round_:08d}"


def rank_file(out: Path, round_: int, rank: int) -> Path:
    return round_dir(out, round_) / f"rank{rank:04d}.npz"


def latest_complete(out: Path, world: int) -> int | None:
    """Newest round whose checkpoint files exist for all ``world`` ranks."""
    base = out / "ckpt"
    if not base.is_dir():
        return None
    rounds = sorted((int(m.group(1)) for p in base.iterdir()
                     if (m := re.fullmatch(r"round(\d+)", p.name))), reverse=True)
    for r in rounds:
        if all(rank_file(out, r, k).is_file() for k in range(world)):
            return r
    return None


def prune(out: Path, keep: int) -> None:
    """Remove all but the newest ``keep`` checkpoint rounds (called once all ranks wrote)."""
    base = out / "ckpt"
    if not base.is_dir():
        return
    dirs = sorted(p for p in base.iterdir() if re.fullmatch(r"round\d+", p.name))
    for p in dirs[:-keep] if keep > 0 else []:
        shutil.rmtree(p, ignore_errors=True)
