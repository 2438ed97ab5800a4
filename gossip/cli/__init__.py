"""Command line: ``gossip train``, ``gossip compare`` and ``gossip bench``.

Subcommands are registered in ``COMMANDS`` (name → its module's ``main(args, argv)``, with its
``add_arguments`` in ``meta``); every option of ``gossip train`` comes from the dataclass fields
in :mod:`gossip.config`, so ``--help``, the TOML file and the validation agree.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..registry import Registry
from . import bench, compare, train
from .train import EXIT_CONFIG, EXIT_FAILURE, EXIT_PREEMPTED

COMMANDS = Registry("command")
COMMANDS.register("train", train.main, add=train.add_arguments, defaults_help=True,
                  help="train with gossip (mpiexec -n N gossip train, or in-process)",
                  description="Train a model over a graph of peers. Launch with `mpiexec -n N "
                  "gossip train` (one MPI rank per peer) or run without MPI to simulate --ranks "
                  "peers in this process. Settings: defaults < --config FILE (TOML with sections "
                  "[topology] [data] [model] [algorithm] [train]) < flags. Outputs go to --out: "
                  "config.toml, metrics.jsonl, summary.json, model.pt, rank_models/.")
COMMANDS.register("compare", compare.main, add=compare.add_arguments,
                  help="run several methods on one problem; table of bytes to a target accuracy")
COMMANDS.register("bench", bench.main, add=bench.add_arguments,
                  help="benchmarks that print figures (see gossip bench --help)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gossip",
        description="Decentralized, communication-efficient training. Every MPI rank is a peer "
                    "that trains its own model and agrees with its graph neighbours by gossip.",
        epilog="Run `gossip COMMAND --help` for each command's options.")
    p.add_argument("--version", action="version", version=f"gossip {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        e = COMMANDS[name]
        kw = {"formatter_class": argparse.ArgumentDefaultsHelpFormatter} \
            if e.meta.get("defaults_help") else {}
        sp = sub.add_parser(name, help=e.help, description=e.meta.get("description"), **kw)
        e.meta["add"](sp)
    return p


def main(argv: list[str] | None = None) -> int:
    first = (sys.argv[1:] if argv is None else list(argv))[:1]
    if first == ["train"]:
        from ..run.stop import install_signal_handlers

        install_signal_handlers()  # before the heavy imports: a signal during start-up counts
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_CONFIG
    rest = sys.argv[2:] if argv is None else list(argv)[1:]
    return COMMANDS.build(args.command, args, rest)


__all__ = ["COMMANDS", "EXIT_CONFIG", "EXIT_FAILURE", "EXIT_PREEMPTED", "build_parser", "main"]
