"""The configuration's sections, each field declared once with ``opt()``; choices come from
the registries, so a name is written once, where its factory is."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import topologies

from .. import codecs, compressors, data, models, schedules
from ..algorithms import REGISTRY as ALGORITHMS
from .fields import opt


@dataclass
class TopologyConfig:
    name: str = opt("ring", "graph of the peers", flag="--topology",
                    choices=tuple(topologies.BUILDERS) + ("file",) * ("file" not in topologies.BUILDERS))
    mixing: str = opt("metropolis", "mixing-matrix rule W: metropolis, max-degree, uniform, "
                      "weights (the topology file's edge weights, validated) or file (W read "
                      "from --mixing-file)", flag="--mixing", choices=tuple(topologies.MIXING_RULES))
    mixing_file: str | None = opt(None, "W as a .npy (no pickle) or .csv/.txt matrix, with "
                                  "--mixing file (e.g. from an FDLA solver); checked symmetric, "
                                  "non-negative, rows and columns summing to 1, connected",
                                  flag="--mixing-file", nullable=True)
    file: str | None = opt(None, "edge-list (.txt/.csv/.edges: lines 'u v' or 'u v w') or GraphML "
                           "(edge attribute weight) file, with --topology file",
                           flag="--topology-file", nullable=True)
    edge_prob: float = opt(0.5, "edge probability of erdos-renyi", flag="--edge-prob",
                           lo=0.0, hi=1.0, lo_open=True)
    degree: int = opt(3, "degree of random-regular", flag="--degree", lo=1)
    rows: int | None = opt(None, "rows of the torus (default: most square)", flag="--torus-rows",
                           lo=1, nullable=True)
    time_varying: str = opt("static", "changing graphs W(t): static, matching (a random maximal "
                            "matching of the graph each round) or drop (each edge active with "
                            "probability 1 - --drop-prob); W(t) is Metropolis-Hastings on the "
                            "active edges and malcom/choco keep one public copy per edge",
                            flag="--time-varying", choices=("static", "matching", "drop"),
                            assumption=True)
    drop_prob: float = opt(0.5, "probability that an edge is inactive in a round (--time-varying "
                           "drop)", flag="--drop-prob", lo=0.0, hi=1.0, hi_open=True)


@dataclass
class DataConfig:
    dataset: str = opt("digits", "data set: digits (scikit-learn's bundled 8x8 digits, offline), "
                       "or mnist, fashion-mnist, cifar10 read from --data-dir (never downloaded; "
                       "CIFAR-10 in its binary version)", flag="--dataset",
                       choices=data.REGISTRY.names())
    data_dir: str | None = opt(None, "directory holding the mnist/fashion-mnist/cifar10 files",
                               flag="--data-dir", nullable=True)
    limit: int | None = opt(None, "use only the first N training and N test samples (quick runs)",
                            flag="--limit", lo=1, nullable=True)
    partition: str = opt("iid", "how training data is split across ranks: iid, dirichlet (label "
                         "skew, --dirichlet-alpha) or shards (each rank gets --shards-per-rank "
                         "label-sorted shards)", flag="--partition",
                         choices=data.PARTITIONS)
    shards_per_rank: int = opt(2, "shards per rank with --partition shards",
                               flag="--shards-per-rank", lo=1)
    alpha: float = opt(0.5, "Dirichlet concentration for --partition dirichlet (small = more skewed)",
                       flag="--dirichlet-alpha", lo=0.0, lo_open=True)
    batch_size: int = opt(32, "minibatch size per rank", flag="--batch-size", lo=1)
    test_fraction: float = opt(0.2, "fraction of the data set held out for testing",
                               flag="--test-fraction", lo=0.0, hi=1.0, lo_open=True, hi_open=True)


@dataclass
class ModelConfig:
    name: str = opt("mlp", "model: logreg (linear), mlp (one hidden ReLU layer), cnn (small "
                    "convolutional net, image data), resnet18 (CIFAR-style; BatchNorm statistics "
                    "stay local to each rank)", flag="--model",
                    choices=models.REGISTRY.names())
    hidden: int = opt(64, "hidden width of the mlp", flag="--hidden", lo=1)
    l2: float = opt(0.0, "l2 regularisation lambda: the training loss adds lambda/2*||x||^2 "
                    "(with logreg the objective is then strongly convex)", flag="--l2", lo=0.0)


# Settings that depend on the algorithm: a None in AlgorithmConfig resolves to these (each
# algorithm's registry entry holds its own, next to its builder).
ALGORITHM_DEFAULTS: dict[str, dict[str, Any]] = {n: ALGORITHMS[n].meta["defaults"]
                                                 for n in ALGORITHMS}


@dataclass
class AlgorithmConfig:
    name: str = opt("malcom", "training algorithm: malcom (Malcom-PSGD), choco (CHOCO-SGD), dpsgd "
                    "(uncompressed D-PSGD), and over an allgather of every rank (serverless "
                    "versions of server methods): adaptive-topk, gdsec (full local gradients), "
                    "sasg, topk-ef (top-k with error feedback, --ratio)", flag="--algorithm",
                    choices=ALGORITHMS.names())
    lr: float = opt(0.1, "learning rate eta (the first rate of --lr-schedule); allgather methods average the ranks' "
                    "messages, so a paper that sums over M workers with rate a is --lr M*a",
                    flag="--lr", lo=0.0, lo_open=True)
    gamma: float | None = opt(None, "consensus step gamma of malcom/choco (malcom 0.05: with the "
                              "l2+tau quantizer 0.1 converged, 0.2 degraded, 0.3 diverged; "
                              "choco 0.1 for QSGD-16: 0.34 diverged at d = 150,010; 0.04 for top-1 percent)", flag="--gamma",
                              lo=0.0, hi=1.0, lo_open=True, nullable=True)
    l1: float | None = opt(None, "l1 weight mu; the prox soft-thresholds at lr*l1 (malcom 1e-3; "
                           "0 elsewhere; only malcom/choco apply it)", flag="--l1", lo=0.0,
                           nullable=True)
    compressor: str | None = opt(None, "compressor of malcom/choco: dithered (malcom), qsgd "
                                 "(choco), topk, randk, sign, identity", flag="--compressor",
                                 choices=compressors.REGISTRY.names(),
                                 nullable=True)
    codec: str | None = opt(None, "codec: vsc (vector source coding), packed (fixed-width "
                            "symbols), sparse (indices + float32), raw (float32); must fit the "
                            "compressor", flag="--codec", choices=codecs.REGISTRY.names(),
                            nullable=True)
    levels: int | None = opt(None, "quantizer levels s: symbols in {-s..s} (malcom 4, choco 16)",
                             flag="--levels", lo=1, hi=2**30, nullable=True)
    norm: str | None = opt(None, "quantizer scale per tensor: inf = max |v|, l2 = ||v||_2 "
                           "(malcom default l2)", flag="--norm", choices=("inf", "l2"),
                           nullable=True, assumption=True)
    tau_scaling: bool | None = opt(None, "divide the decoded residual by tau = 1 + min(d/s^2, "
                                   "sqrt(d)/s) (CHOCO's biased QSGD; --norm l2 diverges without "
                                   "it, docs/algorithms.md; malcom default on)",
                                   flag="--tau-scaling", nullable=True, assumption=True)
    subtractive_dither: bool = opt(False, "EXTENSION beyond the paper: receivers regenerate the "
                                   "sender's dither from (seed, sender, round) and subtract it; "
                                   "no extra bits, error uniform and signal-independent",
                                   flag="--subtractive-dither")
    ratio: float = opt(0.01, "fraction of each tensor kept by topk/randk, sasg and topk-ef",
                       flag="--ratio", lo=0.0, hi=1.0, lo_open=True)
    unbiased: bool = opt(False, "randk: scale kept entries by numel/k", flag="--unbiased")
    error_feedback: bool = opt(True, "adaptive-topk: error compensation (memory e)",
                               flag="--error-feedback")
    budget_ratio: float = opt(0.01, "adaptive-topk: average fraction of d sent per step (the bit "
                              "budget, 32+ceil(log2 d) bits per entry)", flag="--budget-ratio",
                              lo=0.0, hi=1.0, lo_open=True, assumption=True)
    rho: float = opt(1.0, "adaptive-topk: time weighting rho of the budget (1 = off)",
                     flag="--rho", lo=0.0, hi=1.0, lo_open=True, assumption=True)
    norm_window: int = opt(50, "adaptive-topk: gradient norms averaged for K_t", flag="--norm-window",
                           lo=1)
    topk_scope: str | None = opt(None, "adaptive-topk/topk-ef: where top-k selects; model = the "
                                 "K largest of the whole vector, tensor = per tensor (adaptive-"
                                 "topk splits K_t over the tensors by size, largest remainder; "
                                 "topk-ef keeps --ratio of each); default adaptive-topk model, "
                                 "topk-ef tensor", flag="--topk-scope", choices=("model", "tensor"),
                                 nullable=True, assumption=True)
    beta: float = opt(1.0, "gdsec: weight beta of the previously transmitted gradient",
                      flag="--beta", lo=0.0, hi=1.0, assumption=True)
    xi: float = opt(0.2, "gdsec: threshold factor xi (tau_i = xi/(alpha M)|dtheta_i|); sasg: "
                    "xi of the paper-form skip rule", flag="--xi", lo=0.0, assumption=True)
    gdsec_variant: str = opt("difference", "gdsec: difference (g_hat <- beta g_hat + sum) or shift "
                             "(DIANA-like)", flag="--gdsec-variant", choices=("difference", "shift"),
                             assumption=True)
    residual_order: str = opt("half", "malcom/choco: what the public copy tracks; half = the "
                              "half step x - lr g (the residual is taken before the prox and "
                              "consensus: ICLR 2020 CHOCO order), prox = the prox'ed model after "
                              "consensus on the previous copies (ICML 2019 CHOCO order: "
                              "coordinates that stay exactly zero send exactly zero); static "
                              "graphs only", flag="--residual-order", choices=("half", "prox"),
                              assumption=True)
    dpsgd_form: str = opt("atc", "dpsgd: atc = adapt-then-combine, x_i <- sum_j w_ij (x_j - "
                          "lr g_j), each rank sends x - lr g (CHOCO-SGD's baseline, the "
                          "uncompressed limit of malcom/choco); cta = combine-then-adapt, x_i <- "
                          "sum_j w_ij x_j - lr g_i (Lian et al.'s form, weaker)",
                          flag="--dpsgd-form", choices=("atc", "cta"), assumption=True)
    sasg_window: int = opt(10, "sasg: window D (and maximum staleness)", flag="--sasg-window", lo=1)
    sasg_rule: str = opt("paper", "sasg: skip threshold, paper (xi_d = xi/D) or code_compat (the "
                         "MNIST notebook's sum/(2 alpha M^2) with alpha = lr/M, i.e. "
                         "sum/(2 lr M) here)", flag="--sasg-rule",
                         choices=("paper", "code_compat"), assumption=True)


@dataclass
class TrainConfig:
    rounds: int = opt(1000, "gossip rounds (each: one local step and one exchange)", flag="--rounds",
                      lo=1)
    lr_schedule: str = opt("constant", "learning-rate schedule eta_t (round t = 1..--rounds; "
                           "every algorithm, the l1 prox threshold eta_t*l1 included): " +
                           "; ".join(f"{n}: {schedules.REGISTRY[n].help}"
                                     for n in schedules.REGISTRY),
                           flag="--lr-schedule", choices=schedules.REGISTRY.names(),
                           assumption=True)
    lr_a: float | None = opt(None, "inverse-time: numerator a of a/(t + b) (default --lr*(1 + "
                             "--lr-b), so the first rate is --lr)", flag="--lr-a", lo=0.0,
                             lo_open=True, nullable=True)
    lr_b: float = opt(100.0, "inverse-time: offset b of a/(t + b) (the rate halves after about "
                      "b rounds)", flag="--lr-b", lo=0.0, lo_open=True)
    lr_step_every: int = opt(500, "step: multiply the rate by --lr-step-factor every N rounds",
                             flag="--lr-step-every", lo=1)
    lr_step_factor: float = opt(0.1, "step: the factor applied every --lr-step-every rounds",
                                flag="--lr-step-factor", lo=0.0, hi=1.0, lo_open=True)
    lr_min: float = opt(0.0, "cosine: the rate reached at the last round", flag="--lr-min",
                        lo=0.0)
    lr_warmup: int = opt(0, "linear warm-up: eta_t * t/N over the first N rounds (0 = none; "
                         "large batches or a large --lr), on top of any schedule",
                         flag="--lr-warmup", lo=0)
    eval_every: int = opt(50, "evaluate test accuracy and consensus distance every k rounds",
                          flag="--eval-every", lo=1)
    seed: int = opt(0, "run seed: model init, data split, sampling and dither all derive from it",
                    flag="--seed", lo=0, hi=2**63 - 1)
    out: str | None = opt(None, "output directory (default runs/<timestamp>)", flag="--out",
                          nullable=True)
    comm: str = opt("auto", "communicator: mpi, inprocess (all ranks in this process), or auto "
                    "(mpi when launched with more than one rank)", flag="--comm",
                    choices=("auto", "mpi", "inprocess"))
    ranks: int = opt(4, "number of simulated ranks with --comm inprocess (ignored under MPI)",
                     flag="--ranks", lo=1, hi=4096)
    progress: bool = opt(True, "progress bar on rank 0", flag="--progress")
    device: str = opt("auto", "where each rank computes: cpu, cuda (local rank i uses GPU i mod "
                      "count), or auto (cuda when available); models, messages and codecs are "
                      "identical either way, the algorithms work on a host copy",
                      flag="--device", choices=("auto", "cpu", "cuda"))
    kernels: str = opt("auto", "VSC codec and CHOCO/Malcom copy-update implementation: compiled = numba JIT (compiled once, then "
                       "loaded from numba's cache; warm it with python -m gossip.kernels), numpy = "
                       "the reference, auto = compiled when numba is installed; messages and "
                       "models are byte-identical either way", flag="--kernels",
                       choices=("auto", "numpy", "compiled"))
    exchange_timeout: float = opt(20.0, "seconds to wait for a peer in any exchange before "
                                  "stopping every rank with a message naming it (MPI only)",
                                  flag="--exchange-timeout", lo=0.0, lo_open=True)
    mpi_wait: str = opt("yield", "how a rank waits for messages (MPI only): yield = poll and give "
                        "the core to other processes between polls (default: right when ranks "
                        "share cores, and as fast as MPI's own wait otherwise), block = spin on "
                        "Testall, then MPI's Waitsome (busy: for one rank per dedicated "
                        "core; warned when a node has more ranks than cores), sleep = "
                        "poll with naps of 20 us to 1 ms (least CPU while waiting; adds up to "
                        "1 ms per wait)", flag="--mpi-wait", choices=("yield", "block", "sleep"))
    checkpoint_every: int = opt(100, "write a checkpoint set (every rank) every N rounds and after "
                                "the last; 0 = only the last and when stopped by SIGTERM/SIGUSR1 "
                                "(sync only: an async run checkpoints when it is stopped)",
                                flag="--checkpoint-every", lo=0)
    keep_checkpoints: int = opt(2, "checkpoint sets kept on disk (older ones are deleted)",
                                flag="--keep-checkpoints", lo=1)
    resume: bool = opt(False, "continue from the newest checkpoint set in --out that verifies "
                       "(start fresh when there is none: safe for requeued batch jobs); "
                       "--rounds may be raised", flag="--resume")
    stop_at_round: int | None = opt(None, "behave as if signalled after this round (async: "
                                    "after each rank's own step N): checkpoint and exit with "
                                    "code 75 (testing preemption)",
                                    flag="--stop-at-round", lo=1, nullable=True)
    mode: str = opt("sync", "sync (every round a barrier) or async (malcom/choco/dpsgd: each "
                    "rank steps at its own pace on per-edge public copies, bounded by "
                    "--max-staleness; docs/algorithms.md)", flag="--mode", choices=("sync", "async"))
    max_staleness: int = opt(2, "async: a rank's step may use a neighbour's copy at most this "
                             "many of its own steps old; it waits otherwise (0 would be sync; "
                             "default chosen by measurement, docs/algorithms.md 7b)",
                             flag="--max-staleness", lo=0, assumption=True)
    time_budget: float | None = opt(None, "async: each rank stops after this many seconds (the "
                                    "simulated clock in-process) or --rounds steps, then flushes",
                                    flag="--time-budget", lo=0.0, lo_open=True, nullable=True)
    slowdown: str | None = opt(None, "experiment: RANK:FACTOR makes one rank's local step FACTOR "
                               "times slower (it sleeps FACTOR-1 times the CPU time of the step's "
                               "compute; "
                               "in-process async: its simulated step lasts FACTOR times longer)",
                               flag="--slowdown", nullable=True)
    sim_delay: float = opt(0.2, "in-process async: mean message delay of the simulated network, "
                           "in step durations (exponential, first in first out per edge)",
                           flag="--sim-delay", lo=0.0, assumption=True)


SECTIONS: dict[str, type] = {
    "topology": TopologyConfig,
    "data": DataConfig,
    "model": ModelConfig,
    "algorithm": AlgorithmConfig,
    "train": TrainConfig,
}


@dataclass
class Config:
    topology: TopologyConfig = field(default_factory=TopologyConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    # Settings that do not change the numbers a run computes (a checkpoint may be resumed with
    # other values; MPI and in-process runs are bit-identical, so the communicator is one too).
    RUN_ONLY = ("train.out", "train.progress", "train.resume", "train.checkpoint_every",
                "train.keep_checkpoints", "train.stop_at_round", "train.comm", "train.ranks",
                "train.exchange_timeout", "train.mpi_wait", "train.slowdown", "train.kernels",
                "train.eval_every")

    # Settings a resumed run may also change unless the trajectory depends on them
    # (gossip.run.resume.rounds_dependence).
    EXTENDABLE = ("train.rounds",)

    def digest(self, exclude: tuple[str, ...] = RUN_ONLY) -> str:
        """sha256 of the settings that determine the run's numbers."""
        d = self.to_dict()
        for key in exclude:
            sec, name = key.split(".")
            d[sec].pop(name, None)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()
