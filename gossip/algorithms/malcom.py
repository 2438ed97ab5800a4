"""Malcom-PSGD (ALGORITHMS.md §2.3): proximal SGD, residual quantization with dither,
vector source coding, CHOCO-style consensus on public copies, l1 prox last.

One round on rank i:

    x_half = x − η·g
    q      = DQ_s(x_half − x̂_i)                     dithered quantizer, scale per tensor
    msg    = frame(q) with VSC-coded symbols         real bytes, sent to every neighbour
    x̂_i  += deQ(q);   s_i += Σ_{j∈N_i∪{i}} w_ij·deQ(q_j)   (ascending j)
    y      = x_half + γ·(s_i − x̂_i)
    x      = soft(y, η·μ)

Tuning guide.  γ trades consensus speed against quantization noise.  The default quantizer is
σ = ||v||_2 per tensor with CHOCO's 1/τ scaling and s = 4: most symbols are 0, so a message costs
about 0.47 bits per entry, but it tolerates only a small γ (measured on digits, 4-8 ranks: 0.05 and
0.1 converge, 0.2 degrades, 0.3 diverges).  ``--norm inf`` (σ = max|v|) converges for γ up to 0.6
at about 1.5-2 bits per entry.  ``--norm l2`` without ``--tau-scaling`` is not contractive and
diverges (§1.2).  More levels cost more bits per
entry; the residual's sparsity, more than the model's, sets the rate.  μ (``--l1``) makes exact
zeros in the model; the prox threshold is η·μ per round.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..codecs import DecodeError, qframe, vsc
from ..compressors.dithered import DitheredQuantizer, Quantized
from ..rng import numpy_rng
from .base import Algorithm, RoundInfo


class NeighbourDecodeError(RuntimeError):
    """A neighbour's message failed to decode; names the neighbour and the round."""


@dataclass
class MalcomState:
    rank: int
    x_hat: np.ndarray  # own public copy (float32), identical at every neighbour
    s: np.ndarray  # Σ_j w_ij x̂_j over N_i ∪ {i} (float32)
    round: int = 0  # rounds composed so far; the dither of round t derives from (seed, rank, t)
    pending: Quantized | None = None
    pending_u: np.ndarray | None = None


def soft_threshold(y: np.ndarray, tau: float, out: np.ndarray) -> np.ndarray:
    """sign(y)·max(|y| − τ, 0), written into ``out`` (exact zeros)."""
    if tau <= 0:
        out[:] = y
        return out
    mag = np.abs(y) - np.float32(tau)
    np.maximum(mag, 0, out=mag)
    np.multiply(np.sign(y), mag, out=out)
    return out


class MalcomPSGD(Algorithm):
    name = "malcom"

    def __init__(self, *, weights: dict[int, dict[int, float]], block_sizes: list[int], lr: float,
                 gamma: float, l1: float, levels: int, norm: str = "inf",
                 tau_scaling: bool = False, subtractive_dither: bool = False, seed: int = 0):
        """``weights[i][j]`` = w_ij for j ∈ N_i ∪ {i} (rows of W for the local ranks)."""
        self.weights = {i: {j: np.float32(w) for j, w in sorted(row.items())}
                        for i, row in weights.items()}
        self.quantizer = DitheredQuantizer(block_sizes, levels, norm=norm, tau_scaling=tau_scaling,
                                           subtractive=subtractive_dither)
        self.lr, self.gamma, self.l1 = float(lr), float(gamma), float(l1)
        self.seed = seed

    def init_state(self, rank: int, x0: np.ndarray) -> MalcomState:
        # Every holder starts its copy of x̂_j at the shared x⁰, so nothing is sent at t = 0;
        # rows of W sum to 1, so s_i = Σ_j w_ij x̂_j = x⁰ as well.
        x0 = np.asarray(x0, dtype=np.float32)
        return MalcomState(rank=rank, x_hat=x0.copy(), s=x0.copy())

    def dither(self, sender: int, round_: int) -> np.ndarray:
        """Sender's dither for a round: any receiver can regenerate it (subtractive mode)."""
        return self.quantizer.dither(numpy_rng(self.seed, sender, "dither", round_))

    def compose(self, state: MalcomState, x: np.ndarray, grad: np.ndarray) -> tuple[bytes, RoundInfo]:
        x -= np.float32(self.lr) * grad  # x_half, in place
        state.round += 1
        u = self.dither(state.rank, state.round)
        q = self.quantizer.quantize(x - state.x_hat, u)
        state.pending, state.pending_u = q, u
        msg = qframe.encode(q)
        info = RoundInfo(message_bytes=len(msg),
                         symbol_entropy_bits=vsc.entropy_bits(q.symbols) / max(1, q.symbols.size))
        return msg, info

    def absorb(self, state: MalcomState, x: np.ndarray, inbox: dict[int, bytes], round_: int) -> None:
        i = state.rank
        row = self.weights[i]
        if set(inbox) != set(row) - {i}:
            raise RuntimeError(f"rank {i}: messages from {sorted(inbox)} but neighbours are "
                               f"{sorted(set(row) - {i})}")
        if round_ != state.round:
            raise RuntimeError(f"rank {i}: absorbing round {round_} after composing {state.round}")
        own = self.quantizer.dequantize(state.pending, state.pending_u)
        sub = self.quantizer.subtractive
        state.x_hat += own
        for j, w in row.items():  # ascending j, self included: one fixed order everywhere
            if j == i:
                dq = own
            else:
                try:
                    qj = qframe.decode(inbox[j], levels=self.quantizer.levels,
                                       block_sizes=self.quantizer.block_sizes,
                                       dtype=self.quantizer.dtype)
                except DecodeError as e:
                    raise NeighbourDecodeError(
                        f"rank {i}: message from neighbour {j} in round {round_} "
                        f"failed to decode: {e}") from e
                dq = self.quantizer.dequantize(qj, self.dither(j, round_) if sub else None)
            state.s += w * dq
        state.pending = state.pending_u = None
        y = x + np.float32(self.gamma) * (state.s - state.x_hat)
        soft_threshold(y, self.lr * self.l1, out=x)
