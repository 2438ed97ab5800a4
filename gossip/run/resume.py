"""What a rank saves in a checkpoint set and how a run picks it up again.

A set is every rank's file of one round (:mod:`.checkpoint` writes and reads them).  A
rank's file holds its worker snapshot, its algorithm state, its byte counters, the run's
evaluation so far, and guards: world size, config and topology digests.

``pick`` tries the complete sets newest first: every rank verifies and restores its own file
and reports a verdict code to the root, which decides for all.  A set with an unusable file is
renamed ``round<N>.bad-<reason>`` (kept for inspection, never pruned) and the next older set is
tried; a set that belongs to another configuration stops the run (older sets would too).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import schedules
from ..config import Config
from . import checkpoint
from .checkpoint import CheckpointError

# verdict codes a rank reports for its file of one set (0: restored)
REASONS = ("ok", "missing", "nochecksum", "truncated", "checksum", "unreadable", "contents")
REFUSED = len(REASONS)


def save_set(run, t: int, wall: float, avg_acc: float, rank_acc: list[float]) -> None:
    for w in run.workers:
        tree = {"round": t, "rank": w.rank, "world": run.comm.size,
                "config_digest": run.cfg.digest(), "config": run.cfg.to_dict(),
                "topology_digest": run.topo.digest(), "state": w.state,
                "counter": run.comm.counters[w.rank],
                "wall": wall, "avg_acc": avg_acc, "rank_acc": rank_acc, **w.snapshot()}
        checkpoint.save(checkpoint.rank_file(run.out, t, w.rank), tree)
    run.comm.barrier()  # every rank's file is on disk before older sets go
    if run.comm.is_root:
        checkpoint.prune(run.out, run.cfg.train.keep_checkpoints, run.comm.size)


def _restore(run, w, t: int) -> tuple:
    """Verify, check and restore rank ``w`` from its round-``t`` file."""
    path = checkpoint.rank_file(run.out, t, w.rank)
    tree = checkpoint.load(path)
    try:
        check_compatible(run, tree, t)
        w.restore(tree)
        checkpoint.restore_into(w.state, tree["state"])
        checkpoint.restore_into(run.comm.counters[w.rank], tree["counter"])
        return tree["wall"], tree["avg_acc"], list(tree["rank_acc"])
    except CheckpointError as e:
        if e.reason is None:  # a refusal: another run's checkpoint
            raise
        raise CheckpointError(f"checkpoint {path} has unusable contents ({e})",
                              reason="contents") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise CheckpointError(f"checkpoint {path} has unusable contents "
                              f"({type(e).__name__}: {e})", reason="contents") from None


def _try_set(run, t: int) -> tuple[str, tuple, CheckpointError | None]:
    """Every local rank restores from the round-``t`` set; the root's decision, the same on
    every rank: ``OK``, ``REFUSED`` or ``BAD <reason> <file>``."""
    codes, result, refusal = {}, (0.0, float("nan"), []), None
    for w in run.workers:
        try:
            result = _restore(run, w, t)
            codes[w.rank] = 0
        except CheckpointError as e:
            if e.reason is None:
                refusal = e
            codes[w.rank] = REASONS.index(e.reason) if e.reason else REFUSED
    table = run.comm.gather_to_root({r: np.array([float(c)]) for r, c in codes.items()})
    decision = None
    if run.comm.is_root:
        col = table[:, 0].astype(int)
        bad = np.flatnonzero((col > 0) & (col < REFUSED))  # an unusable file beats a refusal
        if bad.size:
            k = int(bad[0])
            decision = f"BAD {REASONS[col[k]]} {checkpoint.rank_file(run.out, t, k).name}"
        else:
            decision = "REFUSED" if col.any() else "OK"
    return run.comm.broadcast_str(decision), result, refusal


def pick(run, rounds: list[int], say) -> tuple[int | None, tuple]:
    """Restore every local rank from the newest of ``rounds`` whose files all verify; ``say``
    gets each skipped set's note (rank 0 prints it).  Returns (round or None, (wall, avg
    accuracy, rank accuracies))."""
    for t in rounds:
        decision, result, refusal = _try_set(run, t)
        if decision == "OK":
            return t, result
        if decision == "REFUSED":
            raise refusal or CheckpointError(f"the round-{t} checkpoint belongs to another run")
        _, reason, name = decision.split(" ", 2)
        note = f"skipping the round-{t} checkpoint set: {name} is {_WHY[reason]}"
        if run.comm.is_root:
            kept = checkpoint.set_aside(run.out, t, reason)
            note += f"; kept as {kept.relative_to(run.out)} for inspection (delete it when done)"
        say(note)
    return None, (0.0, float("nan"), [])


_WHY = {"missing": "missing", "nochecksum": "without its checksum file",
        "truncated": "truncated (its size differs from its checksum file)",
        "checksum": "corrupt (its sha256 differs from its checksum file)",
        "unreadable": "unreadable", "contents": "unusable (arrays or fields missing or wrong)"}


def load_set(run, t: int) -> tuple[float, float, list[float]]:
    """Restore every local rank from the round-``t`` set (all ranks agree on success).
    Returns (wall, avg accuracy, rank accuracies)."""
    decision, result, refusal = _try_set(run, t)
    if decision == "REFUSED":
        raise refusal or CheckpointError(f"the round-{t} checkpoint belongs to another run")
    if decision != "OK":
        _, reason, name = decision.split(" ", 2)
        raise CheckpointError(f"the round-{t} checkpoint set is unusable: {name} is "
                              f"{_WHY[reason]}")
    return result


def check_compatible(run, tree: dict, t: int) -> None:
    where = checkpoint.rank_file(run.out, t, tree.get("rank", -1))
    if tree["world"] != run.comm.size:
        raise CheckpointError(
            f"checkpoint {where} was written by {tree['world']} ranks, this run has "
            f"{run.comm.size}: resume with mpiexec -n {tree['world']}")
    if tree["topology_digest"] != run.topo.digest():
        raise CheckpointError(
            f"checkpoint {where} was written for another topology or mixing matrix; "
            f"resume with the original --topology/--mixing settings")
    if tree["config_digest"] == run.cfg.digest():
        return
    now = run.cfg.to_dict()
    skip = Config.RUN_ONLY + Config.EXTENDABLE
    diffs = [f"{sec}.{k}: checkpoint {v!r}, now {now[sec].get(k)!r}"
             for sec, vals in tree["config"].items() for k, v in vals.items()
             if now[sec].get(k) != v and f"{sec}.{k}" not in skip]
    if diffs or tree["config"]["train"].get("rounds") == run.cfg.train.rounds:
        raise CheckpointError(
            f"checkpoint {where} belongs to a different configuration ("
            + "; ".join(diffs or ["settings this gossip does not know"])
            + "); resume with the same settings or use a new --out")
    _check_rounds(run, tree, where, t)


# What makes a trajectory depend on train.rounds, the planned total (such a run cannot be
# continued with another --rounds).  An algorithm says so with the registry meta flag
# ``depends_on_rounds`` (gossip.algorithms); a setting adds one line here:
# (setting, predicate on its value, why), e.g.
# ("train.lr_schedule", lambda v: v == "cosine", "the cosine decay spans train.rounds").
ROUNDS_DEPENDENT_SETTINGS: list[tuple[str, Any, str]] = [
    ("train.lr_schedule", schedules.depends_on_rounds,
     "the learning-rate schedule spans train.rounds"),
]


def rounds_dependence(cfg: Config) -> list[str]:
    """Why this configuration's trajectory depends on train.rounds (empty: it does not)."""
    from ..algorithms import REGISTRY as ALGORITHMS

    why = []
    meta = ALGORITHMS[cfg.algorithm.name].meta
    if meta.get("depends_on_rounds"):
        why.append(f"algorithm {cfg.algorithm.name}: {meta['depends_on_rounds']}")
    for key, applies, reason in ROUNDS_DEPENDENT_SETTINGS:
        sec, name = key.split(".")
        value = getattr(getattr(cfg, sec), name)
        if applies(value):
            why.append(f"{key} = {value!r}: {reason}")
    return why


def _check_rounds(run, tree: dict, where, t: int) -> None:
    """Only train.rounds differs: allowed when nothing depends on it and it covers round t."""
    was, now = tree["config"]["train"]["rounds"], run.cfg.train.rounds
    why = rounds_dependence(run.cfg)
    if why:
        raise CheckpointError(
            f"checkpoint {where} was written for --rounds {was}, now {now}, and this run's "
            f"trajectory depends on the total number of rounds ({'; '.join(why)}): resume with "
            f"--rounds {was}, or start a new run with another --out")
    if now < t:
        raise CheckpointError(
            f"checkpoint {where} is at round {t}, beyond --rounds {now}: resume with --rounds "
            f"{t} or more")
