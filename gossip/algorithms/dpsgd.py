"""D-PSGD (docs/algorithms.md): x_i ← Σ_j w_ij x_j − η·∇F_i(x_i; ξ), full float32 models.

The gradient is taken at the rank's own current model before mixing; every round each rank
sends its whole model (raw float32 frame) to each neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..channel import Channel
from .base import Algorithm, GradientOracle, info_from


@dataclass
class DPSGDState:
    rank: int
    round: int = 0
    grad: np.ndarray | None = None


class DPSGD(Algorithm):
    name = "dpsgd"

    def __init__(self, *, weights: dict[int, dict[int, float]], channel: Channel, lr: float):
        self.weights = {i: {j: np.float32(w) for j, w in sorted(row.items())}
                        for i, row in weights.items()}
        self.peers = {i: tuple(j for j in row if j != i) for i, row in self.weights.items()}
        self.channel, self.lr = channel, float(lr)

    def init_state(self, rank: int, x0: np.ndarray) -> DPSGDState:
        return DPSGDState(rank=rank)

    def row(self, i: int, round_: int) -> dict[int, np.float32]:
        """w_ij for j ∈ N_i ∪ {i}, ascending (the static W; see EdgeDPSGD for W(t))."""
        return self.weights[i]

    def _step(self, state: DPSGDState, x: np.ndarray, oracle: GradientOracle):
        state.grad = oracle.grad()
        state.round += 1
        return self.channel.send(x, state.rank, state.round)

    def compose(self, state: DPSGDState, x: np.ndarray, oracle: GradientOracle):
        sent = self._step(state, x, oracle)
        return {j: sent.message for j in self.peers[state.rank]}, info_from(sent)

    def absorb(self, state: DPSGDState, x: np.ndarray, inbox: dict[int, bytes], round_: int) -> None:
        i = state.rank
        mixed = np.zeros_like(x)
        for j, w in self.row(i, round_).items():
            mixed += np.float32(w) * (x if j == i else
                                      self.decode_from(self.channel, i, j, inbox[j], round_))
        x[:] = mixed - np.float32(self.lr) * state.grad
        state.grad = None
