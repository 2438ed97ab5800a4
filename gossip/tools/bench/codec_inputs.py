"""Inputs of the codec benchmark: symbols dumped from real training runs, and synthetic
two-sided geometric symbols."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import _core

#: Malcom-PSGD variants dumped from real runs: (label, algorithm overrides).
TRAINING_VARIANTS = (
    ("malcom default (l2+tau, s=4)", {}),
    ("malcom --norm inf --levels 2", {"norm": "inf", "tau_scaling": False, "levels": 2,
                                      "gamma": 0.3}),
    ("choco QSGD-16 (gamma 0.34)", {"name": "choco", "gamma": 0.34}),
)



@dataclass
class BenchInput:
    name: str
    z: np.ndarray  # int8 / int16 symbols
    levels: int  # s: symbols lie in -s..s
    kind: str  # "training" or "synthetic"
    meta: dict = field(default_factory=dict)

    @property
    def d(self) -> int:
        return int(self.z.size)


def geometric_symbols(d: int, nonzero: float, *, theta: float = 0.5, seed: int = 0) -> np.ndarray:
    """Two-sided geometric (Laplace-like) i.i.d. symbols: 0 with probability 1 − ``nonzero``,
    else ±m with a fair sign and P(m) = (1 − θ)·θ^(m−1), m ≥ 1, clipped to 127 (int8)."""
    rng = np.random.default_rng([seed, d, int(round(nonzero * 1e6))])
    z = np.zeros(d, dtype=np.int8)
    hit = np.flatnonzero(rng.random(d) < nonzero)
    mag = np.minimum(rng.geometric(1.0 - theta, hit.size), 127).astype(np.int8)
    z[hit] = np.where(rng.random(hit.size) < 0.5, -mag, mag)
    return z


def synthetic_inputs(sizes, fractions, *, theta: float = 0.5, seed: int = 0) -> list[BenchInput]:
    out = []
    for d in sizes:
        for f in fractions:
            z = geometric_symbols(int(d), float(f), theta=theta, seed=seed)
            out.append(BenchInput(f"synthetic d={int(d):.0e} nz={f:g}", z,
                                  int(np.abs(z.astype(np.int16)).max(initial=0)), "synthetic",
                                  {"d": int(d), "nonzero_target": float(f), "theta": theta,
                                   "seed": seed}))
    return out


def training_inputs(rounds: int = 200, hidden: int = 2000, ranks: int = 4, seed: int = 0,
                    early: int = 1, variants=TRAINING_VARIANTS, log=print) -> list[BenchInput]:
    """Run each quantizing variant (Malcom-PSGD, CHOCO-SGD with QSGD) in-process on digits and
    dump the symbols rank 0 sent in round
    ``early`` and in the last round, for each variant.

    The symbols are captured by wrapping ``run.algorithm.compose`` (the message bytes it
    returns are decoded with :mod:`gossip.codecs.qframe`), so the training is untouched."""
    import torch

    threads = torch.get_num_threads()
    out = []
    try:
        for label, algo in variants:
            ov: dict[str, dict[str, Any]] = {
                "model": {"hidden": hidden},
                "train": {"rounds": rounds, "comm": "inprocess", "ranks": ranks,
                          "progress": False, "seed": seed}}
            if algo:
                ov["algorithm"] = dict(algo)
            cfg = _core.load_config(None, ov)
            topo = _core.build_topology(cfg, ranks)
            comm = _core.InProcessCommunicator(list(topo.neighbours))
            with tempfile.TemporaryDirectory() as tmp:
                run = _core.Run(cfg, comm, topo, Path(tmp))
                captured: dict[int, bytes] = {}
                inner = run.algorithm.compose

                def compose(state, x, grad, _inner=inner, _cap=captured):
                    msg, info = _inner(state, x, grad)
                    _cap[state.rank] = bytes(msg)
                    return msg, info

                run.algorithm.compose = compose
                want = sorted({min(early, rounds), rounds})
                t0 = time.perf_counter()
                for t in range(1, rounds + 1):
                    captured.clear()
                    run.round(t)
                    if t in want:
                        msg = captured[0]
                        q = _core.qframe.decode(msg, levels=cfg.algorithm.levels,
                                          block_sizes=run.block_sizes)
                        z = np.asarray(q.symbols)
                        phase = "early" if t == want[0] and t != rounds else "late"
                        out.append(BenchInput(
                            f"{label}, round {t} ({phase})", z, cfg.algorithm.levels, "training",
                            {"variant": label, "algorithm_overrides": algo, "round": t,
                             "rounds": rounds, "phase": phase, "rank": 0, "hidden": hidden,
                             "ranks": ranks, "seed": seed, "d": int(z.size),
                             "block_sizes": [int(b) for b in run.block_sizes],
                             "qframe_message_bytes": len(msg),
                             "mean_loss": float(np.mean([w.loss for w in run.workers]))}))
                log(f"  trained {label}: {rounds} rounds, d={run.d:,}, "
                    f"{time.perf_counter() - t0:.1f} s")
    finally:
        torch.set_num_threads(threads)
    return out
