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


#: The exchange's wire protocol (:mod:`.mpi`; the in-process communicator counts as if it
#: ran it): a payload of at most ``INLINE`` bytes is one MPI message, whose length MPI itself
#: reports; a larger one is announced by its length (one int64: ``HEAD`` control bytes) and
#: follows as a second message, received straight into a buffer of that size.
INLINE = 65536
HEAD = 8


@dataclass
class ByteCounter:
    """Bytes one rank handed to / got from the communication library."""

    sent: int = 0  # payload bytes sent, all neighbours, all rounds
    received: int = 0
    control_sent: int = 0  # length announcements (an int64 per message over INLINE bytes)
    control_received: int = 0
    round_sent: int = 0  # payload bytes of the last round
    round_received: int = 0
    per_neighbour_sent: dict[int, int] = field(default_factory=dict)
    per_neighbour_received: dict[int, int] = field(default_factory=dict)

    def record(self, sent: dict[int, bytes], received: dict[int, bytes]) -> None:
        """One exchange: the payloads sent to each peer and received from it (bytes-likes by
        peer), and the length announcements of those over ``INLINE`` bytes (see there)."""
        rs = rr = cs = cr = 0
        ps, pr = self.per_neighbour_sent, self.per_neighbour_received
        for j, m in sent.items():  # one loop, no generators: this runs every round
            a, b = len(m), len(received[j])
            rs += a
            rr += b
            ps[j] = ps.get(j, 0) + a
            pr[j] = pr.get(j, 0) + b
            if a > INLINE:
                cs += HEAD
            if b > INLINE:
                cr += HEAD
        self.round_sent, self.round_received = rs, rr
        self.sent += rs
        self.received += rr
        self.control_sent += cs
        self.control_received += cr


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

    def wait_note(self) -> str | None:
        """A warning about how this communicator will wait on this machine, or None."""
        return None
