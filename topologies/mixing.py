"""Mixing (gossip) matrices for a communication graph.

Each rule returns a dense, symmetric, doubly stochastic float64 array ``W``
(n x n) with ``W[i, j] > 0`` exactly on the edges and the diagonal.  The graph's
nodes must be the integers 0..n-1 (node i = row i = MPI rank i).
"""

from __future__ import annotations

from typing import Callable

import networkx as nx
import numpy as np

from .errors import TopologyError
from .graphs import normalise_name

__all__ = ["MIXING", "max_degree", "metropolis_hastings", "mixing_matrix", "uniform"]


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


#: Rule name -> function ``G -> W``.
MIXING: dict[str, Callable[[nx.Graph], np.ndarray]] = {
    "metropolis": metropolis_hastings,
    "max-degree": max_degree,
    "uniform": uniform,
}

_ALIASES = {"metropolis-hastings": "metropolis", "mh": "metropolis", "maxdegree": "max-degree"}


def mixing_matrix(G: nx.Graph, rule: str = "metropolis") -> np.ndarray:
    """The mixing matrix of ``G`` under ``rule`` (one of :data:`MIXING`'s names)."""
    key = normalise_name(rule)
    key = _ALIASES.get(key, key)
    if key not in MIXING:
        raise TopologyError(f"unknown mixing rule {rule!r}: valid rules are {', '.join(MIXING)}")
    return MIXING[key](G)
