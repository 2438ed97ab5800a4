"""MPI communicator: a distributed-graph communicator and neighbourhood collectives.

One round: ``Neighbor_allgather`` of each rank's message size (int64), then
``Neighbor_allgatherv`` of the uint8 payloads.  Buffer-based calls only: nothing is pickled.
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


class MPICommunicator(Communicator):
    name = "mpi"

    def __init__(self, neighbours: list[tuple[int, ...]], comm=None):
        from mpi4py import MPI

        self.MPI = MPI
        self.world = comm if comm is not None else MPI.COMM_WORLD
        self.size = self.world.Get_size()
        self.rank = self.world.Get_rank()
        if len(neighbours) != self.size:
            raise ValueError(f"topology has {len(neighbours)} nodes, MPI world has {self.size}")
        nbrs = list(sorted(neighbours[self.rank]))
        self.local_ranks = [self.rank]
        self.neighbours = {self.rank: tuple(nbrs)}
        self.graph = self.world.Create_dist_graph_adjacent(nbrs, nbrs, reorder=False)
        self.counters = {self.rank: ByteCounter()}
        self._size_out = np.zeros(1, dtype=np.int64)
        self._sizes_in = np.zeros(len(nbrs), dtype=np.int64)

    def exchange(self, outgoing: dict[int, bytes]) -> dict[int, dict[int, bytes]]:
        MPI = self.MPI
        msg = np.frombuffer(outgoing[self.rank], dtype=np.uint8)
        self._size_out[0] = msg.size
        self.graph.Neighbor_allgather([self._size_out, MPI.INT64_T], [self._sizes_in, MPI.INT64_T])
        sizes = self._sizes_in
        displs = np.zeros_like(sizes)
        np.cumsum(sizes[:-1], out=displs[1:])
        recv = np.empty(int(sizes.sum()), dtype=np.uint8)
        self.graph.Neighbor_allgatherv([msg, MPI.BYTE],
                                       [recv, (sizes.astype(np.int32), displs.astype(np.int32)),
                                        MPI.BYTE])
        nbrs = self.neighbours[self.rank]
        inbox = {j: recv[displs[k]:displs[k] + sizes[k]].tobytes() for k, j in enumerate(nbrs)}
        self.counters[self.rank].record(msg.size, {j: len(m) for j, m in inbox.items()}, 8)
        return {self.rank: inbox}

    def allgather(self, outgoing: dict[int, bytes]) -> dict[int, dict[int, bytes]]:
        MPI = self.MPI
        msg = np.frombuffer(outgoing[self.rank], dtype=np.uint8)
        self._size_out[0] = msg.size
        sizes = np.zeros(self.size, dtype=np.int64)
        self.world.Allgather([self._size_out, MPI.INT64_T], [sizes, MPI.INT64_T])
        displs = np.zeros_like(sizes)
        np.cumsum(sizes[:-1], out=displs[1:])
        recv = np.empty(int(sizes.sum()), dtype=np.uint8)
        self.world.Allgatherv([msg, MPI.BYTE],
                              [recv, (sizes.astype(np.int32), displs.astype(np.int32)), MPI.BYTE])
        inbox = {j: recv[displs[j]:displs[j] + sizes[j]].tobytes()
                 for j in range(self.size) if j != self.rank}
        self.counters[self.rank].record(msg.size, {j: len(m) for j, m in inbox.items()}, 8)
        return {self.rank: inbox}

    def allreduce_sum(self, arrays: dict[int, np.ndarray]) -> np.ndarray:
        a = np.ascontiguousarray(arrays[self.rank], dtype=np.float64)
        out = np.empty_like(a)
        self.world.Allreduce([a, self.MPI.DOUBLE], [out, self.MPI.DOUBLE], op=self.MPI.SUM)
        return out

    def gather_to_root(self, rows: dict[int, np.ndarray]) -> np.ndarray | None:
        row = np.ascontiguousarray(rows[self.rank], dtype=np.float64)
        out = np.empty((self.size, row.size), dtype=np.float64) if self.rank == 0 else None
        self.world.Gather([row, self.MPI.DOUBLE], [out, self.MPI.DOUBLE] if out is not None else None,
                          root=0)
        return out

    def broadcast_str(self, text: str | None) -> str:
        buf = np.zeros(4096, dtype=np.uint8)
        if self.rank == 0:
            raw = (text or "").encode()
            if len(raw) > 4095:
                raise ValueError("string too long to broadcast")
            buf[:len(raw)] = np.frombuffer(raw, dtype=np.uint8)
        self.world.Bcast([buf, self.MPI.BYTE], root=0)
        return buf.tobytes().rstrip(b"\0").decode()

    def barrier(self) -> None:
        self.world.Barrier()

    def abort(self, code: int = 1) -> None:
        self.world.Abort(code)
