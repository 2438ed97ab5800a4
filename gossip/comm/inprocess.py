"""All ranks in one process: the same algorithm code, no MPI (tests, laptops)."""

from __future__ import annotations

import numpy as np

from .base import ByteCounter, Communicator


class InProcessCommunicator(Communicator):
    name = "inprocess"

    def __init__(self, neighbours: dict[int, tuple[int, ...]] | list[tuple[int, ...]]):
        if not isinstance(neighbours, dict):
            neighbours = dict(enumerate(neighbours))
        self.size = len(neighbours)
        self.local_ranks = list(range(self.size))
        self.neighbours = {r: tuple(sorted(neighbours[r])) for r in self.local_ranks}
        self.counters = {r: ByteCounter() for r in self.local_ranks}

    def exchange(self, outbox: dict[int, dict[int, bytes]],
                 label: str = "the neighbour exchange") -> dict[int, dict[int, bytes]]:
        if set(outbox) != set(self.local_ranks):
            raise ValueError("every rank must hand in an outbox every round")
        inbox = {}
        for r in self.local_ranks:
            peers = sorted(outbox[r])
            for j in peers:
                if r not in outbox.get(j, {}):
                    raise ValueError(f"rank {r} -> {j}: not a symmetric exchange")
            inbox[r] = {j: bytes(outbox[j][r]) for j in peers}
            # control bytes as under MPI (base.INLINE): large payloads are announced
            self.counters[r].record(outbox[r], inbox[r])
        return inbox

    def allreduce_sum(self, arrays: dict[int, np.ndarray]) -> np.ndarray:
        total = np.zeros_like(arrays[self.local_ranks[0]], dtype=np.float64)
        for r in self.local_ranks:
            total += arrays[r]
        return total

    def gather_to_root(self, rows: dict[int, np.ndarray]) -> np.ndarray:
        return np.stack([np.asarray(rows[r], dtype=np.float64) for r in self.local_ranks])

    def broadcast_str(self, text: str | None) -> str:
        assert text is not None
        return text
