"""Waiting with a deadline: every MPI wait either completes or names the peer that is lost.

Past the deadline a rank pings the peers it still waits for: a peer that answers is alive
(waiting on someone else), so the wait goes on; a peer that does not answer is dead or hung,
and :class:`LostPeerError` names it.  Every waiting rank also answers pings, so it is never
blamed for someone else's silence.
"""

from __future__ import annotations

import time

import numpy as np


class LostPeerError(RuntimeError):
    """A peer did not answer within the exchange timeout (dead, stuck or partitioned)."""


class Deadlines:
    """Mixin for a communicator with ``MPI``, ``world``, ``rank``, ``round`` and ``timeout``."""

    def _init_deadlines(self) -> None:
        self._ping_in = np.zeros(1, dtype=np.int64)
        self._pings: list = []  # outstanding ping sends (to peers that may be dead)
        self._pongs: list = []

    PING_TAG, PONG_TAG = 31, 32

    def _serve_pings(self) -> None:
        """Answer liveness pings: a rank that waits (on someone else) is alive, not the culprit."""
        MPI = self.MPI
        status = MPI.Status()
        while self.world.Iprobe(source=MPI.ANY_SOURCE, tag=self.PING_TAG, status=status):
            src = status.Get_source()
            self.world.Recv([self._ping_in, MPI.INT64_T], source=src, tag=self.PING_TAG)
            self._pongs.append(self.world.Isend([self._ping_in, MPI.INT64_T], dest=src,
                                                tag=self.PONG_TAG))
        self._pongs = [r for r in self._pongs if not r.Test()]

    def _alive(self, peers: list[int], grace: float) -> set[int]:
        """Which of ``peers`` answer a ping within ``grace`` seconds (serving pings meanwhile)."""
        MPI = self.MPI
        bufs = {j: np.zeros(1, dtype=np.int64) for j in peers}
        for j in peers:
            self._pings.append(self.world.Isend([np.array([self.rank], dtype=np.int64),
                                                 MPI.INT64_T], dest=j, tag=self.PING_TAG))
        recvs = {j: self.world.Irecv([bufs[j], MPI.INT64_T], source=j, tag=self.PONG_TAG)
                 for j in peers}
        alive: set[int] = set()
        end = time.monotonic() + grace
        while time.monotonic() < end and len(alive) < len(peers):
            self._serve_pings()
            alive |= {j for j, r in recvs.items() if j not in alive and r.Test()}
            time.sleep(1e-3)
        for j, r in recvs.items():
            if j not in alive:
                r.Cancel()
        return alive

    def _wait(self, pending: list[tuple[object, int | None]], what: str,
              patience: float = 1.0) -> None:
        """Wait for (request, peer) pairs.  Past the deadline, ping the peers still missing:
        those that answer are alive (waiting on someone else), so keep waiting; those that do
        not are dead or hung, and are named.  ``patience`` > 1 lets the root time out first."""
        limit = self.timeout * patience
        deadline = time.monotonic() + limit
        nap = 0.0
        while pending:
            still = []
            for req, peer in pending:
                try:
                    if not req.Test():
                        still.append((req, peer))
                except self.MPI.Exception as e:  # the library saw the peer fail
                    who = f"rank {peer}" if peer is not None else "another rank"
                    raise LostPeerError(
                        f"rank {self.rank}: lost {who} during {what} (round {self.round}): "
                        f"{e.Get_error_string()}") from None
            pending = still
            if not pending:
                return
            try:
                self._serve_pings()
            except self.MPI.Exception:
                pass  # a pong to a failed rank; the waits above report the failure
            if time.monotonic() > deadline:
                peers = sorted({p for _, p in pending if p is not None})
                try:
                    alive = self._alive(peers, min(5.0, self.timeout / 2))
                except self.MPI.Exception:
                    alive = set()
                lost = sorted(set(peers) - alive)
                if peers and not lost:
                    deadline = time.monotonic() + limit  # all alive: the culprit is elsewhere
                    continue
                who = (f"rank{'s' if len(lost) > 1 else ''} {', '.join(map(str, lost))}"
                       if lost else "another rank")
                raise LostPeerError(
                    f"rank {self.rank}: no answer from {who} within {limit:g} s during "
                    f"{what} (round {self.round}); that rank has died or hangs "
                    f"(raise --exchange-timeout if rounds are legitimately slow)")
            time.sleep(nap)
            nap = min(1e-3, nap + 1e-4)

