"""The exchange's receive side on one arrived message, without MPI (stub status): an inline
payload, an announcement that posts the payload's receive, and announcements that cannot be
right (too short, not over INLINE, larger than any buffer) named as malformed."""

import struct

import numpy as np
import pytest

from gossip.comm.mpi import LostPeerError, MPICommunicator


class _Status:
    def __init__(self, tag, count):
        self.tag, self.count = tag, count

    def Get_tag(self):
        return self.tag

    def Get_count(self, _type):
        return self.count


class _Graph:
    def __init__(self):
        self.posted = []

    def Irecv(self, spec, source, tag):
        self.posted.append((spec[0].size, source, tag))
        return "request"


def _comm():
    c = MPICommunicator.__new__(MPICommunicator)
    c.MPI = type("MPI", (), {"BYTE": "byte"})
    c.rank, c.round, c.graph = 2, 7, _Graph()
    return c


def _announce(n):
    buf = np.zeros(MPICommunicator.INLINE, np.uint8)
    struct.pack_into("=q", buf, 0, n)
    return buf


def test_inline_payload_is_a_view_of_its_count():
    c, inbox = _comm(), {}
    buf = np.arange(100, dtype=np.uint8)
    assert c._arrived(3, buf, _Status(c.INLINE_TAG, 10), inbox, "x") is None
    assert bytes(inbox[3]) == bytes(range(10)) and c.graph.posted == []


def test_announcement_posts_the_payload_receive():
    c, inbox = _comm(), {}
    n = c.INLINE + 5
    assert c._arrived(3, _announce(n), _Status(c.LEN_TAG, 8), inbox, "x") == "request"
    assert c.graph.posted == [(n, 3, c.DATA_TAG)] and len(inbox[3]) == n


@pytest.mark.parametrize("n, count", [(MPICommunicator.INLINE + 5, 7), (100, 8), (-1, 8),
                                      (2**62, 8)])
def test_malformed_announcements_name_the_peer_and_round(n, count):
    c = _comm()
    with pytest.raises(LostPeerError, match=r"rank 2: malformed length announcement from rank "
                                            r"3 during the exchange \(round 7\)"):
        c._arrived(3, _announce(n), _Status(c.LEN_TAG, count), {}, "the exchange")
    assert c.graph.posted == []
