"""Waiting with a deadline: every MPI wait either completes or names the peer that is lost.

A wait watches its requests and a liveness ping from any peer (always posted). How it waits is
the wait mode (``--mpi-wait``): ``yield`` (default) polls with ``Testsome`` and gives the core
away with ``sched_yield`` between polls, so ranks that share cores (more ranks than cores, the
normal case on a laptop or an oversubscribed node) do not spin while their peers compute, yet a
message is taken within microseconds; ``block`` spins on ``Testall`` for the first 2 ms, then
sits in MPI's ``Waitsome`` (MPICH spins there too: best with one rank per dedicated core);
``sleep`` naps between polls (20 us doubling to 1 ms), the least CPU while waiting, at up to a
millisecond of extra latency. The polling modes read the deadline on the clock; ``block`` waits
on one more request, an alarm that a helper thread sends this rank at the deadline. A ping is
answered at once (while polling: within 2 ms), so a waiting rank is never blamed for someone
else's silence. At the deadline a rank pings the peers it still waits for: one that answers is
alive (waiting on someone else), so the wait goes on; one that does not is dead or hung, and
:class:`LostPeerError` names it.
"""

from __future__ import annotations

import atexit
import os
import threading
import time

import numpy as np


class LostPeerError(RuntimeError):
    """A peer did not answer within the exchange timeout (dead, stuck or partitioned)."""


class _Alarm:
    """A thread that sends its own rank one int64 (the arming number) at the armed time."""

    def __init__(self, comm, rank: int, tag: int, mpi_type):
        self.comm, self.rank, self.tag, self.type = comm, rank, tag, mpi_type
        self.cv = threading.Condition()
        self.due: float | None = None
        self.seq = 0
        self.target = float("inf")  # when the thread wakes next
        threading.Thread(target=self._run, name="gossip-deadline", daemon=True).start()

    def arm(self, at: float) -> int:
        with self.cv:
            self.seq += 1
            self.due = at
            if at < self.target:
                self.cv.notify()
            return self.seq

    def disarm(self) -> None:
        with self.cv:
            self.due = None

    def _run(self) -> None:
        buf = np.zeros(1, dtype=np.int64)
        with self.cv:
            while True:
                left = float("inf") if self.due is None else self.due - time.monotonic()
                if left > 0:
                    self.target = time.monotonic() + left
                    self.cv.wait(None if left == float("inf") else left)
                    self.target = float("inf")
                    continue
                buf[0], self.due = self.seq, None
                self.cv.release()
                try:
                    self.comm.Send([buf, self.type], dest=self.rank, tag=self.tag)
                finally:
                    self.cv.acquire()


