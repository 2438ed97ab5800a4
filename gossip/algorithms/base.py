"""What every algorithm provides, and the per-round record it reports."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np


@dataclass
class RoundInfo:
    """What one rank's algorithm step reports for the metrics log."""

    message_bytes: int = 0
    symbol_entropy_bits: float = float("nan")  # empirical entropy of the sent symbols, per entry
    extra: dict = field(default_factory=dict)


class Algorithm(ABC):
    """A gossip algorithm split at the exchange, so one process can host many ranks.

    ``compose`` runs the local step and returns the message; the communicator moves the
    messages; ``absorb`` takes the neighbours' messages and finishes the round.
    """

    name: str

    @abstractmethod
    def init_state(self, rank: int, x0: np.ndarray):
        """Per-rank state (everything a checkpoint must hold besides the model)."""

    @abstractmethod
    def compose(self, state, x: np.ndarray, grad: np.ndarray) -> tuple[bytes, RoundInfo]:
        """Local step on the flat model ``x`` (in place); return the outgoing message."""

    @abstractmethod
    def absorb(self, state, x: np.ndarray, inbox: dict[int, bytes], round_: int) -> None:
        """Finish the round with the neighbours' messages (ascending neighbour order)."""
