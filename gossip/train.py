"""The training loop: one code path for every algorithm and both communicators.

Each process hosts ``comm.local_ranks`` (one under MPI, all of them in-process).  A round is:
every local rank computes a minibatch gradient and composes its message; the communicator
exchanges the messages; every local rank absorbs its inbox.  Logging, evaluation and byte
accounting happen here and nowhere else.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

import topologies

from . import __version__, checkpoint
from .algorithms import (DPSGD, GDSEC, SASG, AdaptiveTopK, Algorithm, ChocoSGD, EdgeChocoSGD,
                         EdgeDPSGD, GradientOracle, RoundInfo, TopKEF)
from .channel import Channel, build_codec, build_compressor
from .comm import Communicator
from .config import Config, to_toml
from .data import BatchSampler, Dataset, load_dataset, partition
from .flat import FlatModel
from .models import build_model
from .rng import numpy_rng
from .stop import STOP

FIELDS = ("round", "rank", "loss", "bytes_sent", "bytes_received", "control_bytes_sent",
          "bits_per_entry", "symbol_entropy_bits", "nonzero_fraction", "kept_entries", "skipped",
          "test_accuracy", "consensus_distance", "elapsed_s", "compute_s", "codec_s", "wire_s")
TIME_FIELDS = ("elapsed_s", "compute_s", "codec_s", "wire_s")  # wall clock: differs run to run
INT_FIELDS = {"round", "rank", "bytes_sent", "bytes_received", "control_bytes_sent",
              "kept_entries", "skipped"}


def read_metrics(run_dir: Path | str, timing: bool = False) -> list[dict]:
    """The rows of ``run_dir/metrics.jsonl``; without ``timing``, the wall-clock fields are
    left out, so two runs of the same trajectory compare equal."""
    rows = []
    for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            rows.append(rec if timing else {k: v for k, v in rec.items() if k not in TIME_FIELDS})
    return rows


class RunError(RuntimeError):
    """A run cannot start or continue; the message says why and what to do."""


class Preempted(Exception):
    """Every rank checkpointed round ``round`` after a stop request and the run must exit."""

    def __init__(self, round_: int):
        super().__init__(f"stopped after round {round_}")
        self.round = round_




class Worker(GradientOracle):
    """One rank: its model, its data, its algorithm state; the gradient oracle the algorithm
    calls (one minibatch per round, drawn on first use)."""

    def __init__(self, rank: int, model: FlatModel, sampler: BatchSampler, state: object,
                 l2: float = 0.0):
        self.rank, self.model, self.sampler, self.state = rank, model, sampler, state
        self.l2 = float(l2)
        self.loss = float("nan")
        self.info: RoundInfo | None = None
        self.message_bytes_total = 0  # bytes of every message composed (sent once per peer)
        self._batch = None
        # Cumulative seconds of this rank's round phases: gradients (forward/backward), the
        # algorithm's own work (compress, encode, decode, mix) and the exchange (wire + wait).
        self.compute_s = self.codec_s = self.wire_s = 0.0

    def new_round(self) -> None:
        self._batch = None
        self.loss = float("nan")

    def _loss_grad(self, xb, yb, x: np.ndarray | None) -> np.ndarray:
        saved = None
        if x is not None:
            saved = self.model.x.copy()
            self.model.x[:] = x
        try:
            self.model.sync()
            self.model.zero_grad()
            dev = self.model.device
            loss = nn.functional.cross_entropy(self.model.module(xb.to(dev)), yb.to(dev))
            loss.backward()
            value = float(loss.detach())
            g = self.model.gradient()
            if self.l2:
                xs = self.model.x
                value += 0.5 * self.l2 * float(np.dot(xs, xs))
                g += np.float32(self.l2) * xs
        finally:
            if saved is not None:
                self.model.x[:] = saved
        if not math.isfinite(value):
            raise RunError(f"rank {self.rank}: training loss became non-finite ({value}); lower --lr "
                           f"or --gamma")
        if x is None and math.isnan(self.loss):
            self.loss = value
        return g

    def grad(self, x: np.ndarray | None = None) -> np.ndarray:
        t0 = time.perf_counter()
        if self._batch is None:
            self._batch = self.sampler.next()
        g = self._loss_grad(*self._batch, x)
        self.compute_s += time.perf_counter() - t0
        return g

    def full_grad(self, x: np.ndarray | None = None) -> np.ndarray:
        t0 = time.perf_counter()
        g = self._loss_grad(self.sampler.x, self.sampler.y, x)
        self.compute_s += time.perf_counter() - t0
        return g


def make_communicator(cfg: Config) -> tuple[str, int]:
    """Which communicator to use and the world size it implies."""
    from .comm.mpi import launched_by_mpi

    kind = cfg.train.comm
    if kind == "auto":
        kind = "mpi" if launched_by_mpi() else "inprocess"
    if kind == "mpi":
        from .comm.mpi import world

        return "mpi", world().Get_size()
    return "inprocess", cfg.train.ranks


def build_topology(cfg: Config, n: int) -> topologies.TopologyInfo:
    t = cfg.topology
    # A file fixes its own node count; validation then compares it with the world size.
    nodes = None if t.name == "file" else n
    return topologies.make_topology(t.name, nodes, rule=t.mixing, world_size=n, seed=cfg.train.seed,
                                    p=t.edge_prob, degree=t.degree, path=t.file, rows=t.rows)


def build_algorithm(cfg: Config, topo: topologies.TopologyInfo, block_sizes: list[int],
                    local_ranks: list[int]) -> Algorithm:
    a = cfg.algorithm
    weights = {i: {j: float(topo.W[i, j]) for j in (*topo.neighbours[i], i)} for i in local_ranks}
    d = int(sum(block_sizes))
    if a.name in ("malcom", "choco", "dpsgd"):
        comp = build_compressor(a.compressor, block_sizes, levels=a.levels, norm=a.norm,
                                tau_scaling=a.tau_scaling, subtractive=a.subtractive_dither,
                                ratio=a.ratio, unbiased=a.unbiased)
        channel = Channel(comp, build_codec(a.codec, comp, block_sizes), seed=cfg.train.seed)
        if cfg.topology.time_varying != "static":
            schedule = topologies.Schedule(topo.edges, topo.n, cfg.topology.time_varying,
                                           drop_prob=cfg.topology.drop_prob, seed=cfg.train.seed)
            if a.name == "dpsgd":
                return EdgeDPSGD(schedule=schedule, channel=channel, lr=a.lr)
            return EdgeChocoSGD(schedule=schedule, channel=channel, lr=a.lr, gamma=a.gamma,
                                l1=a.l1, name=a.name,
                                neighbours={i: topo.neighbours[i] for i in local_ranks})
        if a.name == "dpsgd":
            return DPSGD(weights=weights, channel=channel, lr=a.lr)
        return ChocoSGD(weights=weights, channel=channel, lr=a.lr, gamma=a.gamma, l1=a.l1,
                        name=a.name)
    common = dict(size=d, world=topo.n, block_sizes=block_sizes, lr=a.lr)
    if a.name == "adaptive-topk":
        return AdaptiveTopK(budget_ratio=a.budget_ratio, rounds=cfg.train.rounds,
                            error_feedback=a.error_feedback, rho=a.rho, window=a.norm_window,
                            **common)
    if a.name == "gdsec":
        return GDSEC(beta=a.beta, xi=a.xi, variant=a.gdsec_variant, **common)
    if a.name == "sasg":
        return SASG(ratio=a.ratio, window=a.sasg_window, xi=a.xi, rule=a.sasg_rule, **common)
    if a.name == "topk-ef":
        return TopKEF(ratio=a.ratio, window=1, **common)
    raise RunError(f"algorithm {a.name!r} is not available")


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


def local_rank(comm: Communicator, rank: int) -> int:
    """This rank's index among the ranks on its node (launcher variables, else rank)."""
    for key in ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID",
                "PMI_LOCAL_RANK", "MV2_COMM_WORLD_LOCAL_RANK"):
        if key in os.environ and comm.name == "mpi":
            return int(os.environ[key])
    return rank


