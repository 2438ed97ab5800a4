"""Command line: ``gossip train`` and ``gossip bench``.

Every option of ``gossip train`` comes from the dataclass fields in :mod:`gossip.config`, so
``--help``, the TOML file and the validation agree.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import traceback
from pathlib import Path

from . import __version__
from .config import SECTIONS, ConfigError

EXIT_CONFIG = 2
EXIT_FAILURE = 1
EXIT_PREEMPTED = 75  # checkpointed after SIGTERM/SIGUSR1: requeue and run again with --resume


def _help_for(section: str, f: dataclasses.Field) -> str:
    m = f.metadata
    text = m["help"]
    if m.get("choices"):
        text += f" ({'|'.join(map(str, m['choices']))})"
    if m.get("assumption"):
        text += " [A: our choice, the paper does not fix it]"
    default = f.default
    if default is not None:
        text += f"; default {default!r}"
    elif section == "algorithm":
        text += "; default: per algorithm"
    return (text + f"; TOML [{section}] {f.name}").replace("%", "%%")


def add_config_flags(p: argparse.ArgumentParser) -> None:
    for section, cls in SECTIONS.items():
        g = p.add_argument_group(f"[{section}]")
        for f in dataclasses.fields(cls):
            flag = f.metadata.get("flag")
            if not flag:
                continue
            dest = f"{section}.{f.name}"
            tp = f.type.replace(" | None", "").strip() if isinstance(f.type, str) else f.type
            kw = dict(dest=dest, default=argparse.SUPPRESS, help=_help_for(section, f))
            if tp == "bool":
                g.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
            else:
                conv = {"int": _int, "float": _float, "str": str}[tp]
                g.add_argument(flag, type=conv, metavar=f.name.upper(), **kw)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def overrides_from(args: argparse.Namespace) -> dict:
    out: dict = {}
    for key, value in vars(args).items():
        if "." in key:
            section, name = key.split(".", 1)
            out.setdefault(section, {})[name] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gossip",
        description="Decentralized, communication-efficient training. Every MPI rank is a peer "
                    "that trains its own model and agrees with its graph neighbours by gossip.",
        epilog="Run `gossip train --help` for the training options.")
    p.add_argument("--version", action="version", version=f"gossip {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    t = sub.add_parser(
        "train", help="train with gossip (mpiexec -n N gossip train, or in-process)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train a model over a graph of peers. Launch with `mpiexec -n N gossip train` "
                    "(one MPI rank per peer) or run without MPI to simulate --ranks peers in "
                    "this process. Settings: defaults < --config FILE (TOML with sections "
                    "[topology] [data] [model] [algorithm] [train]) < flags. Outputs go to --out: "
                    "config.toml, metrics.jsonl, summary.json, model.pt, rank_models/.")
    t.add_argument("--config", metavar="FILE", help="TOML file with the settings")
    add_config_flags(t)
    from .compare import add_arguments as add_compare_arguments
    from .compare import build_parser as compare_parser

    cp = compare_parser()
    c = sub.add_parser("compare", help="run several methods on one problem; table of bytes to a "
                       "target accuracy", description=cp.description, epilog=cp.epilog,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_compare_arguments(c)
    b = sub.add_parser(
        "bench", help="benchmarks that print figures (see gossip bench --help)",
        description="default: the default job under mpiexec and its figures (accuracy, bytes vs "
                    "D-PSGD, bits per entry, sparsity, wall time). codec: every codec's rate and "
                    "speed on real and synthetic symbols (gossip bench codec --help). fuzz: feed "
                    "the decoders mutated and forged messages (gossip bench fuzz --help).")
    b.add_argument("what", choices=["default", "codec", "fuzz"])
    b.add_argument("rest", nargs=argparse.REMAINDER, help="options of the chosen benchmark")
    return p


def _rank_for_messages() -> tuple[int, object]:
    """This process's MPI rank (0 without MPI), before any configuration is trusted."""
    from .comm.mpi import launched_by_mpi

    if launched_by_mpi():
        from .comm.mpi import world

        w = world()
        return w.Get_rank(), w
    return 0, None


def cmd_train(args: argparse.Namespace) -> int:
    from topologies import TopologyError

    from . import config
    from .checkpoint import CheckpointError
    from .stop import STOP
    from .train import Preempted, RunError, make_communicator

    rank, world = _rank_for_messages()
    started = []  # non-empty once training began: from then on a failure may be one rank's

    def say(msg: str, *, err: bool = False) -> None:
        if rank == 0:
            print(msg, file=sys.stderr if err else sys.stdout, flush=True)

    cfg = None
    try:
        cfg = config.load(args.config, overrides_from(args))
        kind, n = make_communicator(cfg)
        if kind == "mpi" and world is None:
            from .comm.mpi import world as get_world

            world = get_world()
            rank = world.Get_rank()
        return _train(cfg, kind, n, say, started)
    except Preempted as e:
        why = STOP.signal_name or ("--stop-at-round" if cfg.train.stop_at_round == e.round
                                   else "SIGTERM/SIGUSR1 on another rank")
        say(f"gossip: stopped by {why} after round {e.round}; every rank checkpointed it. "
            f"Continue with: gossip train --resume --out {cfg.train.out} (same settings)", err=True)
        return EXIT_PREEMPTED
    except CheckpointError as e:  # every rank reaches the same verdict (agreed collectively)
        print(f"gossip: rank {rank}: checkpoint error: {e}", file=sys.stderr, flush=True)
        return EXIT_CONFIG
    except (ConfigError, RunError, TopologyError) as e:
        if not started:  # same inputs on every rank: one message, every rank exits 2
            prefix = "topology error: " if isinstance(e, TopologyError) else ""
            say(f"gossip: {prefix}{e}", err=True)
            return EXIT_CONFIG
        return _fail(rank, world, e, trace=False)
    except Exception as e:  # noqa: BLE001 - any failure on one rank must not hang the others
        return _fail(rank, world, e, trace=not isinstance(e, _quiet_errors()))


