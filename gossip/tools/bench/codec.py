"""Codec benchmark: VSC against the entropy bound, general-purpose compressors and a
near-optimal entropy coder, on symbols from real training runs and on synthetic symbols.

``gossip bench codec [--out DIR] [--rounds R] [--large] ...`` (or ``python -m
gossip.tools.bench.codec``) prints one Markdown table per input and the targets with PASS/MISS,
and writes ``results.json`` and ``codec_bench.png`` into ``--out`` (default
``runs/bench-codec-<timestamp>``).  The parts: :mod:`.codec_inputs` (training and synthetic
symbols), :mod:`.codec_rows` (the codecs), :mod:`.codec_measure` (timing and memory),
:mod:`.codec_report` (targets, tables, PNG).

Rows (codecs) per input, all lossless except the two analytic rows:

* ``vsc``: :func:`gossip.codecs.vsc.encode` / ``decode``; bits are the whole message (13-ish
  header bytes with the CRC32 included, padding included).
* ``entropy bound``: d·Ĥ of the empirical histogram plus the symbol-table cost (VSC's own
  Elias-γ table: K, the symbols, the counts but the first).  Not a codec: bits only.
* ``closed form``: :func:`gossip.codecs.vsc.expected_bits` (docs/algorithms.md §3.5; header included,
  padding not).  Bits only.
* ``zstd-3``, ``zstd-19``: python-zstandard, one thread, on the int8 (or int16) symbol bytes;
  the frame header is included.
* ``lzma``: LZMA2 preset 6 as a raw stream (no .xz container, which would add ~60 bytes).
* ``raw bitpack``: fixed width ⌈log2(2s+1)⌉ bits per entry, s = max |z| (the quantizer's level
  count for training inputs); no header.
* ``ans``: constriction's ANS coder (``constriction.stream.stack.AnsCoder``) with a categorical
  model of the empirical histogram; its bits are the compressed 32-bit words **plus** the same
  symbol-table cost as the bound (the receiver needs the model).

Measured per lossless codec: bits per entry, bytes, encode and decode throughput (million
entries per second, best of a few repeats, one thread, garbage collector off while timed), and
the peak extra memory of one encode and one decode: ``tracemalloc`` peak (allocations made
through Python and numpy; C libraries' internal buffers, e.g. zstd's window, are invisible to
it) and, where the platform allows, the growth of the resident set measured in a forked child
(``/proc/self/clear_refs`` + ``VmHWM``), which does see those buffers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from .codec_inputs import BenchInput, geometric_symbols, synthetic_inputs, training_inputs
from .codec_measure import bench_input
from .codec_report import (T_BOUND, T_CLOSED, T_RIVALS, T_TIME, TARGET_BOUND_MIN_D,
                           TARGET_BOUND_RATIO, TARGET_CLOSED_FORM, TARGET_NAMES, TARGET_TIME_RATIO,
                           evaluate_targets, markdown_table, plot, targets_text)
from .codec_rows import (BOUND, CLOSED, CODEC_ORDER, OPTIONAL_ROWS, _importable, available_codecs,
                         histogram, make_codecs, table_bits)

__all__ = ["BenchInput", "geometric_symbols", "synthetic_inputs", "training_inputs",
           "bench_input", "T_BOUND", "T_CLOSED", "T_RIVALS", "T_TIME", "TARGET_BOUND_MIN_D",
           "TARGET_BOUND_RATIO", "TARGET_CLOSED_FORM", "TARGET_NAMES", "TARGET_TIME_RATIO",
           "evaluate_targets", "markdown_table", "plot", "targets_text", "BOUND", "CLOSED",
           "CODEC_ORDER", "OPTIONAL_ROWS", "_importable", "available_codecs", "histogram",
           "make_codecs", "table_bits", "build_parser", "run_bench", "main"]

DEFAULT_SIZES = (10**4, 10**5, 10**6)
LARGE_SIZE = 10**7
DEFAULT_FRACTIONS = (0.001, 0.01, 0.1, 0.5)


def _versions() -> dict:
    v = {"python": platform.python_version(), "numpy": np.__version__,
         "platform": platform.platform(), "cpu_count": os.cpu_count()}
    for mod in ("zstandard", "constriction", "matplotlib"):
        try:
            m = __import__(mod)
            v[mod] = getattr(m, "__version__", "?")
        except ImportError:
            v[mod] = None
    return v


# ------------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gossip bench codec", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=None,
                   help="output directory (default runs/bench-codec-<timestamp>)")
    p.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES),
                   help="synthetic vector sizes d (default 1e4 1e5 1e6)")
    p.add_argument("--large", action="store_true", help="also run synthetic d = 1e7")
    p.add_argument("--fractions", type=float, nargs="+", default=list(DEFAULT_FRACTIONS),
                   help="synthetic nonzero fractions (default 0.001 0.01 0.1 0.5)")
    p.add_argument("--theta", type=float, default=0.5,
                   help="synthetic magnitude ratio P(m+1)/P(m) of the two-sided geometric")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=200,
                   help="Malcom-PSGD rounds per training variant (late input = last round)")
    p.add_argument("--early", type=int, default=1, help="the early round to dump")
    p.add_argument("--hidden", type=int, default=2000,
                   help="MLP hidden width for the training inputs (2000: d = 150,010)")
    p.add_argument("--no-train", action="store_true", help="skip the training-run inputs")
    p.add_argument("--no-synthetic", action="store_true", help="skip the synthetic inputs")
    p.add_argument("--repeats", type=int, default=5, help="most timing repeats (best is kept)")
    p.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    return p


def run_bench(args: argparse.Namespace, log=print) -> dict:
    """Collect inputs, measure every codec, evaluate the targets; returns the JSON report."""
    inputs: list[BenchInput] = []
    t0 = time.perf_counter()
    if not args.no_train:
        log(f"dumping symbols from Malcom-PSGD runs ({args.rounds} rounds, hidden {args.hidden})")
        inputs += training_inputs(rounds=args.rounds, hidden=args.hidden, seed=args.seed,
                                  early=args.early, log=log)
    if not args.no_synthetic:
        sizes = list(args.sizes) + ([LARGE_SIZE] if args.large and LARGE_SIZE not in args.sizes
                                    else [])
        inputs += synthetic_inputs(sizes, args.fractions, theta=args.theta, seed=args.seed)
    results = []
    for inp in inputs:
        t1 = time.perf_counter()
        results.append(bench_input(inp, max_repeats=args.repeats, memory=not args.no_memory))
        log(f"  benched {inp.name} ({time.perf_counter() - t1:.1f} s)")
    targets = evaluate_targets(results)
    return {"args": {k: v for k, v in vars(args).items()}, "versions": _versions(),
            "targets_spec": {"bound_ratio": TARGET_BOUND_RATIO, "bound_min_d": TARGET_BOUND_MIN_D,
                             "time_ratio_vs_zstd3": TARGET_TIME_RATIO,
                             "closed_form_rel_err": TARGET_CLOSED_FORM},
            "inputs": results, "targets": targets, "wall_seconds": time.perf_counter() - t0}


def _bad_option(args) -> str | None:
    """The first option out of range, said as the fix (None: all fine)."""
    if min(args.sizes) < 1:
        return f"--sizes {min(args.sizes)}: a vector has at least 1 entry"
    if not all(0 < f <= 1 for f in args.fractions):
        return f"--fractions {' '.join(map(str, args.fractions))}: each in (0, 1]"
    if not 0 < args.theta < 1:
        return f"--theta {args.theta:g}: a ratio P(m+1)/P(m) in (0, 1)"
    if min(args.rounds, args.early, args.hidden, args.repeats) < 1 or args.early > args.rounds:
        return "--rounds, --early, --hidden and --repeats must be >= 1, and --early <= --rounds"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    bad = _bad_option(args)
    if bad:
        parser.error(bad)
    out = Path(args.out or Path("runs") / f"bench-codec-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    report = run_bench(args, log=log)
    for res in report["inputs"]:
        print(markdown_table(res), flush=True)
    print(targets_text(report["targets"]), flush=True)
    (out / "results.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    wrote = [out / "results.json"]
    if not args.no_plot:
        if _importable("matplotlib"):
            plot(report["inputs"], out / "codec_bench.png")
            wrote.append(out / "codec_bench.png")
        else:
            print("no PNG: matplotlib is missing (pip install -e '.[bench]')")
    missing = [n for n in CODEC_ORDER if n not in available_codecs()]
    if missing:
        print(f"rows left out, their package is missing: {', '.join(missing)} "
              f"(pip install -e '.[bench]')")
    print(f"wrote {' and '.join(map(str, wrote))} ({report['wall_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