def pick_device(choice: str, rank: int, comm: Communicator) -> str:
    """``cpu``, ``cuda`` (local rank i takes GPU i mod count) or ``auto`` (cuda when present)."""
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return "cpu"
    if not torch.cuda.is_available():
        raise RunError("--device cuda: no CUDA device is visible to this process (check "
                       "CUDA_VISIBLE_DEVICES and the torch build: torch.cuda.is_available() is "
                       "False); use --device cpu or auto")
    return f"cuda:{local_rank(comm, rank) % torch.cuda.device_count()}"


def default_out_dir() -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    job = os.environ.get("SLURM_JOB_ID")
    return str(Path("runs") / (f"{stamp}-job{job}" if job else stamp))


class Run:
    """Everything one process needs for a run; ``execute`` trains and returns the summary."""

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
        outgoing = {}
        clock = time.perf_counter
        for w in self.workers:
            w.new_round()
            t0, c0 = clock(), w.compute_s
            outgoing[w.rank], w.info = self.algorithm.compose(w.state, w.model.x, w)
            w.codec_s += clock() - t0 - (w.compute_s - c0)
            w.message_bytes_total += w.info.message_bytes / max(1, w.info.messages)
        t0 = clock()
        if self.algorithm.exchange == "all":
            inbox = self.comm.exchange_all(outgoing)
        elif self.algorithm.exchange == "edges":
            inbox = self.comm.exchange_each(outgoing)
        else:
            inbox = self.comm.exchange(outgoing)
        wire = clock() - t0
        for w in self.workers:
            w.wire_s += wire
            t0 = clock()
            self.algorithm.absorb(w.state, w.model.x, inbox[w.rank], t)
            w.codec_s += clock() - t0
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

    # -- the loop ------------------------------------------------------------------------
    # -- checkpoints -----------------------------------------------------------------------
    def _checkpoint_tree(self, w: Worker, t: int, wall: float, avg_acc: float,
                         rank_acc: list[float]) -> dict:
        return {
            "round": t, "rank": w.rank, "world": self.comm.size,
            "config_digest": self.cfg.digest(), "config": self.cfg.to_dict(),
            "topology_digest": self.topo.digest(),
            "x": w.model.x.copy(), "state": w.state,
            "buffers": {k: v.detach().cpu().numpy().copy()
                        for k, v in w.model.module.named_buffers()},
            "sampler": {"perm": w.sampler.perm, "pos": w.sampler.pos, "rng": w.sampler.rng},
            "message_bytes_total": w.message_bytes_total,
            "phase_s": [w.compute_s, w.codec_s, w.wire_s],
            "counter": self.comm.counters[w.rank],
            "wall": wall, "avg_acc": avg_acc, "rank_acc": rank_acc,
        }

    def save_checkpoint(self, t: int, wall: float, avg_acc: float, rank_acc: list[float]) -> None:
        for w in self.workers:
            checkpoint.save(checkpoint.rank_file(self.out, t, w.rank),
                            self._checkpoint_tree(w, t, wall, avg_acc, rank_acc))
        self.comm.barrier()  # every rank's file is on disk before older sets go
        if self.comm.is_root:
            checkpoint.prune(self.out, self.cfg.train.keep_checkpoints)

    def load_checkpoint(self, t: int) -> tuple[float, float, list[float]]:
        tree = {}
        for w in self.workers:
            tree = checkpoint.load(checkpoint.rank_file(self.out, t, w.rank))
            self._check_compatible(tree, t)
            w.model.x[:] = tree["x"]
            with torch.no_grad():
                for k, v in w.model.module.named_buffers():
                    v.copy_(torch.from_numpy(np.asarray(tree["buffers"][k])))
            checkpoint.restore_into(w.state, tree["state"])
            w.sampler.perm, w.sampler.pos = tree["sampler"]["perm"], tree["sampler"]["pos"]
            w.sampler.rng = tree["sampler"]["rng"]
            w.message_bytes_total = tree["message_bytes_total"]
            w.compute_s, w.codec_s, w.wire_s = tree.get("phase_s", [0.0, 0.0, 0.0])
            checkpoint.restore_into(self.comm.counters[w.rank], tree["counter"])
        return tree["wall"], tree["avg_acc"], list(tree["rank_acc"])

    def _check_compatible(self, tree: dict, t: int) -> None:
        where = checkpoint.rank_file(self.out, t, tree.get("rank", -1))
        if tree["world"] != self.comm.size:
            raise checkpoint.CheckpointError(
                f"checkpoint {where} was written by {tree['world']} ranks, this run has "
                f"{self.comm.size}: resume with mpiexec -n {tree['world']}")
        if tree["topology_digest"] != self.topo.digest():
            raise checkpoint.CheckpointError(
                f"checkpoint {where} was written for another topology or mixing matrix; "
                f"resume with the original --topology/--mixing settings")
        if tree["config_digest"] != self.cfg.digest():
            now = self.cfg.to_dict()
            diffs = [f"{sec}.{k}: checkpoint {v!r}, now {now[sec].get(k)!r}"
                     for sec, vals in tree["config"].items() for k, v in vals.items()
                     if now[sec].get(k) != v and f"{sec}.{k}" not in Config.RUN_ONLY]
            raise checkpoint.CheckpointError(
                f"checkpoint {where} belongs to a different configuration ("
                + "; ".join(diffs) + "); resume with the same settings or use a new --out")

    def _rewind_metrics(self, t: int) -> None:
        """Drop metric lines past round ``t`` (they are recomputed identically)."""
        path = self.out / "metrics.jsonl"
        if not path.exists():
            return
        keep = [line for line in path.read_text().splitlines()
                if line.strip() and json.loads(line)["round"] <= t]
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in keep))
        os.replace(tmp, path)

    def stop_requested(self, t: int) -> bool:
        """Did any rank get SIGTERM/SIGUSR1 (or reach --stop-at-round)?  Every rank agrees."""
        local = bool(STOP.requested or (self.cfg.train.stop_at_round or 0) == t)
        return self.comm.any_flag({r: local for r in self.comm.local_ranks})

    # -- the loop ------------------------------------------------------------------------
    def execute(self, resume_round: int | None = None) -> dict | None:
        cfg, comm = self.cfg, self.comm
        rounds = cfg.train.rounds
        root = comm.is_root
        avg_acc = float("nan")
        rank_acc: list[float] = []
        wall0, start = 0.0, 1
        if resume_round is not None:
            error = None
            try:
                wall0, avg_acc, rank_acc = self.load_checkpoint(resume_round)
            except checkpoint.CheckpointError as e:
                error = e
            # all ranks agree before going on, so one bad file cannot leave others waiting
            failed = self.comm.allreduce_sum({r: np.array([float(error is not None)])
                                              for r in self.comm.local_ranks})[0]
            if error is not None:
                raise error
            if failed:
                raise checkpoint.CheckpointError(
                    f"{int(failed)} rank(s) could not load the round-{resume_round} checkpoint")
            start = resume_round + 1
            if root:
                self._rewind_metrics(resume_round)
        if root:
            self.out.mkdir(parents=True, exist_ok=True)
        metrics = open(self.out / "metrics.jsonl", "a" if resume_round else "w") if root else None
        bar = None
        if root and cfg.train.progress:
            from tqdm import tqdm

            bar = tqdm(total=rounds, initial=start - 1, desc="gossip", unit="round",
                       file=sys.stderr, mininterval=0.5 if sys.stderr.isatty() else 30.0,
                       dynamic_ncols=True)
        t0 = time.perf_counter() - wall0
        avg_loss = float("nan")
        try:
            for t in range(start, rounds + 1):
                self.round(t)
                is_eval = t % cfg.train.eval_every == 0 or t == rounds
                rows = {}
                if is_eval:
                    xbar = self.network_average()
                for w in self.workers:
                    c = comm.counters[w.rank]
                    x = w.model.x
                    acc = dist = float("nan")
                    if is_eval:
                        w.model.sync()
                        acc, _ = evaluate(w.model.module, self.x_test, self.y_test)
                        dist = float(np.linalg.norm(x - xbar))
                    rows[w.rank] = np.array([
                        t, w.rank, w.loss, c.round_sent, c.round_received, c.control_sent,
                        8.0 * w.info.message_bytes / (self.d * max(1, w.info.messages)),
                        w.info.symbol_entropy_bits,
                        np.count_nonzero(x) / x.size, w.info.kept, w.info.skipped, acc, dist,
                        time.perf_counter() - t0, w.compute_s, w.codec_s, w.wire_s],
                        dtype=np.float64)
                table = comm.gather_to_root(rows)
                if is_eval:
                    self._average_buffers()  # BatchNorm statistics of the average model
                if is_eval and root:
                    self.eval_model.load_flat(xbar.astype(np.float32))
                    self.eval_model.sync()
                    avg_acc, avg_loss = evaluate(self.eval_model.module, self.x_test, self.y_test)
                    rank_acc = [float(a) for a in table[:, FIELDS.index("test_accuracy")]]
                if root:
                    self._write_rows(metrics, table)
                    if is_eval:
                        metrics.write(json.dumps({"round": t, "rank": -1,
                                                  "test_accuracy": avg_acc,
                                                  "test_loss": avg_loss}) + "\n")
                    metrics.flush()
                    if bar is not None:
                        bar.update(1)
                        if is_eval or t % 20 == 0:
                            bar.set_postfix(loss=f"{np.nanmean(table[:, 2]):.3f}",
                                            avg_acc=f"{avg_acc:.3f}",
                                            bpe=f"{np.mean(table[:, 6]):.3f}",
                                            refresh=False)
                stop = self.stop_requested(t) and t < rounds
                every = cfg.train.checkpoint_every
                if stop or (every and t % every == 0 and t < rounds):
                    if metrics is not None:
                        metrics.flush()
                        os.fsync(metrics.fileno())
                    self.save_checkpoint(t, time.perf_counter() - t0, avg_acc, rank_acc)
                if stop:
                    raise Preempted(t)
        finally:
            if bar is not None:
                bar.close()
            if metrics is not None:
                metrics.close()
        wall = time.perf_counter() - t0
        return self._finish(wall, avg_acc, rank_acc)

    def _write_rows(self, f, table: np.ndarray) -> None:
        for row in table:
            rec = {}
            for k, v in zip(FIELDS, row):
                if math.isnan(v):
                    continue
                rec[k] = int(v) if k in INT_FIELDS else float(v)
            f.write(json.dumps(rec) + "\n")

    def _finish(self, wall: float, avg_acc: float, rank_acc: list[float]) -> dict | None:
        comm = self.comm
        for w in self.workers:
            (self.out / "rank_models").mkdir(exist_ok=True)
            torch.save(cpu_state(w.model.module), self.out / "rank_models" / f"rank{w.rank:04d}.pt")
        totals = comm.gather_to_root({r: np.array([
            comm.counters[r].sent, comm.counters[r].received, comm.counters[r].control_sent,
            np.count_nonzero(w.model.x) / self.d, w.message_bytes_total])
            for r, w in zip(comm.local_ranks, self.workers)})
        if not comm.is_root:
            return None
        torch.save(cpu_state(self.eval_model.module), self.out / "model.pt")
        total_sent = int(totals[:, 0].sum())
        rounds = self.cfg.train.rounds
        peers = comm.size - 1 if self.algorithm.exchange == "all" else None
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
            "final_nonzero_fraction": float(totals[:, 3].mean()),
            "wall_seconds": wall,
        }
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary


