"""One rank of an asynchronous run: apply what has arrived, respect the staleness bound,
step, send on every outgoing edge; then flush and check the public copies.

Staleness of neighbour j at step t = t − (the last step of j applied here), measured at the
consensus step.  Before step t the rank waits while some neighbour that has not ended is more
than ``bound`` steps behind; the histogram counts every (step, neighbour) staleness.
"""

from __future__ import annotations

import hashlib
import time

import numpy as np

from ..comm.async_base import DIGEST, END
from .build import straggle
from .errors import RunError

ASYNC_FIELDS = ("wait_s", "staleness")  # appended to metrics.FIELDS in async rows


class AsyncRank:
    def __init__(self, worker, algorithm, net, *, bound: int, slow: float, evaluate, d: int):
        self.w, self.alg, self.net = worker, algorithm, net
        self.rank, self.state = worker.rank, worker.state
        self.peers = algorithm.peers[self.rank]
        self.bound, self.slow, self.evaluate, self.d = int(bound), float(slow), evaluate, d
        if self.state.staleness is None:  # else restored from a checkpoint
            self.state.staleness = np.zeros(self.bound + 1, dtype=np.int64)
        self.hist = self.state.staleness
        self.start_step = self.state.step
        self.ended: set[int] = set()
        self.digests: dict[int, bytes] = {}
        self.rows: list[np.ndarray] = []
        self.last_acc = float("nan")
        self.stop_seen = False  # a neighbour ended on a stop signal: end too (it spreads)
        self.stopped = False  # ended by a stop request: checkpoint after the flush

    @property
    def wait_s(self) -> float:
        return self.state.wait_s

    @wait_s.setter
    def wait_s(self, v: float) -> None:
        self.state.wait_s = v

    # -- messages ----------------------------------------------------------------------
    def absorb(self) -> None:
        for env in self.net.arrived(self.rank):
            if env.step > 0:
                if env.sender in self.ended:
                    raise RuntimeError(f"rank {self.rank}: data from neighbour {env.sender} "
                                       f"after its end marker")
                t0 = time.perf_counter()
                self.alg.apply(self.state, env.sender, env.step, env.payload)
                self.w.codec_s += time.perf_counter() - t0
            elif env.step == END:
                self.ended.add(env.sender)
                self.stop_seen |= env.payload == b"stop"
            elif env.step == DIGEST:
                self.digests[env.sender] = env.payload

    def blocked(self) -> list[int]:
        """Neighbours this rank must wait for before its next step."""
        t = self.state.step + 1
        return [j for j in self.peers
                if j not in self.ended and t - self.state.applied[j] > self.bound]

    def missing_ends(self) -> list[int]:
        return [j for j in self.peers if j not in self.ended]

    def missing_digests(self) -> list[int]:
        return [j for j in self.peers if j not in self.digests]

    # -- one local step ------------------------------------------------------------------
    def step(self, elapsed, eval_due) -> None:
        """Compose and send, apply what has arrived, mix; ``elapsed()``: seconds so far."""
        w, st = self.w, self.state
        clock = time.perf_counter
        w.new_round()
        t0, c0, cpu0 = clock(), w.compute_s, time.thread_time()
        out, w.info = self.alg.compose(st, w.model.x, w)
        straggle(self.slow, cpu0)  # the straggler experiment: the step lasts FACTOR times longer
        spent = clock() - t0
        self.net.round = st.step
        for j in sorted(out):
            self.net.post(self.rank, j, st.step, out[j])
        w.message_bytes_total += w.info.message_bytes / max(1, w.info.messages)
        self.absorb()
        stale = [st.step - st.applied[j] for j in self.peers if j not in self.ended]
        if stale and max(stale) > self.bound:
            raise RuntimeError(f"rank {self.rank}: staleness {max(stale)} above the bound "
                               f"{self.bound} at step {st.step}")
        for s in stale:
            self.hist[s] += 1
        t1 = clock()
        self.alg.mix(st, w.model.x)
        w.codec_s += clock() - t1 + spent - (w.compute_s - c0)
        x = w.model.x
        if not np.isfinite(x).all():
            raise RunError(f"rank {self.rank}: the model has non-finite entries after step "
                           f"{st.step}; lower --lr or --gamma")
        acc = float("nan")
        if eval_due(st.step):
            w.model.sync()
            acc = self.last_acc = self.evaluate(w.model.module)
        self._row(elapsed(), acc, max(stale) if stale else float("nan"))

    def _row(self, elapsed: float, acc: float, stale: float) -> None:
        w, c = self.w, self.net.counters[self.rank]
        x = w.model.x
        self.rows.append(np.array([
            self.state.step, self.rank, w.loss, c.round_sent, c.round_received, 8 * w.info.messages,
            8.0 * w.info.message_bytes / (self.d * max(1, w.info.messages)),
            w.info.symbol_entropy_bits, np.count_nonzero(x) / x.size, w.info.kept, w.info.skipped,
            acc, float("nan"), elapsed, w.compute_s, w.codec_s, self.wait_s, self.wait_s, stale],
            dtype=np.float64))
        c.round_sent = c.round_received = 0

    # -- the end -------------------------------------------------------------------------
    def end(self, stopped: bool = False) -> None:
        """The end marker on every edge; ``stopped``: ended by a signal, tell the neighbours."""
        for j in self.peers:
            self.net.post(self.rank, j, END, b"stop" if stopped else b"")

    def post_digests(self) -> None:
        """Send each neighbour j the digest of this rank's copy of x̂_{j→i}."""
        for j, (_, theirs) in sorted(self.alg.copies(self.state).items()):
            self.net.post(self.rank, j, DIGEST, hashlib.sha256(theirs.tobytes()).digest())

    def check_digests(self) -> None:
        for j, (own, _) in sorted(self.alg.copies(self.state).items()):
            if hashlib.sha256(own.tobytes()).digest() != self.digests[j]:
                raise RuntimeError(f"rank {self.rank}: after the flush, the public copy "
                                   f"x̂_{{{self.rank}→{j}}} differs between rank {self.rank} and "
                                   f"rank {j}: the per-edge streams diverged")
