"""Cross-field checks of the run mode (sync or async) and the straggler experiment option."""

from __future__ import annotations

import math

from ..algorithms import GRAPH_ALGORITHMS
from .fields import ConfigError


def parse_slowdown(text: str) -> tuple[int, float]:
    """``RANK:FACTOR`` as (rank, factor >= 1); ConfigError otherwise."""
    try:
        rank, factor = text.split(":")
        r, f = int(rank), float(factor)
        if r < 0 or not (math.isfinite(f) and f >= 1):
            raise ValueError
    except ValueError:
        raise ConfigError(f"config error: train.slowdown = {text!r}: expected RANK:FACTOR with "
                          f"RANK >= 0 and FACTOR >= 1 (e.g. --slowdown 2:4)") from None
    return r, f


def check_mode(cfg) -> None:
    """The asynchronous mode's combinations."""
    tr, name = cfg.train, cfg.algorithm.name
    if tr.slowdown is not None:
        parse_slowdown(tr.slowdown)
    if tr.mode == "sync":
        if tr.time_budget is not None:
            raise ConfigError("config error: train.time_budget applies to --mode async (a sync "
                              "run ends after --rounds); add --mode async or drop --time-budget")
        return
    if name not in GRAPH_ALGORITHMS:
        raise ConfigError(f"config error: train.mode = 'async' with algorithm.name = {name!r}: "
                          f"async runs the graph algorithms ({', '.join(GRAPH_ALGORITHMS)}); "
                          f"{name} exchanges with every rank each round; use --mode sync")
    if cfg.topology.time_varying != "static":
        raise ConfigError(f"config error: train.mode = 'async' with topology.time_varying = "
                          f"{cfg.topology.time_varying!r}: async keeps its own per-edge copies on "
                          f"the static graph; use --time-varying static")
    if tr.max_staleness == 0:
        raise ConfigError("config error: train.max_staleness = 0 with train.mode = 'async' means "
                          "waiting for every neighbour each step, which is --mode sync; use "
                          "--mode sync or --max-staleness 1 or more")
