"""What a rank saves in a checkpoint set and how a run picks it up again.

A set is every rank's file of one round (:mod:`.checkpoint` writes and reads them).  A
rank's file holds its worker snapshot, its algorithm state, its byte counters, the run's
evaluation so far, and guards: world size, config and topology digests.
"""

from __future__ import annotations

import numpy as np

from ..config import Config
from . import checkpoint
from .checkpoint import CheckpointError


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
        checkpoint.prune(run.out, run.cfg.train.keep_checkpoints)


def _load_own(run, t: int) -> tuple[float, float, list[float]]:
    tree: dict = {}
    for w in run.workers:
        tree = checkpoint.load(checkpoint.rank_file(run.out, t, w.rank))
        check_compatible(run, tree, t)
        w.restore(tree)
        checkpoint.restore_into(w.state, tree["state"])
        checkpoint.restore_into(run.comm.counters[w.rank], tree["counter"])
    return tree["wall"], tree["avg_acc"], list(tree["rank_acc"])


def load_set(run, t: int) -> tuple[float, float, list[float]]:
    """Restore every local rank from the round-``t`` set; all ranks agree on success, so one
    bad file cannot leave the others waiting.  Returns (wall, avg accuracy, rank accuracies)."""
    error, result = None, (0.0, float("nan"), [])
    try:
        result = _load_own(run, t)
    except CheckpointError as e:
        error = e
    failed = run.comm.allreduce_sum({r: np.array([float(error is not None)])
                                     for r in run.comm.local_ranks})[0]
    if error is not None:
        raise error
    if failed:
        raise CheckpointError(f"{int(failed)} rank(s) could not load the round-{t} checkpoint")
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
    if tree["config_digest"] != run.cfg.digest():
        now = run.cfg.to_dict()
        diffs = [f"{sec}.{k}: checkpoint {v!r}, now {now[sec].get(k)!r}"
                 for sec, vals in tree["config"].items() for k, v in vals.items()
                 if now[sec].get(k) != v and f"{sec}.{k}" not in Config.RUN_ONLY]
        raise CheckpointError(
            f"checkpoint {where} belongs to a different configuration ("
            + "; ".join(diffs) + "); resume with the same settings or use a new --out")
