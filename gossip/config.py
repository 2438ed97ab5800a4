"""Typed run configuration: dataclasses, TOML loading, command-line overrides, validation.

One source of truth: every option is a dataclass field whose metadata carries its help text,
its command-line flag and its accepted values.  The CLI's ``--help``, the TOML loader and the
validator are all generated from those fields, so they cannot drift apart.

Precedence: built-in defaults < ``--config FILE`` (TOML) < command-line flags.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import topologies

from . import codecs, compressors, data, models
from .algorithms import GRAPH_ALGORITHMS
from .algorithms import REGISTRY as ALGORITHMS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range."""


def opt(default: Any, help: str, *, flag: str | None = None, choices: tuple | None = None,
        lo: float | None = None, hi: float | None = None, lo_open: bool = False,
        hi_open: bool = False, nullable: bool = False, assumption: bool = False) -> Any:
    """A config field with its documentation and constraints.

    ``assumption=True`` marks a choice the papers do not pin down (tag [A] in
    docs/algorithms.md); ``--help`` says so.
    """
    meta = dict(help=help, flag=flag, choices=choices, lo=lo, hi=hi, lo_open=lo_open,
                hi_open=hi_open, nullable=nullable, assumption=assumption)
    return field(default=default, metadata=meta)


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
    lr: float = opt(0.1, "learning rate eta (constant); allgather methods average the ranks' "
                    "messages, so a paper that sums over M workers with rate a is --lr M*a",
                    flag="--lr", lo=0.0, lo_open=True)
    gamma: float | None = opt(None, "consensus step gamma of malcom/choco (malcom 0.05: with the "
                              "l2+tau quantizer 0.1 converged, 0.2 degraded, 0.3 diverged; "
                              "choco 0.34 for QSGD-16, 0.04 for top-1 percent)", flag="--gamma",
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
    beta: float = opt(1.0, "gdsec: weight beta of the previously transmitted gradient",
                      flag="--beta", lo=0.0, hi=1.0, assumption=True)
    xi: float = opt(0.2, "gdsec: threshold factor xi (tau_i = xi/(alpha M)|dtheta_i|); sasg: "
                    "xi of the paper-form skip rule", flag="--xi", lo=0.0, assumption=True)
    gdsec_variant: str = opt("difference", "gdsec: difference (g_hat <- beta g_hat + sum) or shift "
                             "(DIANA-like)", flag="--gdsec-variant", choices=("difference", "shift"),
                             assumption=True)
    sasg_window: int = opt(10, "sasg: window D (and maximum staleness)", flag="--sasg-window", lo=1)
    sasg_rule: str = opt("paper", "sasg: skip threshold, paper (xi_d = xi/D) or code_compat (the "
                         "MNIST notebook's 1/(2 alpha M^2))", flag="--sasg-rule",
                         choices=("paper", "code_compat"), assumption=True)


@dataclass
class TrainConfig:
    rounds: int = opt(1000, "gossip rounds (each: one local step and one exchange)", flag="--rounds",
                      lo=1)
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
    exchange_timeout: float = opt(20.0, "seconds to wait for a peer in any exchange before "
                                  "stopping every rank with a message naming it (MPI only)",
                                  flag="--exchange-timeout", lo=0.0, lo_open=True)
    checkpoint_every: int = opt(100, "write a checkpoint set (every rank) every N rounds; 0 = only "
                                "when stopped by SIGTERM/SIGUSR1 (sync only: an async run "
                                "checkpoints when it is stopped)", flag="--checkpoint-every", lo=0)
    keep_checkpoints: int = opt(2, "checkpoint sets kept on disk (older ones are deleted)",
                                flag="--keep-checkpoints", lo=1)
    resume: bool = opt(False, "continue from the newest complete checkpoint set in --out (start "
                       "fresh when there is none: safe for requeued batch jobs)", flag="--resume")
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
                "train.exchange_timeout", "train.slowdown",
                "train.eval_every")

    def digest(self, exclude: tuple[str, ...] = RUN_ONLY) -> str:
        """sha256 of the settings that determine the run's numbers."""
        d = self.to_dict()
        for key in exclude:
            sec, name = key.split(".")
            d[sec].pop(name, None)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


def _type_name(tp: Any) -> str:
    return {"int": "an integer", "float": "a number", "str": "a string",
            "bool": "true or false"}.get(tp, str(tp))


def _base_type(f: dataclasses.Field) -> str:
    t = f.type if isinstance(f.type, str) else f.type.__name__
    return t.replace(" | None", "").strip()


def coerce(section: str, f: dataclasses.Field, value: Any) -> Any:
    """Check one value against its field; return it in the field's type or raise ConfigError."""
    m = f.metadata
    where = f"{section}.{f.name} = {value!r}"
    fix = f"; set [{section}] {f.name} in the TOML file" + (f" or {m['flag']}" if m.get("flag") else "")
    if value is None:
        if m.get("nullable"):
            return None
        raise ConfigError(f"config error: {section}.{f.name} must be set{fix}")
    tp = _base_type(f)
    if tp == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"config error: {where}: expected true or false{fix}")
    elif tp == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ConfigError(f"config error: {where}: expected an integer{fix}")
    elif tp == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config error: {where}: expected a number{fix}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"config error: {where}: expected a finite number{fix}")
    elif tp == "str":
        if not isinstance(value, str):
            raise ConfigError(f"config error: {where}: expected a string{fix}")
    choices = m.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"config error: {where}: must be one of {', '.join(map(str, choices))}{fix}")
    lo, hi = m.get("lo"), m.get("hi")
    if lo is not None and (value < lo or (m.get("lo_open") and value == lo)):
        rel = ">" if m.get("lo_open") else ">="
        raise ConfigError(f"config error: {where}: must be {rel} {lo}{fix}")
    if hi is not None and (value > hi or (m.get("hi_open") and value == hi)):
        rel = "<" if m.get("hi_open") else "<="
        raise ConfigError(f"config error: {where}: must be {rel} {hi}{fix}")
    return value


