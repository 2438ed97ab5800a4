"""Quantization error of plain vs subtractive dither on real Malcom-PSGD residuals.

python analysis/dither_error.py [--rounds 500] : trains in-process on digits, takes rank 0's
residual x_half − x̂ at the given round and prints E||v̂ − v||² / ||v||² for both dither modes
and both quantizer scales (100 dither draws each).
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from gossip import config
from gossip.comm import InProcessCommunicator
from gossip.compressors import DitheredQuantizer
from gossip.rng import numpy_rng
from gossip.train import Run, build_topology


def residual_at(rounds: int) -> tuple[np.ndarray, list[int]]:
    cfg = config.load(None, {"train": {"rounds": rounds, "comm": "inprocess", "progress": False}})
    topo = build_topology(cfg, cfg.train.ranks)
    run = Run(cfg, InProcessCommunicator(list(topo.neighbours)), topo, Path(tempfile.mkdtemp()))
    for t in range(1, rounds):
        run.round(t)
    w = run.workers[0]
    x_half = w.model.x - np.float32(cfg.algorithm.lr) * w.gradient()
    return x_half - w.state.x_hat, run.block_sizes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=500)
    args = ap.parse_args()
    r, blocks = residual_at(args.rounds)
    print(f"residual at round {args.rounds}: d={r.size}, ||r||²={float(r @ r):.4g}")
    print(f"{'quantizer':<28} {'plain dither':>14} {'subtractive':>14}")
    for name, kw in [("l2 + tau, s=4 (default)", dict(levels=4, norm="l2", tau_scaling=True)),
                     ("inf, s=2", dict(levels=2, norm="inf")),
                     ("inf, s=16", dict(levels=16, norm="inf"))]:
        row = []
        for sub in (False, True):
            q = DitheredQuantizer(blocks, subtractive=sub, **kw)
            g = numpy_rng(0, 0, "dither-error")
            errs = []
            for _ in range(100):
                u = q.dither(g)
                e = q.dequantize(q.quantize(r, u), u) - r
                errs.append(float(e @ e))
            row.append(np.mean(errs) / float(r @ r))
        print(f"{name:<28} {row[0]:>14.4f} {row[1]:>14.4f}")


if __name__ == "__main__":
    main()
