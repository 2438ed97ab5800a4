"""Mixing (gossip) matrices for a communication graph.

Each rule returns a dense, symmetric, doubly stochastic float64 array ``W``
(n x n) with ``W[i, j] > 0`` exactly on the edges (and, for the graph rules,
on the diagonal).  The graph's nodes must be the integers 0..n-1 (node i = row
i = MPI rank i).

:data:`MIXING` holds the rules computed from the graph alone (``metropolis``,
``max-degree``, ``uniform``); :data:`MIXING_RULES` adds the user-supplied ones:
``weights`` (the weights of a weighted topology file, see
:mod:`topologies.files`) and ``file`` (W read from ``mixing_file``).  Supplied
weights are checked by :func:`topologies.validate.check_matrix` (symmetry and
row/column sums within :data:`topologies.validate.MATRIX_TOL`) and used exactly
as given.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Callable

import networkx as nx
import numpy as np

from .errors import TopologyError
from .files import is_weighted, load_matrix
from .graphs import normalise_name
from .validate import MATRIX_TOL, check_matrix

__all__ = [
    "MIXING",
    "MIXING_RULES",
    "file_weights",
    "matrix_from_file",
    "max_degree",
    "metropolis_hastings",
    "mixing_matrix",
    "normalise_rule",
    "uniform",
]


def _degrees(G: nx.Graph, rule: str) -> np.ndarray:
    """Degrees indexed by node, after checking G is simple, undirected and labelled 0..n-1."""
    if G.is_directed() or G.is_multigraph():
        raise TopologyError(f"{rule} mixing needs a simple undirected nx.Graph: convert with nx.Graph(G.to_undirected())")
    n = G.number_of_nodes()
    if n == 0:
        raise TopologyError(f"{rule} mixing: the graph has no nodes")
    if set(G.nodes) != set(range(n)):
        raise TopologyError(
            f"{rule} mixing needs nodes labelled 0..{n - 1}: relabel with nx.convert_node_labels_to_integers(G)"
        )
    loops = list(nx.selfloop_edges(G))
    if loops:
        raise TopologyError(
            f"{rule} mixing: self-loop on node {loops[0][0]}: remove self-loops "
            f"(G.remove_edges_from(list(nx.selfloop_edges(G)))); self weight is the diagonal of W"
        )
    return np.array([G.degree(i) for i in range(n)], dtype=np.int64)


def _with_diagonal(W: np.ndarray) -> np.ndarray:
    """Set the diagonal so every row sums to 1."""
    np.fill_diagonal(W, 0.0)
    np.fill_diagonal(W, 1.0 - W.sum(axis=1))
    return W


def metropolis_hastings(G: nx.Graph) -> np.ndarray:
    """Metropolis-Hastings weights: ``w_ij = 1 / (1 + max(deg_i, deg_j))`` on edges (the default)."""
    deg = _degrees(G, "metropolis")
    W = np.zeros((len(deg), len(deg)), dtype=np.float64)
    for i, j in G.edges():
        W[i, j] = W[j, i] = 1.0 / (1.0 + max(deg[i], deg[j]))
    return _with_diagonal(W)


def max_degree(G: nx.Graph) -> np.ndarray:
    """Max-degree weights: ``w_ij = 1 / (1 + Δ)`` on edges, Δ the graph's maximum degree."""
    deg = _degrees(G, "max-degree")
    w = 1.0 / (1.0 + int(deg.max()))
    W = np.zeros((len(deg), len(deg)), dtype=np.float64)
    for i, j in G.edges():
        W[i, j] = W[j, i] = w
    return _with_diagonal(W)


def uniform(G: nx.Graph) -> np.ndarray:
    """Uniform weights ``1 / (deg + 1)`` on each edge and the diagonal; regular graphs only."""
    deg = _degrees(G, "uniform")
    lo, hi = int(deg.min()), int(deg.max())
    if lo != hi:
        raise TopologyError(
            f"uniform mixing needs a regular graph (all degrees equal) but degrees range from {lo} "
            f"(node {int(deg.argmin())}) to {hi} (node {int(deg.argmax())}): use rule='metropolis' "
            f"(the default) or 'max-degree'"
        )
    W = np.zeros((len(deg), len(deg)), dtype=np.float64)
    w = 1.0 / (lo + 1.0)
    for i, j in G.edges():
        W[i, j] = W[j, i] = w
    np.fill_diagonal(W, w)
    return W


