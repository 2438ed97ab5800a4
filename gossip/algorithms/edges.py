"""CHOCO-SGD / Malcom-PSGD and D-PSGD on time-varying graphs W(t) (docs/algorithms.md).

The trap: a public copy x̂_j must stay identical at every holder, but on a time-varying graph
j's message reaches only its *active* neighbours.  We keep one public copy per directed edge:
rank i holds x̂_{i→j} (its own model as neighbour j knows it) and x̂_{j→i} (j's model as i knows
it) for every base-graph neighbour j.  In round t, for each active edge {i, j}:

    q_ij   = C(x_half − x̂_{i→j})      sent to j only (its own random stream)
    x̂_{i→j} += deQ(q_ij);   x̂_{j→i} += deQ(q_ji)
    y      = x_half + γ·Σ_{j active} w_ij(t)·(x̂_{j→i} − x̂_{i→j});   x = soft(y, η·μ)

An inactive edge sends nothing and changes neither copy, so both ends always agree.  Costs
2·deg copies of the model per rank.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..channel import Channel
from .base import Algorithm, GradientOracle, RoundInfo
from ..prox import soft_threshold
from .dpsgd import DPSGD, DPSGDState


@dataclass
class EdgeChocoState:
    rank: int
    own: dict = field(default_factory=dict)  # j -> x̂_{i→j}
    theirs: dict = field(default_factory=dict)  # j -> x̂_{j→i}
    round: int = 0
    pending: dict | None = None


class EdgeChocoSGD(Algorithm):

    def __init__(self, *, schedule, neighbours: dict[int, tuple[int, ...]], channel: Channel,
                 lr: float, gamma: float, l1: float = 0.0, name: str = "choco"):
        self.schedule, self.neighbours, self.channel = schedule, neighbours, channel
        self.lr, self.gamma, self.l1, self.name = float(lr), float(gamma), float(l1), name

    def init_state(self, rank: int, x0: np.ndarray) -> EdgeChocoState:
        x0 = np.asarray(x0, dtype=np.float32)
        return EdgeChocoState(rank=rank, own={j: x0.copy() for j in self.neighbours[rank]},
                              theirs={j: x0.copy() for j in self.neighbours[rank]})

    def compose(self, state: EdgeChocoState, x: np.ndarray, oracle: GradientOracle):
        state.round += 1
        x -= np.float32(self.eta(state.round)) * oracle.grad()
        i, t = state.rank, state.round
        state.pending = {j: self.channel.send(x - state.own[j], i, t, stream=j + 1)
                         for j in self.schedule.neighbours(t, i)}
        out = {j: s.message for j, s in state.pending.items()}
        ent = [s.symbol_entropy_bits for s in state.pending.values()]
        return out, RoundInfo(message_bytes=sum(len(m) for m in out.values()),
                              symbol_entropy_bits=float(np.mean(ent)) if ent else float("nan"),
                              messages=len(out))

    def absorb(self, state: EdgeChocoState, x: np.ndarray, inbox: dict[int, bytes],
               round_: int) -> None:
        i = state.rank
        row = self.schedule.row(round_, i)
        mix = np.zeros_like(x)
        for j in sorted(state.pending):  # ascending: one fixed order everywhere
            state.own[j] += state.pending[j].decoded
            state.theirs[j] += self.decode_from(self.channel, i, j, inbox[j], round_, stream=i + 1)
            mix += np.float32(row[j]) * (state.theirs[j] - state.own[j])
        state.pending = None
        soft_threshold(x + np.float32(self.gamma) * mix, self.eta(round_) * self.l1, out=x)


class EdgeDPSGD(DPSGD):
    """D-PSGD with W(t): x_i ← Σ_{j ∈ N_i(t) ∪ {i}} w_ij(t)·(x_j − η·g_j) (``atc``) or
    Σ_j w_ij(t)·x_j − η·g_i (``cta``)."""

    def __init__(self, *, schedule, channel: Channel, lr: float, form: str = "atc"):
        super().__init__(weights={}, channel=channel, lr=lr, form=form)
        self.schedule = schedule

    def row(self, i: int, round_: int) -> dict[int, float]:
        return self.schedule.row(round_, i)

    def compose(self, state: DPSGDState, x: np.ndarray, oracle: GradientOracle):
        sent = self._step(state, x, oracle)
        peers = self.schedule.neighbours(state.round, state.rank)
        return ({j: sent.message for j in peers},
                RoundInfo(message_bytes=len(sent.message) * len(peers), messages=len(peers)))
