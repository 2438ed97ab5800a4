"""Run under ``mpiexec -n N python tests/mpi_checks.py``: communicator checks in one launch.

Exits non-zero (with the failed check on stderr) if anything is wrong; prints one OK line.
"""

import sys

import numpy as np

import topologies
from gossip.comm.mpi import MPICommunicator, world


def message(rank: int, t: int) -> bytes:
    rng = np.random.default_rng([rank, t])
    n = 0 if (rank + t) % 5 == 0 else int(rng.integers(1, 3000))  # empty messages too
    return rng.integers(0, 256, n, dtype=np.uint8).tobytes()


def main() -> int:
    w = world()
    n, me = w.Get_size(), w.Get_rank()
    topo = topologies.make_topology(sys.argv[1] if len(sys.argv) > 1 else "ring", n, world_size=n)
    comm = MPICommunicator(list(topo.neighbours))
    sent = recv = 0
    for t in range(25):
        inbox = comm.exchange({me: {j: message(me, t) for j in topo.neighbours[me]}})[me]
        assert list(inbox) == list(topo.neighbours[me]), "inbox order"
        for j, m in inbox.items():
            assert m == message(j, t), f"rank {me}: wrong bytes from {j} in round {t}"
        sent += len(message(me, t)) * len(topo.neighbours[me])
        recv += sum(len(message(j, t)) for j in topo.neighbours[me])
        c = comm.counters[me]
        assert c.round_sent == len(message(me, t)) * len(topo.neighbours[me])
    c = comm.counters[me]
    assert (c.sent, c.received) == (sent, recv), (c.sent, sent, c.received, recv)
    # inline payloads (<= INLINE bytes): one MPI message each, no control bytes
    assert c.control_sent == c.control_received == 0
    edge = {j: bytes([me % 256]) * comm.INLINE for j in topo.neighbours[me]}  # still inline
    inbox = comm.exchange({me: edge})[me]
    assert all(bytes(m) == bytes([j % 256]) * comm.INLINE for j, m in inbox.items())
    assert c.control_sent == c.control_received == 0
    big = {j: bytes([me % 256]) * (comm.INLINE + 1 + j) for j in topo.neighbours[me]}
    inbox = comm.exchange({me: big})[me]  # announced: an int64 length, then the payload
    assert list(inbox) == list(topo.neighbours[me]), "inbox order"
    assert all(bytes(m) == bytes([j % 256]) * (comm.INLINE + 1 + me) for j, m in inbox.items())
    assert c.round_sent == sum(len(m) for m in big.values())
    assert c.round_received == sum(comm.INLINE + 1 + me for _ in inbox)
    assert c.control_sent == c.control_received == 8 * len(topo.neighbours[me])
    mixed = {j: bytes(10 if j % 2 else comm.INLINE + 5) for j in topo.neighbours[me]}
    inbox = comm.exchange({me: mixed})[me]  # some peers inline, some announced
    assert all(len(m) == (10 if me % 2 else comm.INLINE + 5) for m in inbox.values())
    total = comm.allreduce_sum({me: np.full(3, me, dtype=np.float64)})
    assert np.array_equal(total, np.full(3, n * (n - 1) / 2))
    table = comm.gather_to_root({me: np.array([me, me * 2.0])})
    if me == 0:
        assert table.shape == (n, 2) and table[:, 1].tolist() == [2.0 * r for r in range(n)]
    assert comm.broadcast_str("hello" if me == 0 else None) == "hello"
    all_sent = comm.allreduce_sum({me: np.array([float(c.sent), float(c.received)])})
    assert all_sent[0] == all_sent[1], "bytes sent == bytes received over the network"
    if me == 0:
        print(f"OK mpi_checks n={n} {topo.summary()}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except AssertionError as e:
        print(f"FAILED rank {world().Get_rank()}: {e}", file=sys.stderr, flush=True)
        world().Abort(1)