def file_weights(G: nx.Graph) -> np.ndarray:
    """W from the weights of a weighted topology file (rule ``weights``), exactly as given.

    Off the diagonal ``W[i, j] = W[j, i]`` is the weight of edge (i, j).  A
    node's own weight is taken from the file (``u u w`` / a weighted GraphML
    self-loop) when given and is otherwise filled in as ``1 - (sum of its edge
    weights)``.  The result is checked with :func:`check_matrix` against G.
    """
    if not is_weighted(G):
        raise TopologyError(
            "mixing 'weights' needs a topology file whose edges carry weights (a third column 'u v w' in an "
            "edge list, or a GraphML 'weight' edge attribute), but this topology has none: add weights to "
            "the file, or use --mixing metropolis"
        )
    n = G.number_of_nodes()
    labels = G.graph.get("labels")
    source = f"weights in topology file {G.graph.get('source', '?')}"
    W = np.zeros((n, n), dtype=np.float64)
    for i, j, w in G.edges(data="weight"):
        W[i, j] = W[j, i] = float(w)
    for i in range(n):
        own = G.nodes[i].get("self_weight")
        if own is not None:
            W[i, i] = float(own)
            continue
        off = float(W[i].sum())
        if 1.0 - off < -MATRIX_TOL:
            label = f"{i}" if labels is None or str(labels[i]) == str(i) else f"{i} ({labels[i]!r} in the file)"
            raise TopologyError(
                f"{source}: row {label}: the weights of the node's edges sum to {off!r} > 1, so its own "
                f"weight (the diagonal, filled in as 1 - that sum because the file does not give it as a "
                f"'u u w' line or a weighted self-loop) would be {1.0 - off:.6g}: lower the weights on its "
                f"edges so they sum to at most 1"
            )
        W[i, i] = max(0.0, 1.0 - off)
    W, _ = check_matrix(W, G, source=source, labels=labels)
    return W


def matrix_from_file(G: nx.Graph, mixing_file: str | Path) -> np.ndarray:
    """W read from ``mixing_file`` (``.npy``/``.csv``/``.txt``, see :func:`topologies.files.load_matrix`).

    W must be positive exactly on G's edges (off the diagonal) and pass
    :func:`check_matrix`; it is returned exactly as stored.
    """
    W, _ = check_matrix(load_matrix(mixing_file), G, source=f"mixing file {mixing_file}")
    return W


#: Rule name -> function ``G -> W``, for the rules computed from the graph alone.
MIXING: dict[str, Callable[[nx.Graph], np.ndarray]] = {
    "metropolis": metropolis_hastings,
    "max-degree": max_degree,
    "uniform": uniform,
}

#: Every mixing rule (the config's ``--mixing`` choices): :data:`MIXING` plus the
#: user-supplied ``weights`` (topology-file weights) and ``file`` (``mixing_file``).
#: :func:`mixing_matrix` passes ``mixing_file`` to the rules whose signature names it.
MIXING_RULES: dict[str, Callable[..., np.ndarray]] = {
    **MIXING,
    "weights": file_weights,
    "file": matrix_from_file,
}

_ALIASES = {"metropolis-hastings": "metropolis", "mh": "metropolis", "maxdegree": "max-degree"}


def normalise_rule(rule: str) -> str:
    """The :data:`MIXING_RULES` key for ``rule`` (case, '_' vs '-' and aliases such as 'mh' folded)."""
    key = normalise_name(rule)
    return _ALIASES.get(key, key)


def mixing_matrix(G: nx.Graph, rule: str = "metropolis", *, mixing_file: str | Path | None = None) -> np.ndarray:
    """The mixing matrix of ``G`` under ``rule`` (one of :data:`MIXING_RULES`'s names).

    ``mixing_file`` is required by rule ``file`` and refused by the others.  A
    graph read from a weighted topology file is refused by every rule but
    ``weights``, so weights are never silently ignored.
    """
    key = normalise_rule(rule)
    if key not in MIXING_RULES:
        raise TopologyError(f"unknown mixing rule {rule!r}: valid rules are {', '.join(MIXING_RULES)}")
    if is_weighted(G) and key != "weights":
        raise TopologyError(
            f"{G.graph.get('source', 'topology file')}: the topology file carries edge weights; use --mixing "
            f"weights to use them as W, or remove the weights (--mixing {key} would ignore them)"
        )
    fn = MIXING_RULES[key]
    if "mixing_file" in inspect.signature(fn).parameters:
        if mixing_file is None:
            raise TopologyError(
                f"mixing rule {key!r} needs a matrix file: pass --mixing-file PATH (.npy, .csv or .txt)"
            )
        return fn(G, mixing_file=mixing_file)
    if mixing_file is not None:
        raise TopologyError(
            f"a mixing file ({mixing_file}) is only read with --mixing file, but --mixing is {key!r}: "
            f"drop --mixing-file or use --mixing file"
        )
    return fn(G)
