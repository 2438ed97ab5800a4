"""Byte accounting of an exchange: payload bytes as handed to the communicator, and control
bytes as the MPI protocol spends them (an int64 length announcement for each payload over
``INLINE`` bytes only; smaller ones are one MPI message whose length MPI reports)."""

from gossip.comm import InProcessCommunicator
from gossip.comm.base import HEAD, INLINE, ByteCounter


def test_only_large_payloads_cost_control_bytes():
    c = ByteCounter()
    c.record({1: b"x" * 10, 2: b"y" * INLINE}, {1: b"z" * 3, 2: b"w" * (INLINE + 1)})
    assert (c.sent, c.received) == (10 + INLINE, 3 + INLINE + 1)
    assert (c.round_sent, c.round_received) == (10 + INLINE, 3 + INLINE + 1)
    assert (c.control_sent, c.control_received) == (0, HEAD)
    c.record({1: b"x" * (INLINE + 7)}, {1: b""})
    assert (c.control_sent, c.control_received) == (HEAD, HEAD)
    assert c.per_neighbour_sent == {1: 10 + INLINE + 7, 2: INLINE}
    assert c.per_neighbour_received == {1: 3, 2: INLINE + 1}
    assert (c.round_sent, c.round_received) == (INLINE + 7, 0)


def test_in_process_counts_as_mpi_would():
    comm = InProcessCommunicator([(1,), (0,)])
    inbox = comm.exchange({0: {1: bytes(INLINE + 1)}, 1: {0: b"ab"}})
    assert bytes(inbox[1][0]) == bytes(INLINE + 1) and bytes(inbox[0][1]) == b"ab"
    a, b = comm.counters[0], comm.counters[1]
    assert (a.sent, a.received, a.control_sent, a.control_received) == (INLINE + 1, 2, HEAD, 0)
    assert (b.sent, b.received, b.control_sent, b.control_received) == (2, INLINE + 1, 0, HEAD)