def _apply(cfg: Config, section: str, values: dict, source: str) -> None:
    if section not in SECTIONS:
        raise ConfigError(f"config error: unknown section [{section}] in {source}; "
                          f"accepted sections: {', '.join(SECTIONS)}")
    if not isinstance(values, dict):
        raise ConfigError(f"config error: [{section}] in {source} must be a table of settings")
    obj = getattr(cfg, section)
    known = {f.name: f for f in fields(obj)}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"config error: unknown key {section}.{key} in {source}; "
                              f"accepted keys in [{section}]: {', '.join(known)}")
        setattr(obj, key, coerce(section, known[key], value))


def read_toml(path: str, what: str, error: type[Exception] = ConfigError) -> dict:
    """A TOML file as a dict; a missing or malformed file is ``error`` naming ``what``."""
    p = Path(path)
    if not p.is_file():
        raise error(f"{what}: no such file")
    try:
        return tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise error(f"{what} is not valid TOML: {e}") from None


def load(path: str | None = None, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Defaults, then the TOML file at ``path``, then ``overrides`` ({section: {key: value}}).

    Raises ConfigError for anything wrong; then runs cross-field checks.
    """
    cfg = Config()
    if path is not None:
        data = read_toml(path, f"config error: --config {path}")
        for section, values in data.items():
            if section == "run":  # informational block written into runs/*/config.toml
                continue
            _apply(cfg, section, values, path)
    for section, values in (overrides or {}).items():
        _apply(cfg, section, values, "the command line")
    check(cfg)
    return cfg


def resolve(cfg: Config) -> None:
    """Fill the algorithm-dependent settings left unset (None) from ALGORITHM_DEFAULTS."""
    a = cfg.algorithm
    for key, value in ALGORITHM_DEFAULTS[a.name].items():
        if getattr(a, key) is None:
            setattr(a, key, value)


def check(cfg: Config) -> None:
    """Cross-field checks (single fields were checked on assignment)."""
    resolve(cfg)
    a = cfg.algorithm
    if a.name in ("malcom", "choco"):
        from .channel import check_pair

        try:
            check_pair(a.compressor, a.codec)
        except ValueError as e:
            raise ConfigError(f"config error: algorithm.compressor = {a.compressor!r} with "
                              f"algorithm.codec = {a.codec!r}: {e} (--compressor/--codec)") from None
    else:
        fixed = ALGORITHM_DEFAULTS[a.name]
        for key in ("gamma", "l1", "levels", "norm", "tau_scaling"):
            if getattr(a, key) != fixed[key]:
                raise ConfigError(f"config error: algorithm.{key} = {getattr(a, key)!r} does not "
                                  f"apply to {a.name} (only malcom and choco use it); leave "
                                  f"--{key.replace('_', '-')} unset")
        for key in ("compressor", "codec"):
            if getattr(a, key) != fixed[key]:
                raise ConfigError(f"config error: algorithm.{key} = {getattr(a, key)!r} does not "
                                  f"apply to {a.name} (it always uses {fixed[key]!r}); leave "
                                  f"--{key} unset")
    for section, cls in SECTIONS.items():
        obj = getattr(cfg, section)
        for f in fields(cls):
            coerce(section, f, getattr(obj, f.name))
    if cfg.topology.name == "file" and not cfg.topology.file:
        raise ConfigError("config error: topology.name = 'file' needs topology.file "
                          "(--topology-file PATH to an edge list or GraphML file)")
    if data.REGISTRY[cfg.data.dataset].meta["on_disk"] and not cfg.data.data_dir:
        raise ConfigError(f"config error: data.dataset = {cfg.data.dataset!r} is read from disk: "
                          f"set --data-dir DIR (no download happens)")
    if models.REGISTRY[cfg.model.name].meta["image"] and not data.REGISTRY[cfg.data.dataset].meta["on_disk"]:
        raise ConfigError(f"config error: model.name = {cfg.model.name!r} needs image data "
                          f"(--dataset mnist, fashion-mnist or cifar10); use mlp or logreg on digits")
    if cfg.topology.time_varying != "static" and a.name not in GRAPH_ALGORITHMS:
        raise ConfigError(f"config error: topology.time_varying = {cfg.topology.time_varying!r} "
                          f"applies to the graph algorithms ({', '.join(GRAPH_ALGORITHMS)}), not "
                          f"to {a.name}, which exchanges with every rank")
    t = cfg.topology
    if (t.mixing == "file") != bool(t.mixing_file):
        raise ConfigError("config error: topology.mixing = 'file' and topology.mixing_file go "
                          "together: give --mixing file --mixing-file PATH, or neither")
    if t.time_varying != "static" and t.mixing in ("weights", "file"):
        raise ConfigError(f"config error: topology.time_varying = {t.time_varying!r} builds "
                          f"W(t) by Metropolis-Hastings on the active edges and would ignore "
                          f"--mixing {t.mixing}; use --time-varying static with your own W")
    from .config_mode import check_mode

    check_mode(cfg)
    if cfg.topology.file and cfg.topology.name != "file":
        raise ConfigError(f"config error: topology.file = {cfg.topology.file!r} is only used with "
                          f"--topology file (topology.name is {cfg.topology.name!r})")


def to_toml(cfg: Config) -> str:
    import tomli_w

    d = cfg.to_dict()
    # TOML has no null: leave unset optional values out (they load back as their default None).
    clean = {s: {k: v for k, v in vals.items() if v is not None} for s, vals in d.items()}
    return tomli_w.dumps(clean)
