"""Asynchronous transport under MPI: non-blocking point-to-point on uint8 buffers.

Each message is [int64 step | int64 payload size | payload] in one ``Isend`` on a duplicate of
the world communicator; a payload over ``INLINE`` bytes follows in a second message on its own
tag.  One tag per kind, so MPI's non-overtaking rule keeps every directed edge in order.  Every
rank keeps one receive posted per neighbour, so a rank that must wait does it as the sync
exchange does (the wait mode, deadline and pings of :mod:`.deadline`).  Past
``--exchange-timeout`` the awaited peers are pinged and a silent one is named.  No pickles.
"""

from __future__ import annotations

import numpy as np

from .async_base import Envelope, count_received, count_sent
from .deadline import Deadlines, LostPeerError

HEAD = 16  # int64 step, int64 payload size


class AsyncMPITransport(Deadlines):
    name = "mpi-async"
    TAG, BULK_TAG = 41, 42
    INLINE = 16384  # payloads up to this size travel with their header

    def __init__(self, comm):
        """``comm``: the run's MPICommunicator (its world, rank, neighbours, timeout, counters)."""
        self.MPI, self.world, self.rank = comm.MPI, comm.world, comm.rank
        self.timeout, self.round = comm.timeout, 0
        self.counters = comm.counters
        self.data = self.world.Dup()
        self.data.Set_errhandler(self.MPI.ERRORS_RETURN)
        # pings and the alarm on the duplicate too: the run's communicator keeps its own
        # receives posted on the world with the same tags, and would take them
        self.world = self.data
        self._sends: list = []  # (request, buffer, peer) until complete
        self.peers = sorted(comm.neighbours[self.rank])
        self._box = {j: np.empty(HEAD + self.INLINE, dtype=np.uint8) for j in self.peers}
        self._recv = {j: self._post(j) for j in self.peers}
        self._init_deadlines(comm.wait_mode)

    def _post(self, j: int):
        return self.data.Irecv([self._box[j], self.MPI.BYTE], source=j, tag=self.TAG)

    def post(self, rank: int, peer: int, step: int, payload: bytes) -> None:
        n, byte = len(payload), self.MPI.BYTE
        inline = n <= self.INLINE
        buf = np.empty(HEAD + (n if inline else 0), dtype=np.uint8)
        buf[:HEAD] = np.array([step, n], dtype=np.int64).view(np.uint8)
        bulk = np.frombuffer(payload, dtype=np.uint8)
        if inline:
            buf[HEAD:] = bulk
        self._sends.append((self.data.Isend([buf, byte], dest=peer, tag=self.TAG), buf, peer))
        if not inline:
            bulk = bulk.copy()
            self._sends.append((self.data.Isend([bulk, byte], dest=peer, tag=self.BULK_TAG),
                                bulk, peer))
        count_sent(self.counters[rank], peer, n, HEAD)

    def arrived(self, rank: int) -> list[Envelope]:
        out = []
        for j in self.peers:
            try:
                ready = self._recv[j].Test()
            except self.MPI.Exception as e:
                raise LostPeerError(f"rank {self.rank}: lost rank {j} while receiving from it "
                                    f"(step {self.round}): {e.Get_error_string()}") from None
            while ready:
                step, n = (int(v) for v in self._box[j][:HEAD].view(np.int64))
                if n <= self.INLINE:
                    payload = self._box[j][HEAD:HEAD + n].tobytes()
                else:
                    big = np.empty(n, dtype=np.uint8)
                    self._wait([(self.data.Irecv([big, self.MPI.BYTE], source=j,
                                                 tag=self.BULK_TAG), j)], "a large message")
                    payload = big.tobytes()
                out.append(Envelope(j, step, payload))
                count_received(self.counters[rank], j, n, HEAD)
                self._recv[j] = self._post(j)
                ready = self._recv[j].Test()
        self._reap()
        try:
            self._serve_pings()
        except self.MPI.Exception:
            pass
        return out

    def _reap(self) -> None:
        still = []
        for req, buf, peer in self._sends:
            try:
                if not req.Test():
                    still.append((req, buf, peer))
            except self.MPI.Exception as e:
                raise LostPeerError(f"rank {self.rank}: lost rank {peer} while sending to it "
                                    f"(step {self.round}): {e.Get_error_string()}") from None
        self._sends = still

    def wait(self, rank: int, peers: list[int], what: str) -> None:
        """Block until every one of ``peers`` has a message ready (the caller re-checks), in
        ``Waitsome`` with the deadline: past it, name the awaited peers that do not answer."""
        self._reap()
        self._wait([(self._recv[j], j) for j in peers], what)

    def drain_sends(self, what: str) -> None:
        """Wait until every message this rank posted has left (before the transport goes)."""
        self._wait([(req, peer) for req, _, peer in self._sends], what)
        self._sends = []
        for req in self._recv.values():  # nothing more is coming: every neighbour has ended
            try:
                req.Cancel()
                req.Wait()
            except self.MPI.Exception:
                pass
