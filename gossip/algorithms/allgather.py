"""The methods designed around a parameter server, run serverless over an allgather
(docs/algorithms.md): every rank receives every rank's message, computes the same aggregate
in ascending rank order, and so keeps the same model θ.  No rank is special.

Convention: the aggregate is the *mean* of the ranks' messages, θ ← θ − (1/N)·Σ_m c_m, with the
learning rate folded into the messages as in the SASG code.  Papers that *sum* over M workers
(SASG's notebooks: α = 0.005, M = 10) correspond to ``--lr`` = M·α here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..channel import Channel
from ..codecs import DecodeError, SparseCodec
from ..compressors import ErrorMemory, Threshold, TopK
from ..messages import Blocks, Sparse
from .base import Algorithm, GradientOracle, NeighbourDecodeError, RoundInfo


class _AllgatherAlgorithm(Algorithm):
    """Sparse messages to every other rank through a :class:`~gossip.channel.Channel`
    (a sparsifier + the sparse codec); the aggregate is summed in ascending rank order."""

    label = "the allgather"
    all_ranks = True

    def __init__(self, *, size: int, world: int, block_sizes, lr: float, compressor=None,
                 seed: int = 0):
        self.d, self.world, self.lr = int(size), int(world), float(lr)
        self.blocks = Blocks.of(block_sizes)
        compressor = compressor if compressor is not None else TopK(self.blocks, 1.0, "model")
        self.channel = Channel(compressor, SparseCodec(self.d), seed=seed)

    def _send(self, rank: int, v: np.ndarray, round_: int, **options) -> tuple[dict, Sparse, int]:
        """Compress and encode ``v`` once, addressed to every other rank; (outbox, the sparse
        representation, the message length)."""
        sent = self.channel.send(v, rank, round_, decode=False, **options)
        return ({j: sent.message for j in range(self.world) if j != rank}, sent.rep,
                len(sent.message))

    def _recv(self, rank: int, sender: int, msg: bytes, round_: int) -> Sparse:
        try:
            return self.channel.receive_rep(msg)
        except DecodeError as e:
            raise NeighbourDecodeError(f"rank {rank}: message from rank {sender} in round "
                                       f"{round_} failed to decode: {e}") from e

    def _gather(self, rank: int, own: Sparse, inbox: dict[int, bytes], round_: int) -> np.ndarray:
        """Σ_m c_m over all ranks, ascending, as float32 (identical on every rank)."""
        total = np.zeros(self.d, dtype=np.float32)
        for j in range(self.world):
            (own if j == rank else self._recv(rank, j, inbox[j], round_)).add_to(total)
        return total


# ---------------------------------------------------------------------------- Adaptive Top-K


@dataclass
class AdaptiveTopKState:
    rank: int
    memory: ErrorMemory
    norms: list = field(default_factory=list)
    bits_used: float = 0.0
    round: int = 0
    pending: Sparse | None = None


class AdaptiveTopK(_AllgatherAlgorithm):
    """Top-K_t of g (+ error e) with K_t ∝ ‖g_t‖ under a bit budget (§5.3, our reconstruction
    [A]): b_e = 32 + ⌈log2 d⌉ bits per entry, an average of ``budget_ratio``·d entries per
    step, K_t = (B_t/T_rem − 32)/b_e · ‖g_t‖/mean(last ``window`` norms) · ρ^((T−t)/2)/Z_t,
    clipped to [max(1, 1e-4·d), d] and never past the remaining budget.  ``scope`` [A]: "model"
    takes the K_t largest of the whole vector, "tensor" splits K_t over the tensors in
    proportion to their sizes (largest remainder, compressors.sparse.split_k)."""

    name = "adaptive-topk"

    def __init__(self, *, budget_ratio: float, rounds: int, error_feedback: bool = True,
                 rho: float = 1.0, window: int = 50, scope: str = "model", **kw):
        super().__init__(compressor=TopK(kw["block_sizes"], 1.0, scope=scope), **kw)
        self.budget_ratio, self.T = float(budget_ratio), int(rounds)
        self.error_feedback, self.rho, self.window = bool(error_feedback), float(rho), int(window)
        self.bits_per_entry = 32 + math.ceil(math.log2(max(2, self.d)))
        self.budget = self.T * (32 + budget_ratio * self.d * self.bits_per_entry)
        self.k_min = max(1, int(1e-4 * self.d))

    def init_state(self, rank: int, x0: np.ndarray) -> AdaptiveTopKState:
        return AdaptiveTopKState(rank=rank, memory=ErrorMemory.zeros(self.d))

    def choose_k(self, state: AdaptiveTopKState, gnorm: float) -> int:
        t = state.round  # 1-based
        state.norms = (state.norms + [gnorm])[-self.window:]
        mean = float(np.mean(state.norms)) or 1.0
        remaining = self.budget - state.bits_used
        t_rem = self.T - t + 1
        weight = 1.0
        if self.rho != 1.0:
            future = self.rho ** ((self.T - np.arange(t, self.T + 1)) / 2)
            weight = self.rho ** ((self.T - t) / 2) / float(future.mean())
        k = (remaining / t_rem - 32) / self.bits_per_entry * (gnorm / mean) * weight
        k = int(np.clip(round(k), self.k_min, self.d))
        affordable = int((remaining - 32) // self.bits_per_entry)
        return max(1, min(k, affordable)) if affordable >= 1 else 1

    def compose(self, state: AdaptiveTopKState, x: np.ndarray, oracle: GradientOracle):
        state.round += 1
        g = oracle.grad()
        p = state.memory.compensate(g) if self.error_feedback else g
        k = self.choose_k(state, float(np.linalg.norm(g)))
        out, c, nbytes = self._send(state.rank, p, state.round, k=k)  # K_t in all, by scope
        if self.error_feedback:
            state.memory.keep_unsent(p, c.indices)
        state.pending = c
        state.bits_used += 32 + k * self.bits_per_entry
        return out, RoundInfo(message_bytes=nbytes, kept=float(k))

    def absorb(self, state: AdaptiveTopKState, x: np.ndarray, inbox, round_: int) -> None:
        total = self._gather(state.rank, state.pending, inbox, round_)
        x -= np.float32(self.eta(round_) / self.world) * total
        state.pending = None


# ---------------------------------------------------------------------------- GD-SEC


@dataclass
class GDSECState:
    rank: int
    memory: ErrorMemory  # error memory e_m
    g_own: np.ndarray  # ĝ_m (difference variant) or h_m (shift variant)
    g_all: np.ndarray  # ĝ = Σ_m ĝ_m, or h = Σ_m h_m; identical on every rank
    x_prev: np.ndarray | None = None
    round: int = 0
    pending: Sparse | None = None


class GDSEC(_AllgatherAlgorithm):
    """GD-SEC (§6.2, our reconstruction [A]): full local gradients; each rank sends the
    components of v = ∇f_m − β·ĝ_m + e_m whose magnitude exceeds τ_i = ξ/(α·M)·|θ_i − θ_i^prev|
    (τ ≡ 0 in round 1); e_m keeps the rest.  ``variant``: "difference" (ĝ ← β·ĝ + ΣΔ̂) or
    "shift" (DIANA-like: step along h + ΣΔ̂, then h ← h + β·ΣΔ̂).  With f = Σ_m f_m, the step
    is α = lr/M on the summed gradient, i.e. ``--lr`` on the mean."""

    name = "gdsec"

    def __init__(self, *, beta: float = 1.0, xi: float = 0.2, variant: str = "difference", **kw):
        super().__init__(compressor=Threshold(kw["block_sizes"]), **kw)
        if variant not in ("difference", "shift"):
            raise ValueError(f"GD-SEC variant must be 'difference' or 'shift', got {variant!r}")
        self.beta, self.xi, self.variant = float(beta), float(xi), variant

    def init_state(self, rank: int, x0: np.ndarray) -> GDSECState:
        z = lambda: np.zeros(self.d, dtype=np.float32)  # noqa: E731
        return GDSECState(rank=rank, memory=ErrorMemory(z()), g_own=z(), g_all=z())

    def compose(self, state: GDSECState, x: np.ndarray, oracle: GradientOracle):
        state.round += 1
        g = oracle.full_grad()
        beta = np.float32(self.beta)
        v = g - (beta * state.g_own if self.variant == "difference" else state.g_own) + state.memory.e
        if state.x_prev is None:
            tau = np.float32(0)
        else:
            alpha = self.eta(state.round - 1) / self.world  # the rate that made x − x_prev
            tau = np.float32(self.xi / (alpha * self.world)) * np.abs(x - state.x_prev)
        out, c, nbytes = self._send(state.rank, v, state.round, tau=tau)
        idx = c.indices
        state.memory.keep_unsent(v, idx)
        if self.variant == "difference":
            state.g_own *= beta
            state.g_own[idx] += c.values
        else:
            state.g_own[idx] += beta * c.values
        state.pending = c
        return out, RoundInfo(message_bytes=nbytes, kept=float(idx.size))

    def absorb(self, state: GDSECState, x: np.ndarray, inbox, round_: int) -> None:
        total = self._gather(state.rank, state.pending, inbox, round_)
        state.x_prev = x.copy()
        beta = np.float32(self.beta)
        if self.variant == "difference":
            state.g_all *= beta
            state.g_all += total
            step = state.g_all
        else:
            step = state.g_all + total
            state.g_all += beta * total
        x -= np.float32(self.eta(round_) / self.world) * step
        state.pending = None


# ---------------------------------------------------------------------------- SASG


@dataclass
class SASGState:
    rank: int
    memory: ErrorMemory
    x_sent: np.ndarray | None = None  # θ̂_m: the model at which this rank last sent
    staleness: int = 0  # τ_m
    last: dict = field(default_factory=dict)  # last c_j of every rank j (identical everywhere)
    history: list = field(default_factory=list)  # ‖θ^{k+1−d} − θ^{k−d}‖², newest last
    round: int = 0
    pending: Sparse | None = None
    skipped: bool = False


class SASG(_AllgatherAlgorithm):
    """SASG (§7.2): communicate if ‖∇ℓ(θ;ξ) − ∇ℓ(θ̂_m;ξ)‖² > threshold or the last message is
    more than D rounds old (always in the first D rounds); then send c = TopK_h(α·g + e) per
    tensor (h = ``ratio``) and keep e ← α·g + e − c.  A skipping rank sends an empty payload and
    everyone reuses its last c.  Threshold, ``rule``: "paper" = (1/α²)·Σ_{d=1..D} (ξ/D)·‖Δθ_d‖²
    [A: ξ_d = ξ/D]; "code_compat" = the MNIST notebook's Σ_{d=1..D−1} ‖Δθ_d‖²/(2·α_w·M²) with
    α_w = η/M, i.e. Σ_{d=1..D−1} ‖Δθ_d‖²/(2·η·M) here (docs/algorithms.md §9).  Costs a second
    backward pass when k ≥ D."""

    name = "sasg"

    def __init__(self, *, ratio: float = 0.01, window: int = 10, xi: float = 1.0,
                 rule: str = "paper", scope: str = "tensor", **kw):
        super().__init__(compressor=TopK(kw["block_sizes"], ratio, scope=scope), **kw)
        if rule not in ("paper", "code_compat"):
            raise ValueError(f"SASG rule must be 'paper' or 'code_compat', got {rule!r}")
        self.D, self.xi, self.rule = int(window), float(xi), rule

    def init_state(self, rank: int, x0: np.ndarray) -> SASGState:
        return SASGState(rank=rank, memory=ErrorMemory.zeros(self.d))

    def threshold(self, history: list, lr: float | None = None) -> float:
        """The skip threshold for the stored ‖Δθ‖² ``history`` at rate ``lr`` (default --lr)."""
        a = self.lr if lr is None else lr
        if self.rule == "paper":
            return (self.xi / self.D) * float(sum(history[-self.D:])) / a**2
        if self.D == 1:
            return 0.0
        return float(sum(history[-(self.D - 1):])) / (2 * a * self.world)

    always_send = False

    def compose(self, state: SASGState, x: np.ndarray, oracle: GradientOracle):
        state.round += 1
        k = state.round - 1
        g = oracle.grad()
        communicate = True
        if k >= self.D and not self.always_send:
            stale = oracle.grad(state.x_sent)
            delta = float(np.sum((g.astype(np.float64) - stale) ** 2))
            communicate = (delta > self.threshold(state.history, self.eta(state.round))
                           or state.staleness > self.D)
        state.skipped = not communicate
        if not communicate:
            state.staleness += 1
            state.pending = state.last[state.rank]
            empty = {j: b"" for j in range(self.world) if j != state.rank}
            return empty, RoundInfo(message_bytes=0, kept=0.0, skipped=1.0)
        p = state.memory.compensate(np.float32(self.eta(state.round)) * g)
        out, c, nbytes = self._send(state.rank, p, state.round)  # top-k per tensor
        state.memory.keep_unsent(p, c.indices)
        state.x_sent = x.copy()
        state.staleness = 1
        state.pending = c
        return out, RoundInfo(message_bytes=nbytes, kept=float(c.indices.size), skipped=0.0)

    def absorb(self, state: SASGState, x: np.ndarray, inbox, round_: int) -> None:
        total = np.zeros(self.d, dtype=np.float32)
        for j in range(self.world):
            if j == state.rank:
                c = state.pending
            elif len(inbox[j]) == 0:
                if j not in state.last:
                    raise NeighbourDecodeError(f"rank {state.rank}: rank {j} skipped round "
                                               f"{round_} before ever sending")
                c = state.last[j]
            else:
                c = self._recv(state.rank, j, inbox[j], round_)
            state.last[j] = c
            c.add_to(total)
        step = total / np.float32(self.world)
        x -= step
        state.history = (state.history + [float(np.sum(step.astype(np.float64) ** 2))])[-self.D:]
        state.pending = None


class TopKEF(SASG):
    """Top-k with error feedback over the allgather (the "Sparse" baseline of the SASG paper):
    every round c = TopK_h(α·g + e) per tensor, e ← α·g + e − c; never skips, one backward pass.
    ``scope`` "model" keeps the same number of entries, Σ_b max(1, ⌊h·n_b⌋), over the whole
    model instead."""

    name = "topk-ef"
    always_send = True
