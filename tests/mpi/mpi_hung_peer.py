"""Run under ``mpiexec -n 3 python tests/mpi/mpi_hung_peer.py [WAIT_MODE [OP]]``: rank 2 stops
answering (sleeps) before an exchange (OP ``exchange``), a barrier (``barrier``) or an allreduce
(``allreduce``); the others must name it within the deadline (in a barrier, the root names it).
One line per rank."""

import os
import sys
import time

import numpy as np

from gossip.comm.mpi import LostPeerError, MPICommunicator, world

TIMEOUT = 1.0


def say(line: str) -> None:
    """One write per line: ranks that time out together must not interleave their lines."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> None:
    w = world()
    me = w.Get_rank()
    mode = sys.argv[1] if len(sys.argv) > 1 else "yield"
    op = sys.argv[2] if len(sys.argv) > 2 else "exchange"
    comm = MPICommunicator([(1, 2), (0, 2), (0, 1)], timeout=TIMEOUT, wait_mode=mode)
    peers = comm.neighbours[me]
    for t in range(3):  # a few good rounds, big and empty messages included
        inbox = comm.exchange({me: {j: bytes([me]) * (t * 40000) for j in peers}})[me]
        assert all(bytes(m) == bytes([j]) * (t * 40000) for j, m in inbox.items())
    if me == 2:
        time.sleep(3 * TIMEOUT + 4)
        say("rank 2 slept")
    else:
        t0 = time.monotonic()
        try:
            if op == "barrier":
                comm.barrier()
            elif op == "allreduce":
                comm.allreduce_sum({me: np.ones(3)})
            else:
                comm.exchange({me: {j: b"x" for j in peers}})
            say(f"rank {me} NOT NAMED")
        except LostPeerError as e:
            say(f"rank {me} named after {time.monotonic() - t0:.1f} s: {e}")
        # outlive rank 2's sleep, so the launcher does not tear it down (exit 9) first
        time.sleep(max(0.0, 3 * TIMEOUT + 5 - (time.monotonic() - t0)))
    sys.stdout.flush()
    os._exit(0)  # no MPI_Finalize: a peer is gone from the protocol


if __name__ == "__main__":
    main()
