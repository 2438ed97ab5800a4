"""``gossip bench WHAT``: benchmarks that print figures (never timed unit tests)."""

from __future__ import annotations

import argparse

from ..registry import Registry

BENCHES = Registry("benchmark")


def _default(rest: list[str]) -> int:
    from ..bench import bench_default

    p = argparse.ArgumentParser(prog="gossip bench default")
    p.add_argument("--ranks", type=int, default=4, help="ranks (mpiexec -n) for the bench run")
    opts, extra = p.parse_known_args(rest)
    return bench_default(ranks=opts.ranks, extra=extra)


def _codec(rest: list[str]) -> int:
    from ..bench_codec import main

    return main(rest)


def _fuzz(rest: list[str]) -> int:
    from ..fuzz import main

    return main(rest)


BENCHES.register("default", _default, help="the default job under mpiexec and its figures "
                 "(accuracy, bytes vs D-PSGD, bits per entry, sparsity, wall time)")
BENCHES.register("codec", _codec, help="every codec's rate and speed on real and synthetic "
                 "symbols (gossip bench codec --help)")
BENCHES.register("fuzz", _fuzz, help="feed every decoder mutated and forged messages "
                 "(gossip bench fuzz --help)")


def add_arguments(b: argparse.ArgumentParser) -> None:
    b.description = " ".join(f"{n}: {BENCHES[n].help}." for n in BENCHES)
    b.add_argument("what", choices=BENCHES.names())
    b.add_argument("rest", nargs=argparse.REMAINDER, help="options of the chosen benchmark")


def main(args: argparse.Namespace, argv: list[str]) -> int:
    return BENCHES.build(args.what, args.rest)
