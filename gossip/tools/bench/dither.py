"""Quantization error of plain against subtractive dither on real Malcom-PSGD residuals.

``python -m gossip.tools.bench.dither [--rounds 500]``: trains the default job in-process on
digits for ``rounds - 1`` rounds, then takes rank 0's residual x_half − x̂ of round ``rounds``
(x_half = x − η·g on a fresh minibatch, as the algorithm would compose it) and prints
E||v̂ − v||² / ||v||² for both dither modes and three quantizers (100 dither draws each).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from .. import _core

QUANTIZERS = (("l2 + tau, s=4 (default)", dict(levels=4, norm="l2", tau_scaling=True)),
              ("inf, s=2", dict(levels=2, norm="inf")),
              ("inf, s=16", dict(levels=16, norm="inf")))


def residual_at(rounds: int) -> tuple[np.ndarray, list[int]]:
    """Rank 0's residual x_half − x̂ at round ``rounds`` and the model's block sizes."""
    cfg = _core.load_config(None, {"train": {"rounds": rounds, "comm": "inprocess",
                                             "progress": False}})
    topo = _core.build_topology(cfg, cfg.train.ranks)
    with tempfile.TemporaryDirectory() as tmp:
        run = _core.Run(cfg, _core.InProcessCommunicator(list(topo.neighbours)), topo, Path(tmp))
        for t in range(1, rounds):
            run.round(t)
        w = run.workers[0]
        w.new_round()  # round `rounds`: a fresh minibatch, as compose would draw
        x_half = w.model.x - np.float32(cfg.algorithm.lr) * w.grad()
        return x_half - w.state.x_hat, list(run.block_sizes)


def relative_errors(r: np.ndarray, blocks: list[int], draws: int = 100) -> list[tuple[str, float, float]]:
    """(quantizer, plain-dither error, subtractive-dither error) per quantizer."""
    out = []
    for name, kw in QUANTIZERS:
        row = []
        for sub in (False, True):
            q = _core.DitheredQuantizer(blocks, subtractive=sub, **kw)
            g = _core.numpy_rng(0, 0, "dither-error")
            errs = []
            for _ in range(draws):
                u = q.dither(g)
                e = q.dequantize(q.quantize(r, u), u) - r
                errs.append(float(e @ e))
            row.append(float(np.mean(errs)) / float(r @ r))
        out.append((name, row[0], row[1]))
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gossip.tools.bench.dither",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=500)
    p.add_argument("--draws", type=int, default=100, help="dither draws per quantizer")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.rounds < 1:
        raise SystemExit("dither: --rounds must be >= 1")
    r, blocks = residual_at(args.rounds)
    print(f"residual at round {args.rounds}: d={r.size}, ||r||²={float(r @ r):.4g}")
    print(f"{'quantizer':<28} {'plain dither':>14} {'subtractive':>14}")
    for name, plain, sub in relative_errors(r, blocks, args.draws):
        print(f"{name:<28} {plain:>14.4f} {sub:>14.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
