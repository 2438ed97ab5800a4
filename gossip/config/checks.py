"""Cross-field checks, run once every field was checked on its own."""

from __future__ import annotations

from dataclasses import fields

from .. import data, models
from ..algorithms import GRAPH_ALGORITHMS
from .fields import ConfigError, coerce
from .mode import check_mode
from .sections import ALGORITHM_DEFAULTS, SECTIONS, Config


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
        from ..channel import check_pair

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
    if a.topk_scope is not None and "topk_scope" not in ALGORITHM_DEFAULTS[a.name]:
        users = [n for n, d in ALGORITHM_DEFAULTS.items() if "topk_scope" in d]
        raise ConfigError(f"config error: algorithm.topk_scope = {a.topk_scope!r} does not apply "
                          f"to {a.name} (only {' and '.join(users)} use it); leave --topk-scope "
                          f"unset")
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
    if a.residual_order != "half" and cfg.topology.time_varying != "static":
        raise ConfigError(f"config error: algorithm.residual_order = {a.residual_order!r} is "
                          f"implemented on static graphs only (topology.time_varying = "
                          f"{cfg.topology.time_varying!r}); use --residual-order half")
    tr = cfg.train
    if tr.lr_schedule == "cosine" and tr.lr_min >= cfg.algorithm.lr:
        raise ConfigError(f"config error: train.lr_min = {tr.lr_min!r} must be below "
                          f"algorithm.lr = {cfg.algorithm.lr!r} for --lr-schedule cosine "
                          f"(lower --lr-min)")
    if tr.lr_schedule == "cosine" and tr.lr_warmup >= tr.rounds:
        raise ConfigError(f"config error: train.lr_warmup = {tr.lr_warmup} must be below "
                          f"train.rounds = {tr.rounds} for --lr-schedule cosine (lower "
                          f"--lr-warmup)")
    check_mode(cfg)
    if tr.kernels == "compiled":
        from ..kernels import available, unavailable_reason

        if not available():
            raise ConfigError(f"config error: train.kernels = 'compiled' needs numba, which does "
                              f"not import here ({unavailable_reason()}); pip install numba, or "
                              f"use --kernels auto (numpy when numba is missing) or numpy")
    if cfg.topology.file and cfg.topology.name != "file":
        raise ConfigError(f"config error: topology.file = {cfg.topology.file!r} is only used with "
                          f"--topology file (topology.name is {cfg.topology.name!r})")
