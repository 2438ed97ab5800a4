"""What every algorithm provides, and the per-round record it reports."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from ..codecs import DecodeError


@dataclass
class RoundInfo:
    """What one rank's algorithm step reports for the metrics log."""

    message_bytes: int = 0
    symbol_entropy_bits: float = float("nan")  # empirical entropy of the sent symbols, per entry
    kept: float = float("nan")  # entries sent (sparse messages; adaptive top-k's K_t)
    skipped: float = float("nan")  # 1 if the rank skipped this round (SASG), else 0
    messages: int = 1  # distinct messages composed (per-edge streams on time-varying graphs)
    extra: dict = field(default_factory=dict)


class NeighbourDecodeError(RuntimeError):
    """A peer's message failed to decode; names the peer and the round."""


class GradientOracle(ABC):
    """Gradients of this rank's loss: on the round's minibatch, or on its whole shard."""

    @abstractmethod
    def grad(self, x: np.ndarray | None = None) -> np.ndarray:
        """Minibatch gradient at ``x`` (default: the current model); the minibatch is drawn
        once per round, so two calls in a round see the same samples."""

    @abstractmethod
    def full_grad(self, x: np.ndarray | None = None) -> np.ndarray:
        """Gradient of the mean loss over the rank's whole shard."""


Outbox = dict[int, bytes]  # peer -> message


class Algorithm(ABC):
    """A gossip algorithm split at the exchange, so one process can host many ranks.

    ``compose`` runs the local step and returns the addressed outbox {peer: bytes} (graph
    neighbours, active neighbours of a time-varying graph, or every other rank for the
    methods designed around a server); the communicator moves it; ``absorb`` finishes the
    round with {peer: bytes} from the same peers.
    """

    name: str
    label: str = "the neighbour exchange"  # names the exchange in failure messages
    all_ranks: bool = False  # True: every rank talks to every other (allgather methods)
    lr: float = 0.0  # the first (or constant) learning rate η
    lr_at = None  # round t -> η_t (gossip.schedules.make); None: η_t = lr in every round

    def eta(self, t: int) -> float:
        """The learning rate of round ``t`` (1-based)."""
        return self.lr if self.lr_at is None else self.lr_at(t)

    @abstractmethod
    def init_state(self, rank: int, x0: np.ndarray):
        """Per-rank state (everything a checkpoint must hold besides the model)."""

    @abstractmethod
    def compose(self, state, x: np.ndarray, oracle: GradientOracle) -> tuple[Outbox, RoundInfo]:
        """Local step on the flat model ``x`` (in place); return the outbox and the record."""

    @abstractmethod
    def absorb(self, state, x: np.ndarray, inbox: dict[int, bytes], round_: int) -> None:
        """Finish the round with the peers' messages (ascending rank order)."""

    @staticmethod
    def decode_from(channel, rank: int, sender: int, message: bytes, round_: int,
                    stream: int = 0) -> np.ndarray:
        try:
            return channel.receive(message, sender, round_, stream)
        except DecodeError as e:
            raise NeighbourDecodeError(f"rank {rank}: message from neighbour {sender} in round "
                                       f"{round_} failed to decode: {e}") from e


def info_from(sent, **extra) -> RoundInfo:
    """The record of one message sent (to one peer or the same bytes to several)."""
    return RoundInfo(message_bytes=len(sent.message), symbol_entropy_bits=sent.symbol_entropy_bits,
                     kept=float(sent.kept) if sent.kept >= 0 else float("nan"), **extra)
