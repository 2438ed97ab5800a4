"""Asynchronous transports: one-way messages on each directed edge, delivered in order.

A message is an int64 header and its payload.  The header is the sender's local step (>= 1)
for a data message, ``END`` after the sender's last step, ``DIGEST`` for the after-flush check
of the public copies.  The header counts as control bytes (8 per message in the simulator,
16 under MPI, where it also holds the payload size), the payload as payload bytes, in the
rank's :class:`ByteCounter`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import ByteCounter

END, DIGEST = -1, -2
HEADER_BYTES = 8


@dataclass
class Envelope:
    sender: int
    step: int  # >= 1: data of that local step; END; DIGEST
    payload: bytes


def count_sent(counter: ByteCounter, peer: int, payload: int, header: int = HEADER_BYTES) -> None:
    counter.sent += payload
    counter.round_sent += payload
    counter.control_sent += header
    counter.per_neighbour_sent[peer] = counter.per_neighbour_sent.get(peer, 0) + payload


def count_received(counter: ByteCounter, peer: int, payload: int,
                   header: int = HEADER_BYTES) -> None:
    counter.received += payload
    counter.round_received += payload
    counter.control_received += header
    counter.per_neighbour_received[peer] = counter.per_neighbour_received.get(peer, 0) + payload
