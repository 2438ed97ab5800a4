"""CHOCO-SGD (ICLR 2020 order) and Malcom-PSGD, one class (docs/algorithms.md).

Malcom-PSGD is CHOCO-SGD with the dithered quantizer, vector source coding and an l1 prox
after the consensus step.  One round on rank i:

    x_half = x − η·g
    q      = C(x_half − x̂_i)                          compressor, then codec → bytes
    x̂_i  += deQ(q);   s_i += Σ_{j∈N_i∪{i}} w_ij·deQ(q_j)   (ascending j, one fixed order)
    y      = x_half + γ·(s_i − x̂_i)
    x      = soft(y, η·μ)                              (μ = 0: plain CHOCO-SGD)

Only the mixed copy s_i = Σ_j w_ij x̂_j is kept, not one copy per neighbour.

``residual_order="prox"`` [A] (docs/algorithms.md §4.3): the public copy tracks the prox'ed
model, x = soft(x_half + γ·(s_i − x̂_i), η·μ) on the previous round's copies, then q = C(x − x̂_i)
and the copies update; a coordinate that stays exactly zero sends exactly zero.

``kernels`` (``--kernels``): with compiled kernels (:mod:`gossip.kernels`) and the dithered
quantizer, the copy updates (x̂_i += deQ, s_i += w_ij·deQ) run fused on the symbols without a
dense deQ vector, and the consensus step with the prox is one fused pass; bit-identical.

Tuning guide.  γ trades consensus speed against compression noise.  Malcom's default quantizer
is σ = ||v||_2 per tensor with CHOCO's 1/τ scaling and s = 4: most symbols are 0, so a message
costs about 0.47 bits per entry, but it tolerates only a small γ (measured on digits, 4-8 ranks:
0.05 and 0.1 converge, 0.2 degrades, 0.3 diverges).  ``--norm inf`` (σ = max|v|) converges for
γ up to 0.6 at about 1.5-2 bits per entry.  ``--norm l2`` without ``--tau-scaling`` is not
contractive and diverges (docs/algorithms.md).  CHOCO's own settings: QSGD-16 γ = 0.34 (our
default 0.1), top-1% γ = 0.04.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..channel import Channel, Sent
from ..codecs import DecodeError
from ..compressors import DitheredQuantizer
from ..prox import soft_threshold  # noqa: F401 - re-exported
from .base import Algorithm, GradientOracle, NeighbourDecodeError, info_from


@dataclass
class ChocoState:
    rank: int
    x_hat: np.ndarray  # own public copy (float32), identical at every neighbour
    s: np.ndarray  # Σ_j w_ij x̂_j over N_i ∪ {i} (float32)
    round: int = 0  # rounds composed so far
    pending: Sent | None = None


class ChocoSGD(Algorithm):
    name = "choco"

    def __init__(self, *, weights: dict[int, dict[int, float]], channel: Channel, lr: float,
                 gamma: float, l1: float = 0.0, name: str = "choco", residual_order: str = "half",
                 kernels: str = "numpy"):
        """``weights[i][j]`` = w_ij for j ∈ N_i ∪ {i} (rows of W for the local ranks);
        ``kernels``: "numpy", "compiled" or "auto" (:func:`gossip.kernels.select`)."""
        self.weights = {i: {j: np.float32(w) for j, w in sorted(row.items())}
                        for i, row in weights.items()}
        self.peers = {i: tuple(j for j in row if j != i) for i, row in self.weights.items()}
        self.channel = channel
        self.lr, self.gamma, self.l1 = float(lr), float(gamma), float(l1)
        self.name = name
        self._work: dict[int, np.ndarray] = {}  # per-rank scratch vector (not checkpointed)
        if residual_order not in ("half", "prox"):
            raise ValueError(f"residual order must be 'half' or 'prox', got {residual_order!r}")
        self.prox_first = residual_order == "prox"
        self.kern = None  # compiled kernels, or None: the numpy code below
        if kernels != "numpy":
            from ..kernels import select, warm

            k = select(kernels)
            if k.mode == "compiled":
                self.kern = k
                warm((getattr(channel.compressor, "dtype", np.int8),))  # in set-up, not round 1
        # fused copy updates on the symbols: only for the dithered quantizer
        self.fused = self.kern is not None and isinstance(channel.compressor, DitheredQuantizer)

    def _scratch(self, state: ChocoState) -> np.ndarray:
        buf = self._work.get(state.rank)
        if buf is None or buf.shape != state.x_hat.shape:
            buf = self._work[state.rank] = np.empty_like(state.x_hat)
        return buf

    def _consensus(self, state: ChocoState, x: np.ndarray, eta: float) -> None:
        """x = soft(x + γ·(s − x̂), η·μ) in place, in this operation order."""
        if self.kern is not None:
            self.kern.consensus_prox(x, state.s, state.x_hat, self.gamma, eta, self.l1)
            return
        y = np.subtract(state.s, state.x_hat, out=self._scratch(state))
        np.multiply(np.float32(self.gamma), y, out=y)
        np.add(x, y, out=y)
        soft_threshold(y, eta * self.l1, out=x)

    def init_state(self, rank: int, x0: np.ndarray) -> ChocoState:
        # Every holder starts its copy of x̂_j at the shared x⁰, so nothing is sent at t = 0;
        # rows of W sum to 1, so s_i = Σ_j w_ij x̂_j = x⁰ as well.
        x0 = np.asarray(x0, dtype=np.float32)
        return ChocoState(rank=rank, x_hat=x0.copy(), s=x0.copy())

    def compose(self, state: ChocoState, x: np.ndarray, oracle: GradientOracle):
        state.round += 1
        eta = self.eta(state.round)
        g = oracle.grad()  # a fresh array: scaled in place, no temporary
        x -= np.multiply(g, np.float32(eta), out=g)  # x_half, in place
        if self.prox_first:  # consensus on the previous copies and the prox, then the residual
            self._consensus(state, x, eta)
        # the residual in scratch: the compressor must not keep it past absorb (none does)
        residual = np.subtract(x, state.x_hat, out=self._scratch(state))
        state.pending = self.channel.send(residual, state.rank, state.round,
                                          decode=not self.fused)
        msg = state.pending.message
        return {j: msg for j in self.peers[state.rank]}, info_from(state.pending)

    def absorb(self, state: ChocoState, x: np.ndarray, inbox: dict[int, bytes], round_: int) -> None:
        i = state.rank
        row = self.weights[i]
        if set(inbox) != set(row) - {i}:
            raise RuntimeError(f"rank {i}: messages from {sorted(inbox)} but neighbours are "
                               f"{sorted(set(row) - {i})}")
        if round_ != state.round:
            raise RuntimeError(f"rank {i}: absorbing round {round_} after composing {state.round}")
        if self.fused:
            self._absorb_fused(state, inbox, round_)
        else:
            self._absorb_dense(state, inbox, round_)
        state.pending = None
        if not self.prox_first:
            self._consensus(state, x, self.eta(round_))

    def _absorb_dense(self, state: ChocoState, inbox: dict[int, bytes], round_: int) -> None:
        i, row = state.rank, self.weights[state.rank]
        own = state.pending.decoded
        state.x_hat += own
        tmp = self._scratch(state)
        if np.may_share_memory(own, tmp):  # a compressor that decodes to its input (identity)
            own = own.copy()
        for j, w in row.items():  # ascending j, self included: one fixed order everywhere
            dq = own if j == i else self.decode_from(self.channel, i, j, inbox[j], round_)
            state.s += np.multiply(w, dq, out=tmp)

    def _absorb_fused(self, state: ChocoState, inbox: dict[int, bytes], round_: int) -> None:
        """The same updates as :meth:`_absorb_dense`, straight from the quantized symbols."""
        i, row, ch, k = state.rank, self.weights[state.rank], self.channel, self.kern
        q = ch.compressor
        own, own_u = state.pending.rep, ch._aux(i, round_)
        reps, us = [], []
        for j in row:  # ascending j, self included: one fixed order everywhere
            try:
                reps.append(own if j == i else ch.receive_rep(inbox[j]))
            except DecodeError as e:
                raise NeighbourDecodeError(f"rank {i}: message from neighbour {j} in round "
                                           f"{round_} failed to decode: {e}") from e
            us.append(own_u if j == i else ch._aux(j, round_))
        # x̂_i += own; s_i += Σ_j w_ij·dq_j, in one pass (per entry the order above)
        k.absorb(q, reps, list(row.values()), us, list(row).index(i), state.x_hat, state.s)
