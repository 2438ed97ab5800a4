"""D-PSGD (docs/algorithms.md §6), full float32 models, in either textbook form:

- ``atc`` (adapt-then-combine, the default): x_i ← Σ_j w_ij (x_j − η·∇F_j(x_j; ξ_j)); each rank
  sends its half step x − η·g (CHOCO-SGD's uncompressed baseline);
- ``cta`` (combine-then-adapt, Lian et al.): x_i ← Σ_j w_ij x_j − η·∇F_i(x_i; ξ_i); each rank
  sends x.

The gradient is taken at the rank's own current model; every round each rank sends one raw
float32 frame to each neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..channel import Channel
from .base import Algorithm, GradientOracle, info_from

FORMS = ("atc", "cta")


@dataclass
class DPSGDState:
    rank: int
    round: int = 0
    grad: np.ndarray | None = None


class DPSGD(Algorithm):
    name = "dpsgd"

    def __init__(self, *, weights: dict[int, dict[int, float]], channel: Channel, lr: float,
                 form: str = "atc"):
        if form not in FORMS:
            raise ValueError(f"D-PSGD form must be one of {FORMS}, got {form!r}")
        self.weights = {i: {j: np.float32(w) for j, w in sorted(row.items())}
                        for i, row in weights.items()}
        self.peers = {i: tuple(j for j in row if j != i) for i, row in self.weights.items()}
        self.channel, self.lr, self.form = channel, float(lr), form

    def init_state(self, rank: int, x0: np.ndarray) -> DPSGDState:
        return DPSGDState(rank=rank)

    def row(self, i: int, round_: int) -> dict[int, np.float32]:
        """w_ij for j ∈ N_i ∪ {i}, ascending (the static W; see EdgeDPSGD for W(t))."""
        return self.weights[i]

    def _step(self, state: DPSGDState, x: np.ndarray, oracle: GradientOracle):
        state.grad = oracle.grad()
        state.round += 1
        if self.form == "atc":  # adapt first: send (and keep) the half step
            x -= np.multiply(state.grad, np.float32(self.eta(state.round)), out=state.grad)
            state.grad = None
        return self.channel.send(x, state.rank, state.round)

    def compose(self, state: DPSGDState, x: np.ndarray, oracle: GradientOracle):
        sent = self._step(state, x, oracle)
        return {j: sent.message for j in self.peers[state.rank]}, info_from(sent)

    def absorb(self, state: DPSGDState, x: np.ndarray, inbox: dict[int, bytes], round_: int) -> None:
        i = state.rank
        mixed = np.zeros_like(x)
        tmp = np.empty_like(x)  # w·x_j lands here: no temporary per neighbour
        for j, w in self.row(i, round_).items():
            mixed += np.multiply(np.float32(w), x if j == i else
                                 self.decode_from(self.channel, i, j, inbox[j], round_), out=tmp)
        if self.form == "cta":
            mixed -= np.multiply(np.float32(self.eta(round_)), state.grad, out=tmp)
        x[:] = mixed
        state.grad = None
