"""Asynchronous gossip on per-directed-edge public copies (docs/algorithms.md, "Asynchronous
mode").  No round barrier: a rank composes its messages after each local step and, before its
consensus step, applies whatever its neighbours' messages have arrived (none, one or several).

Rank i keeps x̂_{i→j} (``own[j]``: its model as j knows it) and x̂_{j→i} (``theirs[j]``) for
every neighbour j.  Each directed edge i→j carries one residual stream (random stream j + 1,
as on time-varying graphs); j applies i's increments in the order i sent them (MPI does not
let messages overtake on one (source, tag, communicator)), so once the messages in flight have
arrived both copies of x̂_{i→j} are bit-identical.  Local step t of malcom/choco:

    x_half   = x − η·g
    q_ij     = C(x_half − x̂_{i→j});  x̂_{i→j} += deQ(q_ij)        sent to j, for every j
    x̂_{j→i} += deQ(q_ji)  for every message of j that has arrived
    y        = x_half + γ·Σ_j w_ij·(x̂_{j→i} − x̂_{i→j});   x = soft(y, η·μ)

D-PSGD: g = ∇F_i(x); send x; x̂_{j→i} = the latest model received from j;
x = w_ii·x + Σ_j w_ij·x̂_{j→i} − η·g.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..channel import Channel
from .base import Algorithm, GradientOracle, RoundInfo
from ..prox import soft_threshold


@dataclass
class AsyncState:
    rank: int
    own: dict = field(default_factory=dict)  # j -> x̂_{i→j}
    theirs: dict = field(default_factory=dict)  # j -> x̂_{j→i}
    applied: dict = field(default_factory=dict)  # j -> the last step of j applied here
    step: int = 0  # local steps composed so far
    grad: np.ndarray | None = None  # dpsgd: the step's gradient, used by mix
    # the run's statistics, kept here so a checkpoint carries them: seconds waited, and the
    # staleness histogram (bins 0..bound over every (step, neighbour))
    wait_s: float = 0.0
    staleness: np.ndarray | None = None


class AsyncGossip(Algorithm):
    """Shared by the two async methods: per-edge copies, in-order application, mixing."""

    label = "the asynchronous neighbour stream"

    def __init__(self, *, weights: dict[int, dict[int, float]], channel: Channel, lr: float,
                 name: str):
        self.weights = {i: {j: np.float32(w) for j, w in sorted(row.items())}
                        for i, row in weights.items()}
        self.peers = {i: tuple(j for j in row if j != i) for i, row in self.weights.items()}
        self.channel, self.lr, self.name = channel, float(lr), name

    def init_state(self, rank: int, x0: np.ndarray) -> AsyncState:
        x0 = np.asarray(x0, dtype=np.float32)
        nb = self.peers[rank]
        return AsyncState(rank=rank, own={j: x0.copy() for j in nb},
                          theirs={j: x0.copy() for j in nb}, applied={j: 0 for j in nb})

    def apply(self, state: AsyncState, sender: int, step: int, message: bytes) -> None:
        """Apply ``sender``'s message of its local step ``step`` (steps arrive in order)."""
        i = state.rank
        if step != state.applied[sender] + 1:
            raise RuntimeError(f"rank {i}: message of step {step} from neighbour {sender} after "
                               f"its step {state.applied[sender]}: the stream is out of order")
        self._apply(state, sender, self.decode_from(self.channel, i, sender, message, step,
                                                    stream=self._stream(i)))
        state.applied[sender] = step

    def absorb(self, state, x, inbox, round_):  # pragma: no cover - the async loop uses apply/mix
        raise NotImplementedError("asynchronous algorithms are driven by gossip.run.async_loop")

    def copies(self, state: AsyncState) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """{j: (x̂_{i→j}, x̂_{j→i})}, for the after-flush consistency check."""
        return {j: (state.own[j], state.theirs[j]) for j in self.peers[state.rank]}


class AsyncChoco(AsyncGossip):
    def __init__(self, *, gamma: float, l1: float = 0.0, **kw):
        super().__init__(**kw)
        self.gamma, self.l1 = float(gamma), float(l1)

    @staticmethod
    def _stream(receiver: int) -> int:
        return receiver + 1

    def compose(self, state: AsyncState, x: np.ndarray, oracle: GradientOracle):
        x -= np.float32(self.lr) * oracle.grad()
        state.step += 1
        i, t = state.rank, state.step
        out, ent = {}, []
        for j in self.peers[i]:
            sent = self.channel.send(x - state.own[j], i, t, stream=j + 1)
            state.own[j] += sent.decoded
            out[j] = sent.message
            ent.append(sent.symbol_entropy_bits)
        return out, RoundInfo(message_bytes=sum(len(m) for m in out.values()),
                              symbol_entropy_bits=float(np.mean(ent)) if ent else float("nan"),
                              messages=len(out))

    def _apply(self, state: AsyncState, sender: int, dq: np.ndarray) -> None:
        state.theirs[sender] += dq

    def mix(self, state: AsyncState, x: np.ndarray) -> None:
        i = state.rank
        mix = np.zeros_like(x)
        for j in self.peers[i]:  # ascending: one fixed order
            mix += self.weights[i][j] * (state.theirs[j] - state.own[j])
        soft_threshold(x + np.float32(self.gamma) * mix, self.lr * self.l1, out=x)


class AsyncDPSGD(AsyncGossip):
    @staticmethod
    def _stream(receiver: int) -> int:
        return 0

    def compose(self, state: AsyncState, x: np.ndarray, oracle: GradientOracle):
        state.grad = oracle.grad()
        state.step += 1
        sent = self.channel.send(x, state.rank, state.step)
        peers = self.peers[state.rank]
        for j in peers:
            state.own[j] = sent.decoded  # one array shared by every edge: the same model
        return ({j: sent.message for j in peers},
                RoundInfo(message_bytes=len(sent.message) * len(peers), messages=len(peers)))

    def _apply(self, state: AsyncState, sender: int, model: np.ndarray) -> None:
        state.theirs[sender] = model

    def mix(self, state: AsyncState, x: np.ndarray) -> None:
        i = state.rank
        mixed = np.zeros_like(x)
        for j, w in self.weights[i].items():
            mixed += w * (x if j == i else state.theirs[j])
        x[:] = mixed - np.float32(self.lr) * state.grad
        state.grad = None


def build_async(name: str, weights, channel: Channel, a) -> AsyncGossip:
    """The async version of a graph algorithm (``a``: the algorithm config)."""
    if name == "dpsgd":
        return AsyncDPSGD(weights=weights, channel=channel, lr=a.lr, name=name)
    return AsyncChoco(weights=weights, channel=channel, lr=a.lr, gamma=a.gamma, l1=a.l1, name=name)
