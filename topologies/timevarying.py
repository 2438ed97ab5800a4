"""Time-varying topologies W(t) over a base graph (docs/algorithms.md §7, rule [A]).

In round t only an active edge set E(t) ⊆ E exchanges messages, and W(t) has
Metropolis–Hastings weights on (V, E(t)).  E(t) is a pure function of (seed, t), so every rank
computes the same schedule without communicating.

Modes: ``static`` (E(t) = E), ``matching`` (a random maximal matching of the base graph each
round: every node talks to at most one neighbour), ``drop`` (each edge is active independently
with probability 1 − p).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .errors import TopologyError

MODES = ("static", "matching", "drop")


class Schedule:
    def __init__(self, edges: list[tuple[int, int]], n: int, mode: str = "static",
                 drop_prob: float = 0.5, seed: int = 0):
        if mode not in MODES:
            raise TopologyError(f"unknown time-varying mode {mode!r}; accepted: {', '.join(MODES)}")
        if not 0.0 <= drop_prob < 1.0:
            raise TopologyError(f"drop probability must be in [0, 1), got {drop_prob}")
        self.edges = np.array(sorted(edges), dtype=np.int64).reshape(-1, 2)
        self.n, self.mode, self.p, self.seed = n, mode, float(drop_prob), int(seed)
        self.active = lru_cache(maxsize=4)(self._active)

    def _rng(self, t: int) -> np.random.Generator:
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(
            [self.seed, 0x7153, int(t)])))

    def _active(self, t: int) -> tuple[tuple[int, int], ...]:
        """The active edges of round t (sorted (i, j) with i < j)."""
        if self.mode == "static" or len(self.edges) == 0:
            return tuple(map(tuple, self.edges.tolist()))
        rng = self._rng(t)
        if self.mode == "drop":
            keep = rng.random(len(self.edges)) >= self.p
            return tuple(map(tuple, self.edges[keep].tolist()))
        order = rng.permutation(len(self.edges))
        free = np.ones(self.n, dtype=bool)
        chosen = []
        for k in order:  # a loop over edges (graph size), never over model entries
            i, j = self.edges[k]
            if free[i] and free[j]:
                free[i] = free[j] = False
                chosen.append((int(i), int(j)))
        return tuple(sorted(chosen))

    def neighbours(self, t: int, i: int) -> tuple[int, ...]:
        return tuple(sorted({b for a, b in self.active(t) if a == i}
                            | {a for a, b in self.active(t) if b == i}))

    def row(self, t: int, i: int) -> dict[int, float]:
        """Row i of W(t): Metropolis–Hastings on the active graph, self weight included."""
        act = self.active(t)
        deg = np.zeros(self.n, dtype=np.int64)
        for a, b in act:
            deg[a] += 1
            deg[b] += 1
        row = {j: 1.0 / (1.0 + float(max(deg[i], deg[j]))) for j in self.neighbours(t, i)}
        row[i] = 1.0 - sum(row.values())
        return dict(sorted(row.items()))
