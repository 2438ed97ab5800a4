"""MPI communicator: a distributed-graph communicator and neighbourhood collectives.

One round: each rank announces its message size (one int64) to each neighbour, then sends
the uint8 payload, both with non-blocking ``Isend``/``Irecv`` on the distributed-graph
communicator.  Point-to-point rather than ``Neighbor_allgatherv``, so that every wait can have
a deadline and a neighbour that goes silent is named.  Buffer-based calls only: no pickles.
"""

from __future__ import annotations

import numpy as np

from .base import ByteCounter, Communicator


def launched_by_mpi() -> bool:
    """True when an MPI launcher (mpiexec/mpirun/srun) started this process."""
    import os

    keys = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS",
            "HYDRA_CONTROL_FD", "PMI_FD")
    return any(k in os.environ for k in keys)


def world():
    from mpi4py import MPI

    return MPI.COMM_WORLD


class LostPeerError(RuntimeError):
    """A peer did not answer within the exchange timeout (dead, stuck or partitioned)."""


class MPICommunicator(Communicator):
    """One rank per process.  Every wait has a deadline (``timeout`` seconds): a rank that dies
    or hangs makes the others raise :class:`LostPeerError` naming it, instead of hanging."""

    name = "mpi"
    SIZE_TAG, DATA_TAG = 17, 21

    def __init__(self, neighbours: list[tuple[int, ...]], comm=None, timeout: float = 30.0):
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
        # reorder=False keeps world ranks; the allgather methods address every rank through it
        self._gidx = {j: j for j in range(self.size)}
        self.counters = {self.rank: ByteCounter()}
        self._size_out = np.zeros(1, dtype=np.int64)
        self._ping_in = np.zeros(1, dtype=np.int64)
        self._pings: list = []  # outstanding ping sends (to peers that may be dead)
        self._pongs: list = []

    # -- waiting with a deadline -------------------------------------------------------------
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
        import time

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
        import time

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

    def _sizes_from(self, peers: list[int], what: str,
                    each: dict[int, int] | None = None) -> np.ndarray:
        """Point-to-point size announcements, so a missing peer can be named."""
        MPI = self.MPI
        sizes = np.zeros(len(peers), dtype=np.int64)
        outs = ({j: np.array([each[j]], dtype=np.int64) for j in peers} if each is not None
                else {j: self._size_out for j in peers})
        reqs = [(self.graph.Irecv([sizes[k:k + 1], MPI.INT64_T], source=self._gidx[j],
                                  tag=self.SIZE_TAG), j) for k, j in enumerate(peers)]
        sends = [(self.graph.Isend([outs[j], MPI.INT64_T], dest=self._gidx[j],
                                   tag=self.SIZE_TAG), j) for j in peers]
        self._wait(reqs + sends, what)
        return sizes

    # -- the exchanges -------------------------------------------------------------------------
    def _payloads(self, msg: np.ndarray | dict[int, np.ndarray], peers: list[int],
                  sizes: np.ndarray, what: str) -> dict[int, bytes]:
        """Point-to-point payloads (known sizes): a peer that goes silent is named.
        ``msg``: one buffer for every peer, or one per peer."""
        MPI = self.MPI
        bufs = {j: np.empty(int(n), dtype=np.uint8) for j, n in zip(peers, sizes)}
        out = msg if isinstance(msg, dict) else {j: msg for j in peers}
        reqs = [(self.graph.Irecv([bufs[j], MPI.BYTE], source=self._gidx[j], tag=self.DATA_TAG), j)
                for j in peers]
        reqs += [(self.graph.Isend([out[j], MPI.BYTE], dest=self._gidx[j], tag=self.DATA_TAG), j)
                 for j in peers]
        self._wait(reqs, what)
        return {j: bufs[j].tobytes() for j in peers}

    def exchange(self, outgoing: dict[int, bytes]) -> dict[int, dict[int, bytes]]:
        self.round += 1
        msg = np.frombuffer(outgoing[self.rank], dtype=np.uint8)
        self._size_out[0] = msg.size
        nbrs = list(self.neighbours[self.rank])
        sizes = self._sizes_from(nbrs, "the neighbour exchange (sizes)")
        inbox = self._payloads(msg, nbrs, sizes, "the neighbour exchange (payloads)")
        self.counters[self.rank].record(msg.size, {j: len(m) for j, m in inbox.items()}, 8)
        return {self.rank: inbox}

    def exchange_each(self, outgoing: dict[int, dict[int, bytes]]) -> dict[int, dict[int, bytes]]:
        self.round += 1
        mine = outgoing[self.rank]
        peers = sorted(mine)
        msgs = {j: np.frombuffer(mine[j], dtype=np.uint8) for j in peers}
        sizes = self._sizes_from(peers, "the neighbour exchange (sizes)",
                                 each={j: m.size for j, m in msgs.items()})
        inbox = self._payloads(msgs, peers, sizes, "the neighbour exchange (payloads)")
        self.counters[self.rank].record({j: m.size for j, m in msgs.items()},
                                        {j: len(m) for j, m in inbox.items()}, 8)
        return {self.rank: inbox}

    def exchange_all(self, outgoing: dict[int, bytes]) -> dict[int, dict[int, bytes]]:
        self.round += 1
        msg = np.frombuffer(outgoing[self.rank], dtype=np.uint8)
        self._size_out[0] = msg.size
        others = [j for j in range(self.size) if j != self.rank]
        sizes = self._sizes_from(others, "the allgather (sizes)")
        inbox = self._payloads(msg, others, sizes, "the allgather (payloads)")
        self.counters[self.rank].record(msg.size, {j: len(m) for j, m in inbox.items()}, 8)
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

    def any_flag(self, flags: dict[int, bool]) -> bool:
        """OR of one flag per rank, agreed by all (through rank 0, which names a silent rank)."""
        MPI = self.MPI
        mine = np.array([1 if flags[self.rank] else 0], dtype=np.int64)
        verdict = np.zeros(1, dtype=np.int64)
        if self.rank == 0:
            got = np.zeros(self.size, dtype=np.int64)
            got[0] = mine[0]
            self._wait([(self.world.Irecv([got[j:j + 1], MPI.INT64_T], source=j,
                                          tag=self.FLAG_TAG), j) for j in range(1, self.size)],
                       "the end-of-round agreement")
            verdict[0] = got.max()
            self._wait([(self.world.Isend([verdict, MPI.INT64_T], dest=j, tag=self.VERDICT_TAG), j)
                        for j in range(1, self.size)], "the end-of-round agreement")
        else:
            send = self.world.Isend([mine, MPI.INT64_T], dest=0, tag=self.FLAG_TAG)
            recv = self.world.Irecv([verdict, MPI.INT64_T], source=0, tag=self.VERDICT_TAG)
            self._wait([(send, 0), (recv, 0)], "the end-of-round agreement", patience=2.0)
        return bool(verdict[0])

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
        self._wait([(self.world.Ibarrier(), None)], "a barrier")

    def abort(self, code: int = 1) -> None:
        self.world.Abort(code)
