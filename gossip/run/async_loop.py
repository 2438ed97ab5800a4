"""The asynchronous run (``--mode async``): no round barrier.

Under MPI each process drives its rank in a loop (step when the staleness bound allows, wait
with a deadline otherwise).  In-process, a seeded event queue drives every rank on the
simulated clock of :class:`~gossip.comm.async_inprocess.SimulatedNetwork`, so a run is
bit-reproducible for a given seed.  Both end the same way: each rank stops after ``--rounds``
steps, ``--time-budget`` seconds, a stop signal or its own step ``--stop-at-round``, sends an
end marker on every edge, applies messages until it has every neighbour's end marker, and the
two ends of every edge compare digests of their public copies.  Then the usual evaluation,
metrics, models and summary; or, if a rank was stopped, the metrics so far and every rank's
checkpoint (exit 75), from which ``--resume`` continues each rank at its own step.
"""

from __future__ import annotations

import heapq
import json
import time

import numpy as np

from ..comm.async_inprocess import SimulatedNetwork
from . import resume
from .async_rank import ASYNC_FIELDS, AsyncRank
from .build import slow_factor
from .errors import Preempted
from .loop import Run, evaluate
from .metrics import FIELDS, MetricsLog
from .stop import STOP

START, FINISH = 0, 1


