"""The communicator interface: bytes in, neighbours' bytes out, every byte counted.

A communicator hosts one or more *local ranks* (one under MPI, all of them in-process).  Each
round every local rank hands it an addressed outbox ``{peer: bytes}`` (its graph neighbours,
the active ones of a time-varying graph, or every other rank for the allgather methods) and
gets back ``{peer: bytes}`` from exactly the peers it sent to.  It knows nothing of models,
compressors or codecs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ByteCounter:
    """Bytes one rank handed to / got from the communication library."""

    sent: int = 0  # payload bytes sent, all neighbours, all rounds
    received: int = 0
    control_sent: int = 0  # length headers (int64 per neighbour per round)
    control_received: int = 0
    round_sent: int = 0  # payload bytes of the last round
    round_received: int = 0
    per_neighbour_sent: dict[int, int] = field(default_factory=dict)
    per_neighbour_received: dict[int, int] = field(default_factory=dict)

    def record(self, peers: list[int], sent: list[int], received: list[int],
               control_each: int) -> None:
        """One exchange: ``sent[k]`` bytes to ``peers[k]``, ``received[k]`` from it, and
        ``control_each`` header bytes each way per peer."""
        self.round_sent = rs = sum(sent)
        self.round_received = rr = sum(received)
        self.sent += rs
        self.received += rr
        self.control_sent += control_each * len(peers)
        self.control_received += control_each * len(peers)
        ps, pr = self.per_neighbour_sent, self.per_neighbour_received
        for j, a, b in zip(peers, sent, received):
            ps[j] = ps.get(j, 0) + a
            pr[j] = pr.get(j, 0) + b


class Communicator(ABC):
    """Exchange of byte messages between graph neighbours, for the ranks hosted here."""

    size: int  # world size (number of peers)
    local_ranks: list[int]  # the ranks this process runs
    neighbours: dict[int, tuple[int, ...]]  # sorted neighbours of each local rank
    counters: dict[int, ByteCounter]
    name: str

    @property
    def is_root(self) -> bool:
        """True in the process that hosts rank 0 (it writes the run's outputs)."""
        return 0 in self.local_ranks

    @abstractmethod
    def exchange(self, outbox: dict[int, dict[int, bytes]],
                 label: str = "the neighbour exchange") -> dict[int, dict[int, bytes]]:
        """Send ``outbox[r][j]`` from each local rank r to peer j; return, for each local rank,
        {peer: message} from the same peers, in ascending peer order.  The pattern must be
        symmetric (j in outbox[r] iff r in outbox[j]).  Every byte is counted, a message once
        per receiving peer; ``label`` names the exchange in failure messages."""

    @abstractmethod
    def allreduce_sum(self, arrays: dict[int, np.ndarray]) -> np.ndarray:
        """Sum of one float64 array per rank over all ranks (evaluation only; not counted)."""

    @abstractmethod
    def gather_to_root(self, rows: dict[int, np.ndarray]) -> np.ndarray | None:
        """Stack one float64 row per rank, in rank order, at the root (None elsewhere)."""

    def any_flag(self, flags: dict[int, bool]) -> bool:
        """OR of one flag per rank, the same answer on every rank."""
        return self.agree(flags, 0)[0]

    def agree(self, flags: dict[int, bool], root_value: int,
              what: str = "the end-of-round agreement") -> tuple[bool, int]:
        """(OR of one flag per rank, the root's ``root_value``): the same on every rank."""
        total = self.allreduce_sum({r: np.array([float(flags[r]), float(root_value)
                                                 if r == 0 else 0.0]) for r in self.local_ranks})
        return bool(total[0]), int(total[1])

    @abstractmethod
    def broadcast_str(self, text: str | None) -> str:
        """The root's string, on every process."""

    def barrier(self) -> None:  # noqa: B027 - optional
        pass
