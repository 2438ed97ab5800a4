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

    ``assumption=True`` marks a choice the papers do not pin down (ALGORITHMS.md tag [A]);
    ``--help`` says so.
    """
    meta = dict(help=help, flag=flag, choices=choices, lo=lo, hi=hi, lo_open=lo_open,
                hi_open=hi_open, nullable=nullable, assumption=assumption)
    return field(default=default, metadata=meta)


@dataclass
class TopologyConfig:
    name: str = opt("ring", "graph of the peers", flag="--topology",
                    choices=("ring", "torus", "complete", "star", "hypercube", "exponential",
                             "erdos-renyi", "random-regular", "file"))
    mixing: str = opt("metropolis", "mixing-matrix rule W", flag="--mixing",
                      choices=("metropolis", "max-degree", "uniform"))
    file: str | None = opt(None, "edge-list (.txt/.csv/.edges) or GraphML file, with --topology file",
                           flag="--topology-file", nullable=True)
    edge_prob: float = opt(0.5, "edge probability of erdos-renyi", flag="--edge-prob",
                           lo=0.0, hi=1.0, lo_open=True)
    degree: int = opt(3, "degree of random-regular", flag="--degree", lo=1)
    rows: int | None = opt(None, "rows of the torus (default: most square)", flag="--torus-rows",
                           lo=1, nullable=True)


@dataclass
class DataConfig:
    dataset: str = opt("digits", "data set (digits: scikit-learn's bundled 8x8 digits, offline)",
                       flag="--dataset", choices=("digits",))
    partition: str = opt("iid", "how training data is split across ranks", flag="--partition",
                         choices=("iid", "dirichlet"))
    alpha: float = opt(0.5, "Dirichlet concentration for --partition dirichlet (small = more skewed)",
                       flag="--dirichlet-alpha", lo=0.0, lo_open=True)
    batch_size: int = opt(32, "minibatch size per rank", flag="--batch-size", lo=1)
    test_fraction: float = opt(0.2, "fraction of the data set held out for testing",
                               flag="--test-fraction", lo=0.0, hi=1.0, lo_open=True, hi_open=True)


@dataclass
class ModelConfig:
    name: str = opt("mlp", "model: logreg (linear) or mlp (one hidden ReLU layer)", flag="--model",
                    choices=("logreg", "mlp"))
    hidden: int = opt(64, "hidden width of the mlp", flag="--hidden", lo=1)


@dataclass
class AlgorithmConfig:
    name: str = opt("malcom", "training algorithm", flag="--algorithm", choices=("malcom",))
    lr: float = opt(0.1, "learning rate eta (constant)", flag="--lr", lo=0.0, lo_open=True)
    gamma: float = opt(0.05, "consensus step gamma (0.05-0.1 with the default l2+tau quantizer; measured: 0.2 degrades, 0.3 diverges at 4 levels; with --norm inf up to 0.6 converged)", flag="--gamma", lo=0.0, hi=1.0, lo_open=True)
    l1: float = opt(1e-3, "l1 weight mu; the prox soft-thresholds at lr*l1 (0 disables)",
                    flag="--l1", lo=0.0)
    levels: int = opt(4, "quantizer levels s: symbols in {-s..s}", flag="--levels", lo=1, hi=2**30)
    norm: str = opt("l2", "quantizer scale per tensor: inf = max |v|, l2 = ||v||_2",
                    flag="--norm", choices=("inf", "l2"), assumption=True)
    tau_scaling: bool = opt(True, "divide the decoded residual by tau = 1 + min(d/s^2, sqrt(d)/s) "
                            "(CHOCO's biased QSGD; --norm l2 diverges without it, ALGORITHMS.md §1.2)",
                            flag="--tau-scaling", assumption=True)
    subtractive_dither: bool = opt(False, "EXTENSION beyond the paper: receivers regenerate the "
                                   "sender's dither from (seed, sender, round) and subtract it; "
                                   "no extra bits, error uniform and signal-independent",
                                   flag="--subtractive-dither")


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

    def digest(self, exclude: tuple[str, ...] = ("train.out", "train.progress")) -> str:
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


def load(path: str | None = None, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Defaults, then the TOML file at ``path``, then ``overrides`` ({section: {key: value}}).

    Raises ConfigError for anything wrong; then runs cross-field checks.
    """
    cfg = Config()
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config error: --config {path}: no such file")
        try:
            data = tomllib.loads(p.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"config error: --config {path} is not valid TOML: {e}") from None
        for section, values in data.items():
            if section == "run":  # informational block written into runs/*/config.toml
                continue
            _apply(cfg, section, values, path)
    for section, values in (overrides or {}).items():
        _apply(cfg, section, values, "the command line")
    check(cfg)
    return cfg


def check(cfg: Config) -> None:
    """Cross-field checks (single fields were checked on assignment)."""
    for section, cls in SECTIONS.items():
        obj = getattr(cfg, section)
        for f in fields(cls):
            coerce(section, f, getattr(obj, f.name))
    if cfg.topology.name == "file" and not cfg.topology.file:
        raise ConfigError("config error: topology.name = 'file' needs topology.file "
                          "(--topology-file PATH to an edge list or GraphML file)")
    if cfg.topology.file and cfg.topology.name != "file":
        raise ConfigError(f"config error: topology.file = {cfg.topology.file!r} is only used with "
                          f"--topology file (topology.name is {cfg.topology.name!r})")


def to_toml(cfg: Config) -> str:
    import tomli_w

    d = cfg.to_dict()
    # TOML has no null: leave unset optional values out (they load back as their default None).
    clean = {s: {k: v for k, v in vals.items() if v is not None} for s, vals in d.items()}
    return tomli_w.dumps(clean)
