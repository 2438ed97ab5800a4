"""The training loop: one code path for every algorithm and both communicators.

Each process hosts ``comm.local_ranks`` (one under MPI, all of them in-process).  A round is:
every local rank computes a minibatch gradient and composes its outbox; the communicator
exchanges the messages; every local rank absorbs its inbox.  Logging, evaluation and byte
accounting happen here and nowhere else.

The only global steps are at *sync points*: evaluation and checkpoint rounds, the last round,
``--stop-at-round``, and otherwise about every half second of training (the root proposes the
interval, every rank agrees on it).  There the metrics rows since the last sync point go to the
root (which writes them to metrics.jsonl) and the ranks agree whether a signal asks them to
stop; between sync points a round is the neighbour exchange alone.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

import topologies

from ..comm import Communicator
from ..config import Config
from ..data import BatchSampler, Dataset, load_dataset, partition
from ..models import FlatModel, build_model
from ..rng import numpy_rng
from . import resume
from .build import build_algorithm, pick_device, slow_factor, straggle
from .errors import Preempted, RunError
from .metrics import FIELDS, MetricsLog
from .startup import since_start
from .stop import STOP
from .worker import Worker


@torch.no_grad()
def evaluate(module: nn.Module, x: torch.Tensor, y: torch.Tensor,
             batch: int = 1000) -> tuple[float, float]:
    """Test accuracy and loss, in eval mode (BatchNorm uses its running statistics)."""
    was_training = module.training
    module.eval()
    dev = next(module.parameters()).device
    try:
        correct, loss = 0, 0.0
        for i in range(0, len(y), batch):
            xb, yb = x[i:i + batch].to(dev), y[i:i + batch].to(dev)
            logits = module(xb)
            loss += float(nn.functional.cross_entropy(logits, yb, reduction="sum"))
            correct += int((logits.argmax(1) == yb).sum())
        return correct / len(y), loss / len(y)
    finally:
        module.train(was_training)


def cpu_state(module: nn.Module) -> dict:
    """A state_dict with CPU tensors, loadable anywhere with weights_only=True."""
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


class Run:
    """Everything one process needs for a run; ``execute`` trains and returns the summary."""

    say: Callable[[str], None] | None = None  # progress lines (gossip train: rank 0 prints)

    def __init__(self, cfg: Config, comm: Communicator, topo: topologies.TopologyInfo,
                 out: Path, *, dataset: Dataset | None = None,
                 model_fn: Callable[[], nn.Module] | None = None):
        """``dataset`` / ``model_fn``: a user's own data (see :func:`gossip.data.from_torch`) and
        model factory instead of the configured ones; every rank starts from the first model's
        parameters, so ``model_fn`` may be random."""
        self.cfg, self.comm, self.topo, self.out = cfg, comm, topo, Path(out)
        torch.set_num_threads(1)
        try:
            data: Dataset = dataset if dataset is not None else load_dataset(
                cfg.data.dataset, cfg.data.test_fraction, cfg.train.seed,
                data_dir=cfg.data.data_dir, limit=cfg.data.limit)
            shards = partition(data.y_train, comm.size, cfg.data.partition, cfg.train.seed,
                               alpha=cfg.data.alpha, shards_per_rank=cfg.data.shards_per_rank)
        except ValueError as e:  # same inputs on every rank: every rank stops with this message
            raise RunError(f"data: {e}") from None
        self.data = data
        self.x_test = torch.from_numpy(data.x_test)
        self.y_test = torch.from_numpy(data.y_test)
        mk = model_fn or (lambda: build_model(  # noqa: E731
            cfg.model.name, data.in_features, data.classes, hidden=cfg.model.hidden,
            seed=cfg.train.seed, in_shape=tuple(data.x_train.shape[1:])))
        self.devices = {r: pick_device(cfg.train.device, r, comm) for r in comm.local_ranks}
        self.eval_model = FlatModel(mk(), self.devices[comm.local_ranks[0]])
        self.block_sizes = self.eval_model.sizes
        self.d = self.eval_model.size
        x0 = self.eval_model.x.copy()
        self.algorithm = build_algorithm(cfg, topo, self.block_sizes, comm.local_ranks)
        self.slow = {r: slow_factor(cfg, r, comm.size) for r in comm.local_ranks}
        self.workers = []
        for r in comm.local_ranks:
            model = FlatModel(mk(), self.devices[r])
            model.load_flat(x0)  # the same x⁰ on every rank
            idx = shards[r]
            sampler = BatchSampler(data.x_train[idx], data.y_train[idx], cfg.data.batch_size,
                                   numpy_rng(cfg.train.seed, r, "sampler"))
            self.workers.append(Worker(r, model, sampler, self.algorithm.init_state(r, x0),
                                       l2=cfg.model.l2))

    # -- one round -----------------------------------------------------------------------
    def round(self, t: int) -> None:
        outbox = {}
        clock = time.perf_counter
        for w in self.workers:
            w.new_round()
            t0, c0, cpu0 = clock(), w.compute_s, time.thread_time()
            outbox[w.rank], w.info = self.algorithm.compose(w.state, w.model.x, w)
            straggle(self.slow.get(w.rank, 1.0), cpu0)  # the straggler experiment (--slowdown)
            w.codec_s += clock() - t0 - (w.compute_s - c0)
            w.message_bytes_total += w.info.message_bytes / max(1, w.info.messages)
        t0 = clock()
        inbox = self.comm.exchange(outbox, self.algorithm.label)
        wire = clock() - t0
        for w in self.workers:
            w.wire_s += wire
            t0 = clock()
            self.algorithm.absorb(w.state, w.model.x, inbox[w.rank], t)
            w.codec_s += clock() - t0

    def check_finite(self, t: int) -> None:
        """Stop on a non-finite model (at sync points, so no checkpoint holds one; in between,
        the next round's loss check catches it: one non-finite weight makes every loss NaN)."""
        for w in self.workers:
            if not np.isfinite(w.model.x).all():
                bad = int(np.size(w.model.x) - np.count_nonzero(np.isfinite(w.model.x)))
                raise RunError(f"rank {w.rank}: the model has {bad} non-finite entries after "
                               f"round {t}; lower --lr or --gamma")

    def _average_buffers(self) -> None:
        """Give the evaluation model the ranks' mean buffers (BatchNorm running statistics)."""
        names = [k for k, _ in self.eval_model.module.named_buffers()]
        if not names:
            return
        flat = {w.rank: torch.cat([b.detach().reshape(-1).double()
                                   for _, b in w.model.module.named_buffers()]).numpy()
                for w in self.workers}
        mean = self.comm.allreduce_sum(flat) / self.comm.size
        off = 0
        with torch.no_grad():
            for _, b in self.eval_model.module.named_buffers():
                n = b.numel()
                b.copy_(torch.from_numpy(mean[off:off + n]).reshape(b.shape).to(b.dtype))
                off += n

    def network_average(self) -> np.ndarray:
        total = self.comm.allreduce_sum({w.rank: w.model.x.astype(np.float64) for w in self.workers})
        return total / self.comm.size

    SYNC_SECONDS, SYNC_MAX_ROUNDS = 0.5, 100

    def _sync_gap(self, rounds: int, seconds: float) -> int:
        """Rounds until the next sync point (the root's proposal is the one agreed): about
        ``SYNC_SECONDS`` of training, so metrics reach the root and a stop request (signal)
        is honoured within about that, without a global exchange in every round."""
        per = seconds / max(1, rounds)
        return int(min(self.SYNC_MAX_ROUNDS, max(1, self.SYNC_SECONDS // max(per, 1e-9))))

    def _rows(self, t: int, is_eval: bool, t0: float) -> dict[int, np.ndarray]:
        """This round's metrics row of every local rank (evaluating the rank models if due);
        ``elapsed_s`` is read after the evaluation, so an evaluation round carries its cost."""
        rows = {}
        xbar = self.network_average() if is_eval else None
        for w in self.workers:
            c = self.comm.counters[w.rank]
            x = w.model.x
            acc = dist = float("nan")
            if is_eval:
                w.model.sync()
                acc, _ = evaluate(w.model.module, self.x_test, self.y_test)
                dist = float(np.linalg.norm(x - xbar))
            rows[w.rank] = np.array([
                t, w.rank, w.loss, c.round_sent, c.round_received, c.control_sent,
                8.0 * w.info.message_bytes / (self.d * max(1, w.info.messages)),
                w.info.symbol_entropy_bits, np.count_nonzero(x) / x.size, w.info.kept,
                w.info.skipped, acc, dist, time.perf_counter() - t0, w.compute_s, w.codec_s,
                w.wire_s],
                dtype=np.float64)
        self._xbar = xbar
        return rows

    # -- the loop ------------------------------------------------------------------------
    def execute(self, resume_round: int | None = None, resumed: tuple | None = None) -> dict | None:
        """Train from round 1, or after ``resume_round`` (``resumed``: what
        :func:`.resume.pick` already restored; None: load that set here)."""
        cfg, comm = self.cfg, self.comm
        rounds = cfg.train.rounds
        root = comm.is_root
        avg_acc, avg_loss = float("nan"), float("nan")
        rank_acc: list[float] = []
        wall0, start = 0.0, 1
        if resume_round is not None:
            wall0, avg_acc, rank_acc = resumed or resume.load_set(self, resume_round)
            start = resume_round + 1
        if root:
            self.out.mkdir(parents=True, exist_ok=True)
        log = MetricsLog(self.out, resume_round) if root else None
        bar = None
        if root and cfg.train.progress:
            from tqdm import tqdm

            bar = tqdm(total=rounds, initial=start - 1, desc="gossip", unit="round",
                       file=sys.stderr, mininterval=0.5 if sys.stderr.isatty() else 30.0,
                       dynamic_ncols=True)
        t0 = time.perf_counter() - wall0
        self._start_round = start
        pending: list[dict[int, np.ndarray]] = []  # this process's rows since the last sync
        next_sync, last = start, (start - 1, time.perf_counter())
        every, stop_at = cfg.train.checkpoint_every, cfg.train.stop_at_round
        try:
            for t in range(start, rounds + 1):
                self.round(t)
                if t == start:
                    self._first_round_done()
                is_eval = t % cfg.train.eval_every == 0 or t == rounds
                pending.append(self._rows(t, is_eval, t0))
                if is_eval:
                    self._average_buffers()  # BatchNorm statistics of the average model
                if is_eval and root:
                    self.eval_model.load_flat(self._xbar.astype(np.float32))
                    self.eval_model.sync()
                    avg_acc, avg_loss = evaluate(self.eval_model.module, self.x_test, self.y_test)
                ckpt = t == rounds or bool(every and t % every == 0)
                if not (is_eval or ckpt or t >= next_sync or t == stop_at):
                    continue
                # a sync point: rows to the root, and every rank agrees whether to stop
                self.check_finite(t)
                table = comm.gather_to_root({r: np.concatenate([p[r] for p in pending])
                                             for r in comm.local_ranks})
                k, pending = len(pending), []
                local = bool(STOP.requested or stop_at == t)
                stop, gap = comm.agree({r: local for r in comm.local_ranks},
                                       self._sync_gap(t - last[0], time.perf_counter() - last[1]))
                stop = stop and t < rounds
                next_sync, last = t + gap, (t, time.perf_counter())
                if root:
                    table = table.reshape(comm.size, k, -1)
                    for i in range(k):
                        log.rows(table[:, i])
                    if is_eval:
                        log.average(t, avg_acc, avg_loss)
                        rank_acc = [float(a) for a in table[:, -1, FIELDS.index("test_accuracy")]]
                    log.flush()
                    if bar is not None:
                        bar.update(k)
                        bar.set_postfix(loss=f"{np.nanmean(table[:, -1, 2]):.3f}",
                                        avg_acc=f"{avg_acc:.3f}",
                                        bpe=f"{np.mean(table[:, -1, 6]):.3f}", refresh=False)
                if stop or ckpt:
                    if log is not None:
                        log.flush(sync=True)
                    resume.save_set(self, t, time.perf_counter() - t0, avg_acc, rank_acc)
                if stop:
                    raise Preempted(t)
        finally:
            if bar is not None:
                bar.close()
            if log is not None:
                log.close()
        return self._finish(time.perf_counter() - t0, avg_acc, rank_acc)

    def _first_round_done(self) -> None:
        """Launch to the end of this process's first round: start-up cost of the segment."""
        self.first_round_s = since_start()
        if self.say is not None:
            self.say(f"launch to first round: {self.first_round_s:.1f} s (process "
                     f"start to the end of round {self._start_round})")

    def _finish(self, wall: float, avg_acc: float, rank_acc: list[float]) -> dict | None:
        comm = self.comm
        avg_zeros = float(np.mean(self.network_average().astype(np.float32) == 0))
        for w in self.workers:
            (self.out / "rank_models").mkdir(exist_ok=True)
            torch.save(cpu_state(w.model.module), self.out / "rank_models" / f"rank{w.rank:04d}.pt")
        totals = comm.gather_to_root({r: np.array([
            comm.counters[r].sent, comm.counters[r].received, comm.counters[r].control_sent,
            np.count_nonzero(w.model.x) / self.d, w.message_bytes_total,
            getattr(self, "first_round_s", float("nan"))])
            for r, w in zip(comm.local_ranks, self.workers)})
        if not comm.is_root:
            return None
        torch.save(cpu_state(self.eval_model.module), self.out / "model.pt")
        total_sent = int(totals[:, 0].sum())
        rounds = self.cfg.train.rounds
        peers = comm.size - 1 if self.algorithm.all_ranks else None
        dpsgd = rounds * sum(peers if peers is not None else len(nb)
                             for nb in self.topo.neighbours) * 4 * self.d
        summary = {
            "algorithm": self.cfg.algorithm.name,
            "world_size": comm.size,
            "communicator": comm.name,
            "topology": self.cfg.topology.name,
            "spectral_gap": self.topo.spectral_gap,
            "rounds": rounds,
            "model_entries": self.d,
            "final_avg_test_accuracy": avg_acc,
            "final_rank_test_accuracy": rank_acc,
            "total_bytes_sent": total_sent,
            "total_control_bytes_sent": int(totals[:, 2].sum()),
            "dpsgd_float32_bytes_same_rounds": dpsgd,
            "bytes_vs_dpsgd": total_sent / dpsgd if dpsgd else None,
            "mean_bits_per_entry": 8.0 * float(totals[:, 4].sum()) / (rounds * comm.size * self.d),
            "final_nonzero_fraction": float(totals[:, 3].mean()),  # mean over the rank models
            "final_avg_model_zero_fraction": avg_zeros,  # exact zeros of the network average
            "wall_seconds": wall,
            # process start (interpreter, imports, MPI start-up) to the end of this process's
            # first round, slowest rank
            "launch_to_first_round_s": (float(totals[:, 5].max())
                                        if np.isfinite(totals[:, 5]).all() else None),
        }
        if total_sent == 0:  # one rank: no peers, nothing sent
            summary["mean_bits_per_entry"] = summary["bytes_vs_dpsgd"] = None
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary
