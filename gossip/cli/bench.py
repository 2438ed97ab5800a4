"""``gossip bench WHAT``: benchmarks that print figures (never timed unit tests)."""

from __future__ import annotations

import argparse

from ..registry import Registry

BENCHES = Registry("benchmark")


def _tool(module: str):
    """The ``main(argv)`` of ``gossip.tools.bench.<module>``, imported when it runs."""

    def run(rest: list[str]) -> int:
        import importlib

        return importlib.import_module(f"gossip.tools.bench.{module}").main(rest)

    return run


_default, _codec, _fuzz = _tool("default"), _tool("codec"), _tool("fuzz")


BENCHES.register("default", _default, help="the default job under mpiexec and its figures "
                 "(accuracy, bytes vs D-PSGD, bits per entry, sparsity, wall time)")
BENCHES.register("codec", _codec, help="every codec's rate and speed on real and synthetic "
                 "symbols (gossip bench codec --help)")
BENCHES.register("fuzz", _fuzz, help="feed every decoder mutated and forged messages "
                 "(gossip bench fuzz --help)")
def _wallclock(rest: list[str]) -> int:
    from ..tools.wallclock import main

    return main(rest)


BENCHES.register("wallclock", _wallclock, help="wall-clock time to a target accuracy per method, "
                 "with the link unthrottled and shaped to given rates (gossip bench wallclock "
                 "--help): does gossip pay at your bandwidth?")
def _kernels(rest: list[str]) -> int:
    from ..kernels.bench import main

    return main(rest)


BENCHES.register("kernels", _kernels, help="compiled VSC codec against numpy and zstd-3, and the "
                 "quantizer kernels against numpy (gossip bench kernels --help)")
BENCHES.register("dither", _tool("dither"), help="quantization error of each dither mode on "
                 "a real training residual")
BENCHES.register("straggler", _tool("straggler"), help="time and bytes to a target accuracy, "
                 "sync against async, with one rank 1x-8x slower (gossip bench straggler --help)")
BENCHES.register("checkpoint", _tool("checkpoint"), help="time to write and load a "
                 "checkpoint set")
BENCHES.register("rounds", _tool("rounds"), help="round time per method and model size under "
                 "mpiexec, split into compute / codec / wire (gossip bench rounds --help)")
BENCHES.register("exchange", _tool("exchange"), help="MPICommunicator.exchange against raw "
                 "Isend/Irecv/Waitall, 1 KB to 64 MB on a ring under mpiexec")


def add_arguments(b: argparse.ArgumentParser) -> None:
    b.description = " ".join(f"{n}: {BENCHES[n].help}." for n in BENCHES)
    b.add_argument("what", choices=BENCHES.names())
    b.add_argument("rest", nargs=argparse.REMAINDER, help="options of the chosen benchmark")


def main(args: argparse.Namespace, argv: list[str]) -> int:
    return BENCHES.build(args.what, args.rest)
