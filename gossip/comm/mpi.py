"""MPI communicator: one rank per process, point-to-point messages with deadlines.

One exchange: each rank sends each peer one message that starts with the payload's length (one
int64) and carries the payload too when it is small; a larger payload follows at once as a
second message, received straight into a buffer of that size.  No round trip: both are posted
together, with non-blocking ``Isend``/``Irecv`` on a distributed-graph communicator
(``reorder=False``, so graph ranks are world ranks), and waited for in one wait with a deadline
(:mod:`.deadline`; how it waits: ``wait_mode``).  Point-to-point rather than neighbourhood
collectives, so that every wait can have a deadline and a peer that goes silent is named
(:mod:`.deadline`).  Buffer-based calls only: no pickles.
"""

from __future__ import annotations

import struct

import numpy as np

from .base import ByteCounter, Communicator
from .deadline import Deadlines, LostPeerError
from .launch import launched_by_mpi, world

__all__ = ["MPICommunicator", "LostPeerError", "launched_by_mpi", "world"]

_LEN = struct.Struct("=q")  # the length header: one native int64


class MPICommunicator(Deadlines, Communicator):
    """One rank per process.  Every wait has a deadline (``timeout`` seconds): a rank that dies
    or hangs makes the others raise :class:`LostPeerError` naming it, instead of hanging."""

    name = "mpi"
    HEAD_TAG, DATA_TAG = 17, 21
    HEAD = 8  # the int64 length that precedes every message
    INLINE = 16384 - HEAD  # payloads up to this size travel in the header's MPI message

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
        # Failures come back as exceptions (mpi4py raises MPI.Exception) instead of aborting
        # inside the library, so a lost peer can be named; see _wait.
        for c in (self.world, self.graph):
            c.Set_errhandler(MPI.ERRORS_RETURN)
        self.counters = {self.rank: ByteCounter()}
        self._sendbox: dict[int, memoryview] = {}  # per peer: header + inline payload
        self._init_deadlines(wait_mode)

    def _post(self, mine: dict[int, bytes], peers: list[int]) -> tuple[list, list]:
        """Isend each peer its message -> (header sends, payload sends): requests, one list
        per peer order.  A header is the length (native int64), followed in the same MPI
        message by the payload when it is at most ``INLINE`` bytes (copied into the peer's
        send buffer, reused every exchange: an exchange's sends are complete before it
        returns), else by a second message of the payload itself (no copy)."""
        MPI, graph, HEAD, INLINE = self.MPI, self.graph, self.HEAD, self.INLINE
        heads, data = [], []
        for j in peers:
            msg = mine[j]
            n = len(msg)
            box = self._sendbox.get(j)
            if box is None:
                box = self._sendbox[j] = memoryview(bytearray(HEAD + INLINE))
            _LEN.pack_into(box, 0, n)
            if n <= INLINE:
                box[HEAD:HEAD + n] = msg
                heads.append(graph.Isend([box[:HEAD + n], MPI.BYTE], dest=j, tag=self.HEAD_TAG))
            else:
                heads.append(graph.Isend([box[:HEAD], MPI.BYTE], dest=j, tag=self.HEAD_TAG))
                data.append((graph.Isend([msg, MPI.BYTE], dest=j, tag=self.DATA_TAG), j))
        return heads, data

    def _header(self, j: int, head: np.ndarray, status, inbox: dict, label: str):
        """Peer ``j``'s header has arrived: its inline payload goes to ``inbox`` (-> None), or
        the receive of the payload that follows is posted (-> that request)."""
        n = _LEN.unpack_from(head)[0]
        got = status.Get_count(self.MPI.BYTE)
        if n < 0 or got != (self.HEAD + n if n <= self.INLINE else self.HEAD):
            raise LostPeerError(f"rank {self.rank}: malformed header from rank {j} during "
                                f"{label} (round {self.round}): length {n}, {got} bytes")
        if n <= self.INLINE:
            inbox[j] = head.data[self.HEAD:self.HEAD + n]
            return None
        buf = np.empty(n, dtype=np.uint8)
        inbox[j] = buf.data
        return self.graph.Irecv([buf, self.MPI.BYTE], source=j, tag=self.DATA_TAG)

    def exchange(self, outbox: dict[int, dict[int, bytes]],
                 label: str = "the neighbour exchange") -> dict[int, dict[int, memoryview]]:
        """One message per peer, both ways; the received ones are memoryviews of fresh
        buffers (bytes-like; no copy), in peer order.  When every header is in and sent at
        once or within ``CHECK_EVERY`` (peers in step: most rounds), one ``Testall`` takes
        them all, then one wait the payloads that follow; otherwise the full wait, which
        posts each payload's receive as soon as its header is in."""
        MPI = self.MPI
        self.round += 1
        mine = outbox[self.rank]
        peers = sorted(mine)
        heads = [np.empty(self.HEAD + self.INLINE, dtype=np.uint8) for _ in peers]
        recvs = [self.graph.Irecv([h, MPI.BYTE], source=j, tag=self.HEAD_TAG)
                 for h, j in zip(heads, peers)]
        inbox: dict[int, memoryview] = {}
        hsends, dsends = self._post(mine, peers)
        reqs = recvs + hsends
        statuses = self._statuses(len(reqs))
        if self._quick(reqs, statuses):
            more = [(r, j) for j, h, st in zip(peers, heads, statuses)
                    if (r := self._header(j, h, st, inbox, label)) is not None]
            if more or dsends:
                self._wait(more + dsends, label)
        else:
            def then(k: int, status) -> list:
                if k >= len(peers):
                    return []  # a send, or a payload received straight into its buffer
                req = self._header(peers[k], heads[k], status, inbox, label)
                return [] if req is None else [(req, peers[k])]

            self._wait(list(zip(reqs, peers + peers)) + dsends, label, then=then)
            inbox = {j: inbox[j] for j in peers}  # peer order, not arrival order
        self.counters[self.rank].record(peers, [len(mine[j]) for j in peers],
                                        [len(inbox[j]) for j in peers], self.HEAD)
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
