"""MPI communicator: one rank per process, point-to-point messages with deadlines.

One exchange: each rank sends each peer one message.  A payload of at most ``INLINE`` bytes
(:mod:`.base`) is the message itself, received into a buffer of ``INLINE`` bytes, and MPI's
status gives its length; a larger one is announced by its length (one int64, another tag) and
follows at once as a second message, received straight into a buffer of that size.  No round
trip and no copy: everything is posted together, with non-blocking ``Isend``/``Irecv`` on a
distributed-graph communicator (``reorder=False``, so graph ranks are world ranks), and waited
for in one wait with a deadline (:mod:`.deadline`; how it waits: ``wait_mode``).  Point-to-point
rather than neighbourhood collectives, so that every wait can have a deadline and a peer that
goes silent is named (:mod:`.deadline`).  Buffer-based calls only: no pickles.
"""

from __future__ import annotations

import os
import struct
from sys import getrefcount

import numpy as np

from .base import HEAD, INLINE, ByteCounter, Communicator
from .deadline import Deadlines, LostPeerError
from .launch import launched_by_mpi, world

__all__ = ["MPICommunicator", "LostPeerError", "launched_by_mpi", "world"]

_LEN = struct.Struct("=q")  # a length announcement: one native int64


def oversubscribed_block_note(wait_mode: str, ranks_here: int, cores: int) -> str | None:
    """The warning for ``--mpi-wait block`` with more ranks than cores on a node, or None."""
    if wait_mode != "block" or ranks_here <= cores:
        return None
    return (f"--mpi-wait block with {ranks_here} ranks on {cores} cores of this node: a rank "
            f"waiting in MPI's Waitsome spins on its core while the rank sharing it cannot run "
            f"(milliseconds per exchange); use --mpi-wait yield (the default) when ranks share "
            f"cores")


class MPICommunicator(Deadlines, Communicator):
    """One rank per process.  Every wait has a deadline (``timeout`` seconds): a rank that dies
    or hangs makes the others raise :class:`LostPeerError` naming it, instead of hanging."""

    name = "mpi"
    INLINE_TAG, LEN_TAG, DATA_TAG = 17, 16, 21
    HEAD, INLINE = HEAD, INLINE

    def __init__(self, neighbours: list[tuple[int, ...]], comm=None, timeout: float = 30.0,
                 wait_mode: str = "yield"):
        from mpi4py import MPI

        self.MPI = MPI
        self.world = comm if comm is not None else MPI.COMM_WORLD
        self.size = self.world.Get_size()
        self.rank = self.world.Get_rank()
        self.timeout = float(timeout)
        self.round = 0
        if len(neighbours) != self.size:
            raise ValueError(f"topology has {len(neighbours)} nodes, MPI world has {self.size}")
        nbrs = list(sorted(neighbours[self.rank]))
        self.local_ranks = [self.rank]
        self.neighbours = {self.rank: tuple(nbrs)}
        self.graph = self.world.Create_dist_graph_adjacent(nbrs, nbrs, reorder=False)
        self._byte, self._any_tag = MPI.BYTE, MPI.ANY_TAG  # looked up once: exchange is hot
        # Failures come back as exceptions (mpi4py raises MPI.Exception) instead of aborting
        # inside the library, so a lost peer can be named; see _wait.
        for c in (self.world, self.graph):
            c.Set_errhandler(MPI.ERRORS_RETURN)
        self.counters = {self.rank: ByteCounter()}
        self._lens: dict[int, np.ndarray] = {}  # per peer: the length announcement sent
        self._inbufs: dict[int, np.ndarray] = {}  # per peer: the last inline receive buffer
        self._init_deadlines(wait_mode)
        here = self.world.Split_type(MPI.COMM_TYPE_SHARED)  # the ranks on this node
        self.ranks_here = here.Get_size()
        here.Free()

    def wait_note(self) -> str | None:
        """A warning for the wait mode this node's ranks make slow, or None: ``block`` with
        more ranks than cores spins a whole scheduler tick per wait (about 4 ms per exchange
        on 4 ranks on 2 cores, about 200x the yield mode at 1 KB)."""
        return oversubscribed_block_note(self.wait_mode, self.ranks_here, os.cpu_count() or 1)

    def _announce(self, j: int, msg, reqs: list, data: list) -> None:
        """A payload over ``INLINE`` bytes: its length (appended to ``reqs``), then itself
        (to ``data``, as (request, peer)), both sent at once."""
        box = self._lens.get(j)
        if box is None:
            box = self._lens[j] = np.zeros(1, np.int64)
        box[0] = len(msg)  # an exchange's sends are complete before it returns: reusable
        reqs.append(self.graph.Isend([box, self.MPI.INT64_T], j, self.LEN_TAG))
        data.append((self.graph.Isend([msg, self.MPI.BYTE], j, self.DATA_TAG), j))

    def _arrived(self, j: int, buf: np.ndarray, status, inbox: dict, label: str):
        """Peer ``j``'s message is in ``buf``: an inline payload goes to ``inbox`` (-> None);
        an announcement posts the receive of the payload that follows (-> that request)."""
        MPI = self.MPI
        got = status.Get_count(MPI.BYTE)
        if status.Get_tag() == self.INLINE_TAG:
            inbox[j] = buf.data[:got]
            return None
        n = _LEN.unpack_from(buf)[0] if got == self.HEAD else -1
        try:
            big = np.empty(n, dtype=np.uint8) if n > self.INLINE else None
        except (MemoryError, ValueError):  # a corrupted length: no buffer that large
            big = None
        if big is None:
            raise LostPeerError(f"rank {self.rank}: malformed length announcement from rank "
                                f"{j} during {label} (round {self.round}): {got} bytes, "
                                f"length {n}")
        inbox[j] = big.data
        return self.graph.Irecv([big, MPI.BYTE], j, self.DATA_TAG)

    def exchange(self, outbox: dict[int, dict[int, bytes]],
                 label: str = "the neighbour exchange") -> dict[int, dict[int, memoryview]]:
        """One message per peer, both ways; the received ones are memoryviews (bytes-like; no
        copy), in peer order, of buffers that nothing else refers to: a peer's buffer of the
        last exchange is reused when the caller has let go of every view of it, else a fresh
        one is taken.  When every message is in and sent at once or within ``CHECK_EVERY``
        (peers in step: most rounds), one ``Testall`` takes them all, then one wait the
        payloads announced; otherwise the full wait, which posts each announced payload's
        receive as soon as its announcement is in.  The common path
        is kept to the MPI calls themselves (a 1 KB exchange costs a few microseconds)."""
        self.round += 1
        mine = outbox[self.rank]
        peers = sorted(mine)
        graph, pool, byte, anytag = self.graph, self._inbufs, self._byte, self._any_tag
        cap, tag = self.INLINE, self.INLINE_TAG
        reqs, bufs = [], []
        for j in peers:  # a peer's receive buffer is reused once nothing else refers to it
            b = pool.get(j)
            if b is None or getrefcount(b) > 3:  # 3: pool, b, the call's argument
                b = pool[j] = np.empty(cap, dtype=np.uint8)
            bufs.append(b)
            reqs.append(graph.Irecv([b, byte], j, anytag))
        data: list = []
        for j in peers:
            msg = mine[j]
            if len(msg) <= cap:  # no copy: sent from where it is
                reqs.append(graph.Isend([msg, byte], j, tag))
            else:
                self._announce(j, msg, reqs, data)
        inbox: dict[int, memoryview] = {}
        statuses = self._quick(reqs)
        if statuses is not None:
            for j, b, st in zip(peers, bufs, statuses):
                if st.Get_tag() == tag:  # _arrived's inline case, without the call
                    inbox[j] = b.data[:st.Get_count(byte)]
                else:
                    data.append((self._arrived(j, b, st, inbox, label), j))
            if data:
                self._wait(data, label)
        else:
            npeers = len(peers)

            def then(k: int, status) -> list:
                if k >= npeers:
                    return []  # a send, or a payload received straight into its buffer
                req = self._arrived(peers[k], bufs[k], status, inbox, label)
                return [] if req is None else [(req, peers[k])]

            self._wait(list(zip(reqs, peers + peers)) + data, label, then=then)
            inbox = {j: inbox[j] for j in peers}  # peer order, not arrival order
        self.counters[self.rank].record(mine, inbox)
        return {self.rank: inbox}

    def allreduce_sum(self, arrays: dict[int, np.ndarray]) -> np.ndarray:
        a = np.ascontiguousarray(arrays[self.rank], dtype=np.float64)
        out = np.empty_like(a)
        req = self.world.Iallreduce([a, self.MPI.DOUBLE], [out, self.MPI.DOUBLE], op=self.MPI.SUM)
        self._wait([(req, None)], "an allreduce")
        return out

    ROW_TAG, FLAG_TAG, VERDICT_TAG = 18, 19, 20

    def gather_to_root(self, rows: dict[int, np.ndarray]) -> np.ndarray | None:
        """Point-to-point to rank 0, so the root can name a rank that went silent."""
        MPI = self.MPI
        row = np.ascontiguousarray(rows[self.rank], dtype=np.float64)
        if self.rank != 0:
            self._wait([(self.world.Isend([row, MPI.DOUBLE], dest=0, tag=self.ROW_TAG), 0)],
                       "the metrics gather", patience=2.0)
            return None
        out = np.empty((self.size, row.size), dtype=np.float64)
        out[0] = row
        self._wait([(self.world.Irecv([out[j], MPI.DOUBLE], source=j, tag=self.ROW_TAG), j)
                    for j in range(1, self.size)], "the metrics gather")
        return out

    def agree(self, flags: dict[int, bool], root_value: int,
              what: str = "the end-of-round agreement") -> tuple[bool, int]:
        """OR of one flag per rank and the root's ``root_value``, agreed by all (through rank 0,
        which names a silent rank)."""
        MPI = self.MPI
        mine = np.array([1 if flags[self.rank] else 0], dtype=np.int64)
        verdict = np.zeros(2, dtype=np.int64)
        if self.rank == 0:
            got = np.zeros(self.size, dtype=np.int64)
            got[0] = mine[0]
            self._wait([(self.world.Irecv([got[j:j + 1], MPI.INT64_T], source=j,
                                          tag=self.FLAG_TAG), j) for j in range(1, self.size)],
                       what)
            verdict[:] = got.max(), root_value
            self._wait([(self.world.Isend([verdict, MPI.INT64_T], dest=j, tag=self.VERDICT_TAG), j)
                        for j in range(1, self.size)], what)
        else:
            send = self.world.Isend([mine, MPI.INT64_T], dest=0, tag=self.FLAG_TAG)
            recv = self.world.Irecv([verdict, MPI.INT64_T], source=0, tag=self.VERDICT_TAG)
            self._wait([(send, 0), (recv, 0)], what, patience=2.0)
        return bool(verdict[0]), int(verdict[1])

    def broadcast_str(self, text: str | None) -> str:
        buf = np.zeros(4096, dtype=np.uint8)
        if self.rank == 0:
            raw = (text or "").encode()
            if len(raw) > 4095:
                raise ValueError("string too long to broadcast")
            buf[:len(raw)] = np.frombuffer(raw, dtype=np.uint8)
        self._wait([(self.world.Ibcast([buf, self.MPI.BYTE], root=0), None)], "a broadcast")
        return buf.tobytes().rstrip(b"\0").decode()

    def barrier(self) -> None:
        """Through rank 0, point-to-point, like :meth:`agree`: a collective barrier cannot say
        which rank never arrived; the root can (the others wait longer, so it speaks first)."""
        self.agree({self.rank: False}, 0, "a barrier")

    def abort(self, code: int = 1) -> None:
        self.world.Abort(code)
