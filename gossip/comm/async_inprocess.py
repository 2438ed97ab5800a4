"""A reproducible network for asynchronous runs in one process: simulated clock, seeded
per-rank step durations and per-message delays, first in first out on every directed edge.

Step duration of rank r: ``factor_r · (1 + jitter·u)``, u uniform in [-1, 1) from (seed, r);
a message sent at time s arrives at ``max(s + delay, previous arrival on that edge)`` with
delay exponential of mean ``mean_delay`` (in step durations) from (seed, sender, receiver).
"""

from __future__ import annotations

import heapq

from ..rng import numpy_rng
from .async_base import Envelope, count_received, count_sent
from .base import ByteCounter


class SimulatedNetwork:
    name = "inprocess-async"

    def __init__(self, neighbours: dict[int, tuple[int, ...]], counters: dict[int, ByteCounter],
                 seed: int, mean_delay: float = 0.2, factors: dict[int, float] | None = None,
                 jitter: float = 0.1):
        self.neighbours, self.counters = neighbours, counters
        self.mean_delay, self.jitter = float(mean_delay), float(jitter)
        self.factors = {r: float((factors or {}).get(r, 1.0)) for r in neighbours}
        self._step_rng = {r: numpy_rng(seed, r, "sim-step") for r in neighbours}
        self._delay_rng = {(i, j): numpy_rng(seed, i, "sim-delay", j)
                           for i in neighbours for j in neighbours[i]}
        self._last = {e: 0.0 for e in self._delay_rng}
        self._flight: list = []  # (arrival, seq, receiver, Envelope)
        self._seq = 0
        self.inbox: dict[int, list[Envelope]] = {r: [] for r in neighbours}
        self.now = 0.0

    def step_duration(self, rank: int) -> float:
        u = float(self._step_rng[rank].uniform(-1.0, 1.0))
        return self.factors[rank] * (1.0 + self.jitter * u)

    def post(self, rank: int, peer: int, step: int, payload: bytes) -> None:
        delay = float(self._delay_rng[(rank, peer)].exponential(self.mean_delay)) \
            if self.mean_delay > 0 else 0.0
        at = max(self.now + delay, self._last[(rank, peer)])
        self._last[(rank, peer)] = at
        self._seq += 1
        heapq.heappush(self._flight, (at, self._seq, peer, Envelope(rank, step, bytes(payload))))
        count_sent(self.counters[rank], peer, len(payload))

    def next_arrival(self) -> float:
        return self._flight[0][0] if self._flight else float("inf")

    def deliver_next(self) -> int:
        """Move the earliest message in flight into its receiver's inbox; return the receiver."""
        at, _, peer, env = heapq.heappop(self._flight)
        self.now = max(self.now, at)
        self.inbox[peer].append(env)
        count_received(self.counters[peer], env.sender, len(env.payload))
        return peer

    def arrived(self, rank: int) -> list[Envelope]:
        got, self.inbox[rank] = self.inbox[rank], []
        return got