def format_summary(s: dict) -> str:
    accs = " ".join(f"{a:.3f}" for a in s["final_rank_test_accuracy"])
    return "\n".join([
        f"done: {s['rounds']} rounds of {s['algorithm']} on {s['world_size']} ranks "
        f"({s['topology']}, {s['communicator']}) in {s['wall_seconds']:.1f} s",
        f"  test accuracy, network average : {s['final_avg_test_accuracy']:.4f}",
        f"  test accuracy, each rank       : {accs}",
        f"  bytes sent (all ranks)         : {s['total_bytes_sent']:,} " + (
            f"({s['bytes_vs_dpsgd']:.4f} of float32 D-PSGD's "
            f"{s['dpsgd_float32_bytes_same_rounds']:,})" if s["bytes_vs_dpsgd"] else "(no neighbours)"),
        f"  bits per model entry per msg   : {s['mean_bits_per_entry']:.4f}",
        f"  exact zeros in the models      : {1 - s['final_nonzero_fraction']:.2%}",
    ])


def write_config(out: Path, cfg: Config, topo: topologies.TopologyInfo, comm: Communicator,
                 d: int) -> None:
    run_info = {
        "gossip_version": __version__,
        "world_size": comm.size,
        "communicator": comm.name,
        "spectral_gap": float(topo.spectral_gap),
        "model_entries": d,
        "config_digest": cfg.digest(),
        "topology_digest": topo.digest(),
    }
    text = to_toml(cfg)
    import tomli_w

    text += "\n# Informational: recorded at start, ignored when loaded with --config.\n"
    text += tomli_w.dumps({"run": run_info})
    (out / "config.toml").write_text(text)