def _quiet_errors() -> tuple[type, ...]:
    from .algorithms import NeighbourDecodeError
    from .comm.mpi import LostPeerError

    return (NeighbourDecodeError, LostPeerError)


def _fail(rank: int, world, e: BaseException, trace: bool) -> int:
    """A failure on this rank during training: say so, then stop every rank (MPI Abort)."""
    msg = str(e) if str(e).startswith("rank ") else f"rank {rank}: {e}"
    print(f"gossip: {msg}", file=sys.stderr, flush=True)
    if trace:
        traceback.print_exc()
    if world is not None and world.Get_size() > 1:
        import time

        print(f"gossip: rank {rank}: stopping every rank (the last complete checkpoint set "
              f"stays in the run directory)", file=sys.stderr, flush=True)
        time.sleep(1.0)  # let the launcher forward these lines before Abort tears it down
        world.Abort(EXIT_FAILURE)
    return EXIT_FAILURE


def _train(cfg, kind: str, n: int, say, started: list) -> int:
    from .comm import InProcessCommunicator
    from .train import Run, RunError, build_topology, default_out_dir, format_summary, write_config

    topo = build_topology(cfg, n)
    if kind == "mpi":
        from .comm.mpi import MPICommunicator

        comm = MPICommunicator(list(topo.neighbours), timeout=cfg.train.exchange_timeout)
    else:
        comm = InProcessCommunicator(list(topo.neighbours))
    # The root picks and checks the output directory; everyone learns the verdict.
    from .checkpoint import latest_complete

    verdict = None
    if comm.is_root:
        out = Path(cfg.train.out or default_out_dir())
        if cfg.train.resume and not cfg.train.out:
            verdict = "ERR --resume needs --out DIR: the run directory to continue"
        elif cfg.train.resume:
            found = latest_complete(out, comm.size)
            verdict = f"OK {found if found is not None else '-'} {out}"
        elif out.exists() and any(out.iterdir()):
            verdict = (f"ERR output directory {out} is not empty; choose another --out, remove "
                       f"it, or continue its run with --resume")
        else:
            verdict = f"OK - {out}"
    verdict = comm.broadcast_str(verdict)
    if verdict.startswith("ERR "):
        raise RunError(verdict[4:])
    _, found, out_text = verdict.split(" ", 2)
    out = Path(out_text)
    resume_round = None if found == "-" else int(found)
    cfg.train.out = str(out)
    say(f"gossip {cfg.algorithm.name}: {comm.size} ranks, {comm.name} communicator; "
        f"topology {topo.summary()}")
    run = Run(cfg, comm, topo, out)
    if cfg.train.resume:
        say(f"resuming from the round-{resume_round} checkpoint in {out}/ckpt" if resume_round
            else f"--resume: no complete checkpoint in {out}/ckpt, starting from round 1")
    if comm.is_root and resume_round is None:
        out.mkdir(parents=True, exist_ok=True)
        write_config(out, cfg, topo, comm, run.d)
    comm.barrier()
    say(f"model {cfg.model.name}: {run.d:,} entries; data {cfg.data.dataset} "
        f"({len(run.data.y_train)} train / {len(run.data.y_test)} test, {cfg.data.partition}); "
        f"writing {out}/")
    started.append(True)
    summary = run.execute(resume_round)
    if summary is not None:
        say(format_summary(summary))
        say(f"outputs: {out}/ (config.toml, metrics.jsonl, summary.json, model.pt)")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.what == "codec":
        from .bench_codec import main as codec_main

        return codec_main(args.rest)
    if args.what == "fuzz":
        from .fuzz import main as fuzz_main

        return fuzz_main(args.rest)
    from .bench import bench_default

    p = argparse.ArgumentParser(prog="gossip bench default")
    p.add_argument("--ranks", type=int, default=4, help="ranks (mpiexec -n) for the bench run")
    opts, extra = p.parse_known_args(args.rest)
    return bench_default(ranks=opts.ranks, extra=extra)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        from .stop import install_signal_handlers

        install_signal_handlers()  # before the heavy imports: a signal during start-up counts
        return cmd_train(args)
    if args.command == "bench":
        return cmd_bench(args)
    if args.command == "compare":
        from .compare import run_from_args

        return run_from_args(args, argv=(sys.argv[2:] if argv is None else list(argv)[1:]))
    parser.print_help()
    return EXIT_CONFIG