class AsyncRun(Run):
    def execute(self, resume_round: int | None = None, resumed: tuple | None = None) -> dict | None:
        """Run every local rank to ``--rounds`` steps, from the start or from the round-
        ``resume_round`` set (``resumed``: what :func:`.resume.pick` already restored)."""
        cfg, comm = self.cfg, self.comm
        tr, wall0 = cfg.train, 0.0
        self.resume_round = resume_round
        if resume_round is not None:  # every rank's state after the flush of the stopped run
            wall0 = (resumed or resume.load_set(self, resume_round))[0]
        simulated = comm.name != "mpi"
        if simulated:
            self.net = SimulatedNetwork(comm.neighbours, comm.counters, tr.seed, tr.sim_delay,
                                        {r: slow_factor(cfg, r, comm.size) for r in comm.local_ranks})
        else:
            from ..comm.async_mpi import AsyncMPITransport

            self.net = AsyncMPITransport(comm)
        if simulated:
            self.net.now = wall0
        acc = lambda m: evaluate(m, self.x_test, self.y_test)[0]  # noqa: E731
        self.ranks = [AsyncRank(w, self.algorithm, self.net, bound=tr.max_staleness,
                                slow=1.0 if simulated else slow_factor(cfg, w.rank, comm.size),
                                evaluate=acc, d=self.d) for w in self.workers]
        if comm.is_root:
            self.out.mkdir(parents=True, exist_ok=True)
        comm.barrier()
        t0 = time.perf_counter() - wall0
        if simulated:
            self._simulate()
        else:
            self._drive(self.ranks[0], t0)
        for r in self.ranks:
            r.check_digests()
        wall = self.net.now if simulated else time.perf_counter() - t0
        if comm.any_flag({r.rank: r.stopped and r.state.step < tr.rounds for r in self.ranks}):
            self._preempt(wall)
        return self._finish_async(wall)

    # -- ending conditions ---------------------------------------------------------------
    def _due(self, step: int) -> bool:
        return step % self.cfg.train.eval_every == 0 or step == self.cfg.train.rounds

    def _done(self, r: AsyncRank, elapsed: float) -> bool:
        tr, at = self.cfg.train, self.cfg.train.stop_at_round
        r.stopped = (STOP.requested or r.stop_seen
                     or (at is not None and r.start_step < at <= r.state.step))
        return (r.state.step >= tr.rounds or r.stopped
                or (tr.time_budget is not None and elapsed >= tr.time_budget))

    # -- under MPI: this process's rank ----------------------------------------------------
    def _drive(self, r: AsyncRank, t0: float) -> None:
        clock, net = time.perf_counter, self.net

        def wait_for(peers, what):
            w0 = clock()
            net.wait(r.rank, peers, what)
            r.wait_s += clock() - w0

        while True:
            r.absorb()
            if self._done(r, clock() - t0):
                break
            if r.blocked():
                wait_for(r.blocked(), f"{self.algorithm.label} (staleness bound)")
                continue
            r.step(lambda: clock() - t0, self._due)
        r.end(STOP.requested or r.stop_seen)
        r.absorb()
        while r.missing_ends():
            wait_for(r.missing_ends(), "the flush (end markers)")
            r.absorb()
        r.post_digests()
        r.absorb()
        while r.missing_digests():
            wait_for(r.missing_digests(), "the public-copy check")
            r.absorb()
        net.drain_sends("the flush")

    # -- in-process: every rank on the simulated clock ------------------------------------
    def _simulate(self) -> None:
        net, by_rank = self.net, {r.rank: r for r in self.ranks}
        events = [(net.now, k, START, r.rank) for k, r in enumerate(self.ranks)]
        heapq.heapify(events)
        seq = len(events)
        waiting: dict[int, float] = {}
        phase = {r.rank: "steps" for r in self.ranks}

        def push(at, kind, rank):
            nonlocal seq
            seq += 1
            heapq.heappush(events, (at, seq, kind, rank))

        while events or net.next_arrival() < float("inf"):
            te = events[0][0] if events else float("inf")
            if net.next_arrival() <= te:  # messages arriving at the same time come first
                peer = net.deliver_next()
                if peer in waiting:
                    by_rank[peer].wait_s += net.now - waiting.pop(peer)
                    push(net.now, START, peer)
                continue
            at, _, kind, rank = heapq.heappop(events)
            net.now = at
            r = by_rank[rank]
            if kind == FINISH:
                r.step(lambda: net.now, self._due)
                push(at, START, rank)
                continue
            r.absorb()
            if phase[rank] == "steps":
                if self._done(r, at):
                    r.end(STOP.requested or r.stop_seen)
                    phase[rank] = "flush"
                elif r.blocked():
                    waiting[rank] = at
                else:
                    push(at + net.step_duration(rank), FINISH, rank)
            if phase[rank] == "flush":
                if r.missing_ends():
                    waiting[rank] = at
                else:
                    phase[rank] = "done"
        stuck = sorted(k for k, p in phase.items() if p != "done")
        if stuck:
            raise RuntimeError(f"the simulated async run deadlocked: ranks {stuck} never finished")
        for r in self.ranks:
            r.post_digests()
        while net.next_arrival() < float("inf"):
            net.deliver_next()
        for r in self.ranks:
            r.absorb()

    # -- a stopped run: checkpoint -------------------------------------------------------
    def _preempt(self, wall: float) -> None:
        """After the flush: the metrics rows so far, every rank's checkpoint, then exit 75.  The
        set is named by the largest step of any rank; each file holds its rank's own step."""
        comm = self.comm
        key = int(comm.allreduce_sum({r.rank: np.eye(comm.size)[r.rank] * r.state.step
                                      for r in self.ranks}).max())
        table = self._gather_rows()
        if comm.is_root:
            log = MetricsLog(self.out, self.resume_round)
            log.rows(table, FIELDS + ASYNC_FIELDS)
            log.flush(sync=True)
            log.close()
        resume.save_set(self, key, wall, float("nan"), [])
        raise Preempted(key)

    # -- outputs -------------------------------------------------------------------------
    def _finish_async(self, wall: float) -> dict | None:
        comm, root = self.comm, self.comm.is_root
        xbar = self.network_average()
        self._average_buffers()
        for w in self.workers:
            w.model.sync()
        accs = {r.rank: np.array([r.evaluate(r.w.model.module)]) for r in self.ranks}
        rank_acc = comm.gather_to_root(accs)
        avg_acc = avg_loss = float("nan")
        if root:
            self.eval_model.load_flat(xbar.astype(np.float32))
            self.eval_model.sync()
            avg_acc, avg_loss = evaluate(self.eval_model.module, self.x_test, self.y_test)
        table = self._gather_rows()
        per = comm.gather_to_root({r.rank: np.concatenate(
            [[r.state.step, r.wait_s], r.hist.astype(np.float64)]) for r in self.ranks})
        summary = self._finish(wall, avg_acc, [] if rank_acc is None else
                               [float(a) for a in rank_acc[:, 0]])
        if not root:
            return None
        log = MetricsLog(self.out, self.resume_round)
        log.rows(table, FIELDS + ASYNC_FIELDS)
        log.average(int(per[:, 0].max()), avg_acc, avg_loss)
        log.close()
        steps = [int(s) for s in per[:, 0]]
        d = self.d
        dpsgd = sum(s * len(nb) for s, nb in zip(steps, self.topo.neighbours)) * 4 * d
        bits = summary["mean_bits_per_entry"] * self.cfg.train.rounds * comm.size
        summary.update({
            "mode": "async", "steps_per_rank": steps, "rounds": max(steps),
            "max_staleness": self.cfg.train.max_staleness,
            "staleness_histogram": [[int(v) for v in row[2:]] for row in per],
            "wait_seconds": [float(v) for v in per[:, 1]],
            "dpsgd_float32_bytes_same_rounds": dpsgd,
            "bytes_vs_dpsgd": summary["total_bytes_sent"] / dpsgd if dpsgd else None,
            "copies_identical_after_flush": True,
            "clock": "simulated" if comm.name != "mpi" else "wall",
        })
        summary["mean_bits_per_entry"] = bits / max(1, sum(steps))  # per entry per step
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary

    def _gather_rows(self) -> np.ndarray | None:
        """Every rank's per-step rows at the root (padded to the longest, NaN rows dropped)."""
        comm, width = self.comm, len(FIELDS) + len(ASYNC_FIELDS)
        longest = int(comm.allreduce_sum({r.rank: np.eye(comm.size)[r.rank] * len(r.rows)
                                          for r in self.ranks}).max())
        flat = {}
        for r in self.ranks:
            block = np.full((longest, width), np.nan)
            if r.rows:
                block[:len(r.rows)] = np.stack(r.rows)
            flat[r.rank] = block.reshape(-1)
        got = comm.gather_to_root(flat)
        if got is None:
            return None
        rows = got.reshape(-1, width)
        rows = rows[~np.isnan(rows[:, 0])]
        return rows[np.lexsort((rows[:, 1], rows[:, 0]))]  # by step, then rank
