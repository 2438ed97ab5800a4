"""Graphs and mixing matrices for decentralized gossip (pure numbers: no MPI, no torch).

Typical use::

    from topologies import make_topology
    info = make_topology("torus", 16, world_size=comm.size)
    print(info.summary())          # torus n=16 edges=32 degree 4..4 spectral gap ...
    row = info.W[rank]             # my gossip weights; info.neighbours[rank] who to talk to

User-supplied weights::

    make_topology("file", None, rule="weights", path="w.graphml")       # W = the file's weights
    make_topology("file", None, rule="file", mixing_file="W.npy")       # graph = support of W
    make_topology("file", None, rule="file", path="g.txt", mixing_file="W.csv")  # W must fit g.txt
"""

from __future__ import annotations

from pathlib import Path


from .errors import TopologyError
from .files import MATRIX_SUFFIXES, is_weighted, load_matrix
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
from .mixing import (
    MIXING,
    MIXING_RULES,
    file_weights,
    matrix_from_file,
    max_degree,
    metropolis_hastings,
    mixing_matrix,
    normalise_rule,
    uniform,
)
from .timevarying import MODES as TIME_VARYING_MODES
from .timevarying import Schedule
from .validate import MATRIX_TOL, TopologyInfo, check_matrix, check_world_size, spectral_stats, support_graph, validate

__all__ = [
    "TIME_VARYING_MODES",
    "Schedule",
    "BUILDERS",
    "MATRIX_SUFFIXES",
    "MATRIX_TOL",
    "MIXING",
    "MIXING_RULES",
    "TopologyError",
    "TopologyInfo",
    "build",
    "check_matrix",
    "complete",
    "erdos_renyi",
    "exponential",
    "exponential_offsets",
    "file_weights",
    "from_file",
    "hypercube",
    "is_weighted",
    "load_matrix",
    "make_topology",
    "matrix_from_file",
    "max_degree",
    "metropolis_hastings",
    "mixing_matrix",
    "normalise_rule",
    "random_regular",
    "ring",
    "spectral_stats",
    "star",
    "support_graph",
    "torus",
    "torus_shape",
    "uniform",
    "validate",
]


def make_topology(
    name: str | None,
    n: int | None,
    rule: str = "metropolis",
    world_size: int | None = None,
    *,
    mixing_file: str | Path | None = None,
    **kw,
) -> TopologyInfo:
    """Build graph ``name`` on ``n`` nodes, mix it with ``rule`` and validate it.

    ``kw`` goes to :func:`build` (``seed``, ``p``, ``degree``, ``path``, ``rows``).
    ``rule`` is one of :data:`MIXING_RULES`:

    * ``metropolis``, ``max-degree``, ``uniform``: W computed from the graph;
      a topology file that carries weights is refused (use ``weights``).
    * ``weights``: W is the weighted topology file's weights (``path=...``),
      the diagonal filled in as 1 - row sum where the file does not give it.
    * ``file``: W is read from ``mixing_file`` (.npy/.csv/.txt).  With
      ``name=None``, or ``name='file'`` and no ``path``, the graph is the
      support of W (its positive off-diagonal entries) and ``n`` may be None;
      otherwise W must be positive exactly on the built graph's edges.

    Supplied W are used exactly as given after :func:`check_matrix` (symmetry
    and row/column sums within :data:`MATRIX_TOL`).
    """
    key = normalise_rule(rule)
    if key not in MIXING_RULES:
        raise TopologyError(f"unknown mixing rule {rule!r}: valid rules are {', '.join(MIXING_RULES)}")
    if key == "file" and mixing_file is None:
        raise TopologyError("mixing rule 'file' needs a matrix file: pass --mixing-file PATH (.npy, .csv or .txt)")
    if key != "file" and mixing_file is not None:
        raise TopologyError(
            f"a mixing file ({mixing_file}) is only read with --mixing file, but --mixing is {key!r}: "
            f"drop --mixing-file or use --mixing file"
        )
    if key == "file" and (name is None or (normalise_name(name) == "file" and kw.get("path") is None)):
        source = f"mixing file {mixing_file}"
        A = load_matrix(mixing_file)
        if n is not None and A.ndim == 2 and A.shape[0] == A.shape[1] and A.shape[0] != n:
            raise TopologyError(f"{source}: W is {A.shape[0]}x{A.shape[0]} but n={n} nodes were requested")
        W, G = check_matrix(A, source=source, world_size=world_size)
        return validate(G, W, world_size, tol=0.0, sum_tol=MATRIX_TOL, name=f"matrix:{Path(mixing_file).name}",
                        rule=rule)
    G = build(name, n, **kw)
    label = normalise_name(name)
    if label == "file" and kw.get("path") is not None:
        label = f"file:{Path(kw['path']).name}"
    if key in MIXING:
        W = mixing_matrix(G, rule)
        return validate(G, W, world_size, name=label, rule=rule)
    check_world_size(G.number_of_nodes(), world_size, label)
    if key == "weights" and not is_weighted(G):
        raise TopologyError(
            f"topology {label!r} has no edge weights, so --mixing weights has nothing to use: give a topology "
            f"file with weights (--topology file --topology-file PATH with 'u v w' lines or GraphML 'weight' "
            f"attributes), or use --mixing metropolis"
        )
    W = mixing_matrix(G, key, mixing_file=mixing_file)
    return validate(G, W, world_size, tol=0.0, sum_tol=MATRIX_TOL, name=label, rule=rule)