class Deadlines:
    """Mixin for a communicator with ``MPI``, ``world``, ``rank``, ``round`` and ``timeout``."""

    PING_TAG, PONG_TAG, ALARM_TAG = 31, 32, 33
    WAIT_MODES = ("yield", "block", "sleep")
    NAP_MIN, NAP_MAX = 20e-6, 1e-3  # the sleep mode's naps: doubling, capped well under a round

    def _init_deadlines(self, wait_mode: str = "yield") -> None:
        MPI = self.MPI
        if wait_mode not in self.WAIT_MODES:
            raise ValueError(f"wait mode {wait_mode!r}: choose one of {', '.join(self.WAIT_MODES)}")
        self.wait_mode = wait_mode
        # one posted ping receive per other rank: an ANY_SOURCE receive would slow every wait
        # (MPICH then polls its network module too)
        self._others = [j for j in range(self.world.Get_size()) if j != self.rank]
        self._ping_in = np.zeros((self.world.Get_size(), 1), dtype=np.int64)
        self._ping_reqs = [self._post_ping(j) for j in self._others]
        self._alarm_in = np.zeros(1, dtype=np.int64)
        self._pings: list = []  # outstanding ping sends (to peers that may be dead)
        self._pongs: list = []
        self._status_pool: list = []  # MPI statuses reused by every quick wait (_quick)
        self._testall = MPI.Request.Testall
        self._alarm_req = self.world.Irecv([self._alarm_in, MPI.INT64_T], source=self.rank,
                                           tag=self.ALARM_TAG)
        self._alarm = _Alarm(self.world, self.rank, self.ALARM_TAG, MPI.INT64_T)
        self._armed = 0
        atexit.register(self._close_deadlines)  # runs before mpi4py's MPI_Finalize

    def _close_deadlines(self) -> None:
        self._alarm.disarm()
        for req in self._ping_reqs + [self._alarm_req]:
            try:
                req.Cancel()
                req.Wait()
            except self.MPI.Exception:
                pass

    def _post_ping(self, src: int):
        return self.world.Irecv([self._ping_in[src], self.MPI.INT64_T], source=src,
                                tag=self.PING_TAG)

    def _answer_ping(self, k: int) -> None:
        """Answer the ping that completed ``self._ping_reqs[k]`` and post the next one."""
        src = self._others[k]
        self._pongs.append(self.world.Isend([self._ping_in[src].copy(), self.MPI.INT64_T],
                                            dest=src, tag=self.PONG_TAG))
        self._ping_reqs[k] = self._post_ping(src)
        self._pongs = [r for r in self._pongs if not r.Test()]

    def _serve_pings(self) -> None:
        """Answer liveness pings: a rank that waits (on someone else) is alive, not the culprit."""
        for k in range(len(self._ping_reqs)):
            if self._ping_reqs[k].Test():
                self._answer_ping(k)

    def _alive(self, peers: list[int], grace: float) -> set[int]:
        """Which of ``peers`` answer a ping within ``grace`` seconds (serving pings meanwhile).
        The failure path only: it polls every millisecond."""
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

    def _lost(self, reqs: list, peers: list, what: str, e) -> LostPeerError:
        """The error for a wait the library failed: name the peer whose request failed."""
        who = "another rank"
        for req, peer in zip(reqs, peers):
            try:
                req.Test()
            except self.MPI.Exception as e2:
                who, e = (f"rank {peer}" if peer is not None else who), e2
                break
        return LostPeerError(f"rank {self.rank}: lost {who} during {what} (round {self.round}): "
                             f"{e.Get_error_string()}")

    def _overdue(self, peers: list[int], limit: float, what: str) -> None:
        """Past the deadline: return if every peer still awaited answers a ping, else raise."""
        peers = sorted(set(peers))
        try:
            alive = self._alive(peers, min(5.0, self.timeout / 2))
        except self.MPI.Exception:
            alive = set()
        lost = sorted(set(peers) - alive)
        if peers and not lost:
            return  # all alive: the culprit is elsewhere
        who = (f"rank{'s' if len(lost) > 1 else ''} {', '.join(map(str, lost))}"
               if lost else "another rank")
        raise LostPeerError(
            f"rank {self.rank}: no answer from {who} within {limit:g} s during "
            f"{what} (round {self.round}); that rank has died or hangs "
            f"(raise --exchange-timeout if rounds are legitimately slow)")

    def _wait(self, pending: list[tuple[object, int | None]], what: str,
              patience: float = 1.0, then=None) -> None:
        """Wait for (request, peer) pairs as the wait mode says.  ``then(k, status)``, called
        when the k-th request completes, may return more (request, peer) pairs to wait for.
        Past the deadline the peers still awaited are pinged and the silent ones named (see the
        module docstring).  ``patience`` > 1 lets the root time out first."""
        reqs = [r for r, _ in pending]
        peers = [p for _, p in pending]
        if then is None and self.MPI.Request.Testall(reqs):
            return
        limit = self.timeout * patience
        if self.wait_mode == "block":
            self._wait_block(reqs, peers, what, limit, then)
        else:
            self._wait_poll(reqs, peers, what, limit, then)

    def _quick(self, reqs: list) -> list | None:
        """All of ``reqs`` done within ``CHECK_EVERY`` (``Testall`` polls, yielding the core
        between them in the yield mode, back to back in the block mode, whose full wait arms
        the alarm; one poll in the sleep mode)?  -> statuses, the first
        ``len(reqs)`` of which are theirs (a list kept between calls: no allocation per
        round), or None, leaving every request as it was, for the full wait (MPI's
        ``Testall`` completes none unless all)."""
        statuses = self._status_pool
        if len(statuses) < len(reqs):
            statuses += [self.MPI.Status() for _ in range(len(reqs) - len(statuses))]
        testall = self._testall
        try:
            if testall(reqs, statuses):
                return statuses
            mode = self.wait_mode
            if mode == "sleep":
                return None
            clock, pause = time.monotonic, os.sched_yield
            end = clock() + self.CHECK_EVERY
            if mode == "yield":
                while clock() < end:
                    pause()
                    if testall(reqs, statuses):
                        return statuses
            else:  # block: spin, as MPICH's own wait would, without the alarm's set-up
                while clock() < end:
                    if testall(reqs, statuses):
                        return statuses
        except self.MPI.Exception:
            return None  # the full wait names the peer whose request failed
        return None

    def _awaited(self, reqs: list, peers: list) -> list[int]:
        """The peers still awaited; a pending collective (peer ``None``) awaits every rank, so
        the one that never joins it is pinged, and named, like a silent neighbour."""
        pending = [p for r, p in zip(reqs, peers) if r != self.MPI.REQUEST_NULL]
        if any(p is None for p in pending):
            return list(self._others)
        return pending

    def _completed(self, k: int, status, reqs: list, peers: list, statuses: list, then) -> int:
        """Request k is done: queue what ``then`` returns -> how many requests that adds."""
        more = then(k, status) if then else ()
        for req, peer in more:
            reqs.append(req)
            peers.append(peer)
            statuses.append(self.MPI.Status())
        return len(more)

    CHECK_EVERY = 2e-3  # seconds between ping answers and deadline checks while polling

    def _wait_poll(self, reqs: list, peers: list, what: str, limit: float, then) -> None:
        """The yield and sleep modes: ``Testsome`` on the requests alone; between polls the
        core is given away (``sched_yield``) or the rank naps.  Every ``CHECK_EVERY`` seconds
        pings are answered and the deadline is read on the clock: no alarm thread."""
        MPI = self.MPI
        statuses = [MPI.Status() for _ in reqs]
        left, nap = len(reqs), self.NAP_MIN
        yielding = self.wait_mode == "yield"
        clock = time.monotonic
        due, check = clock() + limit, clock() + self.CHECK_EVERY
        while left:
            try:
                done = MPI.Request.Testsome(reqs, statuses)
            except MPI.Exception as e:
                raise self._lost(reqs, peers, what, e) from None
            if done:
                for i, k in enumerate(done):
                    left += self._completed(k, statuses[i], reqs, peers, statuses, then) - 1
                nap = self.NAP_MIN
                continue
            now = clock()
            if now >= check:
                check = now + self.CHECK_EVERY
                try:
                    self._serve_pings()
                except MPI.Exception:
                    pass  # a pong to a failed rank; its own wait reports the failure
                if now > due:
                    self._overdue(self._awaited(reqs, peers), limit, what)
                    due = clock() + limit
            if yielding:
                os.sched_yield()
            else:
                time.sleep(nap)
                nap = min(nap * 2, self.NAP_MAX)

    def _wait_block(self, reqs: list, peers: list, what: str, limit: float, then) -> None:
        """The block mode: ``Waitsome`` on the requests, the ping receives and the alarm."""
        MPI = self.MPI
        self._armed = self._alarm.arm(time.monotonic() + limit)
        left = len(reqs)
        statuses = [MPI.Status() for _ in range(len(reqs) + len(self._others) + 1)]
        try:
            while left:
                every = reqs + self._ping_reqs + [self._alarm_req]
                if len(statuses) < len(every):
                    statuses += [MPI.Status() for _ in range(len(every) - len(statuses))]
                try:
                    done = MPI.Request.Waitsome(every, statuses) or []
                except MPI.Exception as e:
                    raise self._lost(reqs, peers, what, e) from None
                n = len(reqs)
                for i, k in enumerate(done):
                    if n <= k < n + len(self._others):
                        try:
                            self._answer_ping(k - n)
                        except MPI.Exception:
                            pass  # a pong to a failed rank; its own wait reports the failure
                    elif k == n + len(self._others):
                        fired = int(self._alarm_in[0]) == self._armed
                        self._alarm_req = self.world.Irecv([self._alarm_in, MPI.INT64_T],
                                                           source=self.rank, tag=self.ALARM_TAG)
                        if fired:  # not a stale alarm of an earlier wait
                            self._overdue(self._awaited(reqs, peers), limit, what)
                            self._armed = self._alarm.arm(time.monotonic() + limit)
                    else:
                        left += self._completed(k, statuses[i], reqs, peers, [], then) - 1
        finally:
            self._alarm.disarm()
