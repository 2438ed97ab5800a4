"""Asynchronous transport under MPI: non-blocking point-to-point on uint8 buffers.

Each message is one ``Isend`` of [int64 header | payload] on a duplicate of the world
communicator with one tag, so MPI's non-overtaking rule keeps every directed edge in order;
the receiver matches with ``Improbe`` and reads the size from the status (no size
announcement).  Waits have the deadlines of :mod:`.deadline`: past ``--exchange-timeout`` the
peers still awaited are pinged and a silent one is named.  No pickles.
"""

from __future__ import annotations

import time

import numpy as np

from .async_base import HEADER_BYTES, Envelope, count_received, count_sent
from .deadline import Deadlines, LostPeerError


class AsyncMPITransport(Deadlines):
    name = "mpi-async"
    TAG = 41

    def __init__(self, comm):
        """``comm``: the run's MPICommunicator (its world, rank, timeout and counters)."""
        self.MPI, self.world, self.rank = comm.MPI, comm.world, comm.rank
        self.timeout, self.round = comm.timeout, 0
        self.counters = comm.counters
        self.data = self.world.Dup()
        self.data.Set_errhandler(self.MPI.ERRORS_RETURN)
        self._sends: list = []  # (request, buffer, peer) until complete
        self._init_deadlines()

    def post(self, rank: int, peer: int, step: int, payload: bytes) -> None:
        buf = np.empty(HEADER_BYTES + len(payload), dtype=np.uint8)
        buf[:HEADER_BYTES] = np.array([step], dtype=np.int64).view(np.uint8)
        buf[HEADER_BYTES:] = np.frombuffer(payload, dtype=np.uint8)
        self._sends.append((self.data.Isend([buf, self.MPI.BYTE], dest=peer, tag=self.TAG),
                            buf, peer))
        count_sent(self.counters[rank], peer, len(payload))

    def arrived(self, rank: int) -> list[Envelope]:
        MPI, out, status = self.MPI, [], self.MPI.Status()
        while True:
            msg = self.data.Improbe(source=MPI.ANY_SOURCE, tag=self.TAG, status=status)
            if msg is None:
                break
            buf = np.empty(status.Get_count(MPI.BYTE), dtype=np.uint8)
            msg.Recv([buf, MPI.BYTE])
            src = status.Get_source()
            payload = buf[HEADER_BYTES:].tobytes()
            out.append(Envelope(src, int(buf[:HEADER_BYTES].view(np.int64)[0]), payload))
            count_received(self.counters[rank], src, len(payload))
        self._reap()
        try:
            self._serve_pings()
        except MPI.Exception:
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
        """Block until a message is ready (from anyone: the caller re-checks); past the deadline
        name the awaited peers that do not answer a ping."""
        MPI, limit = self.MPI, self.timeout
        deadline = time.monotonic() + limit
        nap = 0.0
        while not self.data.Iprobe(source=MPI.ANY_SOURCE, tag=self.TAG):
            self._reap()
            try:
                self._serve_pings()
            except MPI.Exception:
                pass
            if time.monotonic() > deadline:
                try:
                    alive = self._alive(list(peers), min(5.0, self.timeout / 2))
                except MPI.Exception:
                    alive = set()
                lost = sorted(set(peers) - alive)
                if not lost:
                    deadline = time.monotonic() + limit
                    continue
                who = f"rank{'s' if len(lost) > 1 else ''} {', '.join(map(str, lost))}"
                raise LostPeerError(
                    f"rank {self.rank}: no answer from {who} within {limit:g} s during {what} "
                    f"(step {self.round}); that rank has died or hangs (raise --exchange-timeout "
                    f"if steps are legitimately slow)")
            time.sleep(nap)
            nap = min(1e-3, nap + 1e-4)

    def drain_sends(self, what: str) -> None:
        """Wait until every message this rank posted has left (before the transport goes)."""
        self._wait([(req, peer) for req, _, peer in self._sends], what)
        self._sends = []
