"""``gossip train``: one rank per MPI process (or every rank in this one), one message on
failure, exit codes a batch system can act on."""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

import numpy as np

from .options import add_config_flags, overrides_from

EXIT_CONFIG = 2
EXIT_FAILURE = 1
EXIT_PREEMPTED = 75  # checkpointed after SIGTERM/SIGUSR1: requeue and run again with --resume


def add_arguments(t: argparse.ArgumentParser) -> None:
    t.add_argument("--config", metavar="FILE", help="TOML file with the settings")
    add_config_flags(t)


def main(args: argparse.Namespace, argv: list[str]) -> int:
    return cmd_train(args)


def _rank_for_messages() -> tuple[int, object]:
    """This process's MPI rank (0 without MPI), before any configuration is trusted."""
    from ..comm.launch import launched_by_mpi

    if launched_by_mpi():
        from ..comm.launch import world

        w = world()
        return w.Get_rank(), w
    return 0, None


def cmd_train(args: argparse.Namespace) -> int:
    from topologies import TopologyError

    from .. import config
    from ..config import ConfigError
    from ..run.build import communicator_kind
    from ..run.checkpoint import CheckpointError
    from ..run.errors import Preempted, RunError
    from ..run.stop import STOP

    rank, world = _rank_for_messages()
    started = []  # non-empty once training began: from then on a failure may be one rank's

    def say(msg: str, *, err: bool = False) -> None:
        if rank == 0:
            print(msg, file=sys.stderr if err else sys.stdout, flush=True)

    cfg = None
    try:
        cfg = config.load(args.config, overrides_from(args))
        kind, n = communicator_kind(cfg)
        if kind == "mpi" and world is None:
            from ..comm.launch import world as get_world

            world = get_world()
            rank = world.Get_rank()
        return _train(cfg, kind, n, say, started)
    except Preempted as e:
        why = STOP.signal_name or ("--stop-at-round" if cfg.train.stop_at_round == e.round
                                   else "SIGTERM/SIGUSR1 on another rank")
        say(f"gossip: stopped by {why} after round {e.round}; every rank checkpointed it. "
            f"Continue with: gossip train --resume --out {cfg.train.out} (same settings)", err=True)
        return EXIT_PREEMPTED
    except CheckpointError as e:  # the ranks agreed on it collectively
        if e.everywhere:  # the same verdict on every rank: rank 0 says it
            say(f"gossip: checkpoint error: {e}", err=True)
        else:
            print(f"gossip: rank {rank}: checkpoint error: {e}", file=sys.stderr, flush=True)
        return EXIT_CONFIG
    except (ConfigError, RunError, TopologyError) as e:
        if not started:  # same inputs on every rank: one message, every rank exits 2
            prefix = "topology error: " if isinstance(e, TopologyError) else ""
            say(f"gossip: {prefix}{e}", err=True)
            return EXIT_CONFIG
        return _fail(rank, world, e, trace=False, started=True)
    except Exception as e:  # noqa: BLE001 - any failure on one rank must not hang the others
        return _fail(rank, world, e, trace=not isinstance(e, _quiet_errors()),
                     started=bool(started))


def _quiet_errors() -> tuple[type, ...]:
    from ..algorithms import NeighbourDecodeError
    from ..comm.deadline import LostPeerError

    return (NeighbourDecodeError, LostPeerError)


def _fail(rank: int, world, e: BaseException, trace: bool, started: bool) -> int:
    """A failure on this rank: say so, then stop every rank (MPI Abort)."""
    msg = str(e) if str(e).startswith("rank ") else f"rank {rank}: {e}"
    print(f"gossip: {msg}", file=sys.stderr, flush=True)
    if trace:
        traceback.print_exc()
    if world is not None and world.Get_size() > 1:
        import time

        kept = " (the checkpoint sets written so far stay in the run directory)" if started else ""
        print(f"gossip: rank {rank}: stopping every rank{kept}", file=sys.stderr, flush=True)
        time.sleep(1.0)  # let the launcher forward these lines before Abort tears it down
        world.Abort(EXIT_FAILURE)
    return EXIT_FAILURE


def _train(cfg, kind: str, n: int, say, started: list) -> int:
    from ..run import resume
    from ..run.build import build_communicator, build_topology
    from ..run.loop import Run
    from ..run.metrics import format_summary
    from ..run.output import write_config

    topo = build_topology(cfg, n)
    comm = build_communicator(cfg, kind, topo)
    out, candidates = _agree_on_out(cfg, comm)
    cfg.train.out = str(out)
    ranks = f"{comm.size} rank" + ("s" if comm.size != 1 else "")
    say(f"gossip {cfg.algorithm.name}: {ranks}, {comm.name} communicator; "
        f"topology {topo.summary()}")
    note = comm.wait_note()
    if note:
        say(f"gossip: warning: {note}", err=True)
    if cfg.train.mode == "async":
        from ..run.async_loop import AsyncRun as Run
    run = Run(cfg, comm, topo, out)
    run.say = say
    resume_round, resumed = None, None
    if cfg.train.resume:
        resume_round, resumed = resume.pick(run, candidates,
                                            lambda note: say(f"gossip: {note}", err=True))
        say(f"resuming from the round-{resume_round} checkpoint in {out}/ckpt" if resume_round
            else f"--resume: no usable checkpoint in {out}/ckpt, starting from round 1")
    if comm.is_root and resume_round is None:
        out.mkdir(parents=True, exist_ok=True)
        write_config(out, cfg, topo, comm, run.d)
    comm.barrier()
    say(f"model {cfg.model.name}: {run.d:,} entries; data {cfg.data.dataset} "
        f"({len(run.data.y_train)} train / {len(run.data.y_test)} test, {cfg.data.partition}); "
        f"writing {out}/")
    started.append(True)
    summary = run.execute(resume_round, resumed)
    if summary is not None:
        say(format_summary(summary))
        names = ("config.toml", "metrics.jsonl", "summary.json", "model.pt", "rank_models/",
                 "ckpt/")
        say(f"outputs: {out}/ ({', '.join(n for n in names if (out / n.rstrip('/')).exists())})")
    return 0


def _agree_on_out(cfg, comm) -> tuple[Path, list[int]]:
    """The root picks and checks the output directory; then every rank checks that it can
    write there, and all agree.  Returns (directory, complete checkpoint rounds newest first)."""
    from ..run.errors import RunError
    from ..run.output import unusable, verdict

    answer = comm.broadcast_str(verdict(cfg, comm.size) if comm.is_root else None)
    if answer.startswith("ERR "):
        raise RunError(answer[4:])
    _, found, out_text = answer.split(" ", 2)
    out = Path(out_text)
    own = None if comm.is_root else unusable(out, given=bool(cfg.train.out))
    failed = int(comm.allreduce_sum({r: np.array([float(own is not None)])
                                     for r in comm.local_ranks})[0])
    if own:
        print(f"gossip: rank {comm.local_ranks[0]}: {own}", file=sys.stderr, flush=True)
    if failed:
        raise RunError(f"{failed} rank(s) cannot write the output directory {out} (their "
                       f"messages say why); choose an --out every rank can write")
    return out, [] if found == "-" else [int(r) for r in found.split(",")]
