"""Graphs and mixing matrices for decentralized gossip (pure numbers: no MPI, no torch).

Typical use::

    from topologies import make_topology
    info = make_topology("torus", 16, world_size=comm.size)
    print(info.summary())          # torus n=16 edges=32 degree 4..4 spectral gap ...
    row = info.W[rank]             # my gossip weights; info.neighbours[rank] who to talk to
"""

from __future__ import annotations

from pathlib import Path

from .errors import TopologyError
from .graphs import (
    BUILDERS,
    build,
    complete,
    erdos_renyi,
    exponential,
    exponential_offsets,
    from_file,
    hypercube,
    normalise_name,
    random_regular,
    ring,
    star,
    torus,
    torus_shape,
)
from .mixing import MIXING, max_degree, metropolis_hastings, mixing_matrix, uniform
from .timevarying import MODES as TIME_VARYING_MODES
from .timevarying import Schedule
from .validate import TopologyInfo, spectral_stats, validate

__all__ = [
    "TIME_VARYING_MODES",
    "Schedule",
    "BUILDERS",
    "MIXING",
    "TopologyError",
    "TopologyInfo",
    "build",
    "complete",
    "erdos_renyi",
    "exponential",
    "exponential_offsets",
    "from_file",
    "hypercube",
    "make_topology",
    "max_degree",
    "metropolis_hastings",
    "mixing_matrix",
    "random_regular",
    "ring",
    "spectral_stats",
    "star",
    "torus",
    "torus_shape",
    "uniform",
    "validate",
]


def make_topology(
    name: str,
    n: int | None,
    rule: str = "metropolis",
    world_size: int | None = None,
    **kw,
) -> TopologyInfo:
    """Build graph ``name`` on ``n`` nodes, mix it with ``rule`` and validate it.

    ``kw`` goes to :func:`build` (``seed``, ``p``, ``degree``, ``path``, ``rows``).
    """
    G = build(name, n, **kw)
    W = mixing_matrix(G, rule)
    label = normalise_name(name)
    if label == "file" and kw.get("path") is not None:
        label = f"file:{Path(kw['path']).name}"
    return validate(G, W, world_size, name=label, rule=rule)
