"""Algorithms: compose a channel (compressor + codec) and an exchange pattern into one round.

``REGISTRY`` maps each ``--algorithm`` name to a builder ``(setup) -> Algorithm`` and records
its per-algorithm defaults (``defaults``: what a None in the algorithm config resolves to) and
whether it runs on the graph (``graph``: neighbours only) or over an allgather of every rank;
``depends_on_rounds`` (a reason) marks an algorithm whose trajectory depends on the planned
number of rounds, so a resumed run may not change ``--rounds`` (gossip.run.resume.rounds_dependence).
``setup`` carries the algorithm config (``setup.a``), the topology, the block sizes, the local
ranks, the seed, the number of rounds and the time-varying settings (see gossip.run.build).
"""

from __future__ import annotations

import topologies

from ..channel import Channel
from ..registry import Registry
from .allgather import GDSEC, SASG, AdaptiveTopK, TopKEF
from .base import Algorithm, GradientOracle, NeighbourDecodeError, RoundInfo
from .choco import ChocoSGD, soft_threshold
from .dpsgd import DPSGD
from .async_edges import AsyncGossip, build_async
from .edges import EdgeChocoSGD, EdgeDPSGD

REGISTRY = Registry("algorithm")

_SPARSE = dict(compressor="topk", codec="sparse", levels=1, norm="l2", tau_scaling=False,
               gamma=1.0, l1=0.0)


def _graph(setup):
    """W's rows for the local ranks, the channel, and the W(t) schedule (None when static)."""
    a, topo = setup.a, setup.topo
    channel = Channel.build(a.compressor, a.codec, setup.block_sizes, seed=setup.seed,
                            kernels=setup.kernels, levels=a.levels, norm=a.norm, tau_scaling=a.tau_scaling,
                            subtractive=a.subtractive_dither, ratio=a.ratio, unbiased=a.unbiased)
    schedule = None
    if setup.time_varying != "static":
        schedule = topologies.Schedule(topo.edges, topo.n, setup.time_varying,
                                       drop_prob=setup.drop_prob, seed=setup.seed)
    weights = {i: {j: float(topo.W[i, j]) for j in (*topo.neighbours[i], i)}
               for i in setup.local_ranks}
    return weights, channel, schedule


def _choco(setup):
    a = setup.a
    weights, channel, schedule = _graph(setup)
    if getattr(setup, "mode", "sync") == "async":
        return build_async(a.name, weights, channel, a)
    if schedule is not None:
        return EdgeChocoSGD(schedule=schedule, channel=channel, lr=a.lr, gamma=a.gamma, l1=a.l1,
                            name=a.name,
                            neighbours={i: setup.topo.neighbours[i] for i in setup.local_ranks})
    return ChocoSGD(weights=weights, channel=channel, lr=a.lr, gamma=a.gamma, l1=a.l1, name=a.name,
                    residual_order=a.residual_order, kernels=setup.kernels)


def _dpsgd(setup):
    weights, channel, schedule = _graph(setup)
    if getattr(setup, "mode", "sync") == "async":
        return build_async("dpsgd", weights, channel, setup.a)
    if schedule is not None:
        return EdgeDPSGD(schedule=schedule, channel=channel, lr=setup.a.lr,
                         form=setup.a.dpsgd_form)
    return DPSGD(weights=weights, channel=channel, lr=setup.a.lr, form=setup.a.dpsgd_form)


def _common(setup) -> dict:
    return dict(size=int(sum(setup.block_sizes)), world=setup.topo.n,
                block_sizes=setup.block_sizes, lr=setup.a.lr, seed=setup.seed)


# Measured on digits (README): l2 + 1/tau, 4 levels, small gamma; 0.46 bits per entry.
REGISTRY.register("malcom", _choco, graph=True, help="Malcom-PSGD: CHOCO-SGD with the dithered "
                  "quantizer, vector source coding and an l1 prox",
                  defaults=dict(compressor="dithered", codec="vsc", levels=4, norm="l2",
                                tau_scaling=True, gamma=0.05, l1=1e-3))
# CHOCO-SGD's convex-code setting: QSGD with 16 levels (biased, 1/tau) and fixed-width symbols
# as its authors count them; gamma = 0.1, not the convex code's 0.34, which diverged on the
# 150,010-entry MLP (measured, docs/algorithms.md §5).
REGISTRY.register("choco", _choco, graph=True, help="CHOCO-SGD",
                  defaults=dict(compressor="qsgd", codec="packed", levels=16, norm="l2",
                                tau_scaling=True, gamma=0.1, l1=0.0))
REGISTRY.register("dpsgd", _dpsgd, graph=True, help="uncompressed D-PSGD",
                  defaults=dict(compressor="identity", codec="raw", levels=1, norm="l2",
                                tau_scaling=False, gamma=1.0, l1=0.0))
REGISTRY.register("adaptive-topk", lambda s: AdaptiveTopK(
    budget_ratio=s.a.budget_ratio, rounds=s.rounds, error_feedback=s.a.error_feedback,
    rho=s.a.rho, window=s.a.norm_window, scope=s.a.topk_scope, **_common(s)), graph=False,
    defaults=dict(_SPARSE, topk_scope="model"),
    depends_on_rounds="its communication budget is spread over train.rounds",
    help="Adaptive Top-K SGD")
REGISTRY.register("gdsec", lambda s: GDSEC(beta=s.a.beta, xi=s.a.xi, variant=s.a.gdsec_variant,
                                           **_common(s)),
                  graph=False, defaults=_SPARSE, help="GD-SEC (full local gradients)")
REGISTRY.register("sasg", lambda s: SASG(ratio=s.a.ratio, window=s.a.sasg_window, xi=s.a.xi,
                                         rule=s.a.sasg_rule, **_common(s)),
                  graph=False, defaults=_SPARSE, help="SASG")
REGISTRY.register("topk-ef", lambda s: TopKEF(ratio=s.a.ratio, window=1, scope=s.a.topk_scope,
                                             **_common(s)),
                  graph=False, defaults=dict(_SPARSE, topk_scope="tensor"),
                  help="top-k with error feedback (--ratio)")

GRAPH_ALGORITHMS = tuple(n for n in REGISTRY if REGISTRY[n].meta["graph"])

__all__ = ["REGISTRY", "GRAPH_ALGORITHMS", "Algorithm", "GradientOracle", "NeighbourDecodeError",
           "RoundInfo", "AsyncGossip", "ChocoSGD", "soft_threshold", "DPSGD", "EdgeChocoSGD", "EdgeDPSGD",
           "TopKEF", "GDSEC", "SASG", "AdaptiveTopK"]
