"""Checking a (graph, mixing matrix) pair and summarising it as :class:`TopologyInfo`."""

from __future__ import annotations

import hashlib
import json
import numbers
from dataclasses import dataclass

import networkx as nx
import numpy as np

from .errors import TopologyError

__all__ = ["MATRIX_TOL", "TopologyInfo", "check_matrix", "check_world_size", "spectral_stats", "support_graph", "validate"]

#: Absolute tolerance on the symmetry and the row/column sums of a user-supplied W
#: (``--mixing weights`` and ``--mixing file``); signs and zero patterns are checked exactly.
MATRIX_TOL = 1e-6


@dataclass(frozen=True, eq=False)
class TopologyInfo:
    """A validated topology: graph structure plus mixing matrix and its spectrum.

    ``W`` is a read-only float64 copy.  Compare topologies with :meth:`digest`
    (instances compare by identity).
    """

    name: str
    n: int
    edges: list[tuple[int, int]]  # sorted, each (i, j) with i < j
    neighbours: tuple[tuple[int, ...], ...]  # per node, sorted, excluding the node itself
    degrees: tuple[int, ...]
    W: np.ndarray
    spectral_gap: float  # 1 - |lambda_2(W)|, lambda_2 second largest in absolute value
    beta: float  # ||I - W||_2
    rule: str | None = None

    def digest(self) -> str:
        """Stable sha256 hex of (n, edges, W) for checkpoint compatibility checks."""
        h = hashlib.sha256()
        h.update(b"topologies/v1\0")
        h.update(json.dumps({"n": self.n, "edges": [list(e) for e in self.edges]}, separators=(",", ":")).encode())
        h.update(b"\0")
        h.update(np.ascontiguousarray(self.W, dtype="<f8").tobytes())
        return h.hexdigest()

    def summary(self) -> str:
        """One line, e.g. ``ring n=4 edges=4 degree 2..2 spectral gap 0.6667``."""
        return (
            f"{self.name} n={self.n} edges={len(self.edges)} degree {min(self.degrees)}..{max(self.degrees)} "
            f"spectral gap {self.spectral_gap:.4f}"
        )


def worst_sum(W: np.ndarray, tol: float) -> tuple[str, int, float, float] | None:
    """The row (first) or column whose sum is furthest from 1, if beyond ``tol``:
    ("row"|"column", index, its sum, |error|); None when W is doubly stochastic."""
    for axis, what in ((1, "row"), (0, "column")):
        sums = W.sum(axis=axis)
        err = np.abs(sums - 1.0)
        if err.max() > tol:
            k = int(err.argmax())
            return what, k, float(sums[k]), float(err[k])
    return None


def spectral_stats(W: np.ndarray) -> tuple[float, float]:
    """``(spectral_gap, beta)`` of a symmetric W: ``1 - |λ_2|`` and ``||I - W||_2``."""
    n = W.shape[0]
    if n == 1:
        return 1.0, float(abs(1.0 - W[0, 0]))
    eig = np.linalg.eigvalsh(W)
    mags = np.sort(np.abs(eig))[::-1]
    gap = float(min(1.0, max(0.0, 1.0 - mags[1])))
    beta = float(np.max(np.abs(1.0 - eig)))
    return gap, beta


def check_world_size(n: int, world_size: int | None, name: str) -> None:
    """Raise unless a topology ``name`` with ``n`` nodes fits ``world_size`` ranks (None: no check)."""
    if world_size is not None and n != world_size:
        raise TopologyError(
            f"topology {name!r} has {n} nodes but the MPI world has {world_size} ranks: "
            f"launch with `mpiexec -n {n}` or choose a topology with {world_size} nodes"
        )


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def validate(
    G: nx.Graph,
    W: np.ndarray,
    world_size: int | None = None,
    tol: float = 1e-12,
    *,
    name: str = "custom",
    rule: str | None = None,
    sum_tol: float | None = None,
) -> TopologyInfo:
    """Check that ``W`` is a valid gossip matrix for ``G`` and return a :class:`TopologyInfo`.

    Checks, in order: node count == ``world_size`` (when given), nodes are
    0..n-1, G is connected, W is n x n, finite, symmetric, non-negative, rows
    and columns sum to 1, W is zero off the edges and diagonal, and every edge
    has positive weight.  ``tol`` is the absolute tolerance of every numeric
    check, except that ``sum_tol`` (when given) replaces it for the symmetry
    and row/column-sum checks.  Raises :class:`TopologyError` naming the first
    failure and a fix.
    """
    stol = tol if sum_tol is None else sum_tol
    if G.is_directed() or G.is_multigraph():
        raise TopologyError(f"topology {name!r}: expected a simple undirected nx.Graph: convert with nx.Graph(G.to_undirected())")
    n = G.number_of_nodes()
    if n == 0:
        raise TopologyError(f"topology {name!r} has no nodes")
    check_world_size(n, world_size, name)
    nodes = list(G.nodes)
    if not all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in nodes) or set(nodes) != set(range(n)):
        bad = sorted((x for x in nodes if not (isinstance(x, numbers.Integral) and 0 <= x < n)), key=repr)[:3]
        raise TopologyError(
            f"topology {name!r}: nodes must be the integers 0..{n - 1} (node i is rank i), found e.g. {bad}: "
            f"relabel with nx.convert_node_labels_to_integers(G)"
        )
    loops = list(nx.selfloop_edges(G))
    if loops:
        raise TopologyError(
            f"topology {name!r}: self-loop on node {loops[0][0]}: remove self-loops; a node's own weight is W's diagonal"
        )
    if not nx.is_connected(G):
        comps = sorted(nx.connected_components(G), key=len, reverse=True)
        raise TopologyError(
            f"topology {name!r} is disconnected: {len(comps)} components (sizes {[len(c) for c in comps]}), "
            f"so gossip cannot reach consensus: add edges joining them or choose a connected topology"
        )

    W = np.array(W, dtype=np.float64, copy=True)
    if W.shape != (n, n):
        raise TopologyError(f"topology {name!r}: W has shape {W.shape} but the graph has {n} nodes: W must be {n}x{n}")
    if not np.all(np.isfinite(W)):
        i, j = map(int, np.argwhere(~np.isfinite(W))[0])
        raise TopologyError(f"topology {name!r}: W[{i}, {j}] = {W[i, j]} is not finite: W must hold finite numbers")
    asym = np.abs(W - W.T)
    if asym.max() > stol:
        i, j = map(int, np.unravel_index(int(asym.argmax()), asym.shape))
        raise TopologyError(
            f"topology {name!r}: W is not symmetric: max |W - W^T| = {_fmt(asym.max())} at ({i}, {j}) "
            f"(tol {stol:g}): use a symmetric rule such as 'metropolis'"
        )
    if W.min() < -tol:
        i, j = map(int, np.unravel_index(int(W.argmin()), W.shape))
        raise TopologyError(
            f"topology {name!r}: W has a negative entry W[{i}, {j}] = {_fmt(W[i, j])}: "
            f"gossip weights must be >= 0 (use 'metropolis')"
        )
    bad = worst_sum(W, stol)
    if bad:
        what, k, total, err = bad
        raise TopologyError(
            f"topology {name!r}: W is not doubly stochastic: {what} {k} sums to {total!r} "
            f"(|error| {_fmt(err)} > tol {stol:g}): set the diagonal to 1 - (off-diagonal "
            f"{what} sum)"
        )
    support = nx.to_numpy_array(G, nodelist=range(n), dtype=np.float64, weight=None) > 0
    np.fill_diagonal(support, True)
    off = (np.abs(W) > tol) & ~support
    if off.any():
        i, j = map(int, np.argwhere(off)[0])
        raise TopologyError(
            f"topology {name!r}: W[{i}, {j}] = {_fmt(W[i, j])} but ({i}, {j}) is not an edge: "
            f"ranks only talk to graph neighbours, so W must be 0 there (or add the edge)"
        )
    edges = sorted((min(u, v), max(u, v)) for u, v in G.edges())
    edges = [(int(i), int(j)) for i, j in edges]
    for i, j in edges:
        if W[i, j] <= tol:
            raise TopologyError(
                f"topology {name!r}: edge ({i}, {j}) has weight W[{i}, {j}] = {_fmt(W[i, j])}: "
                f"every edge needs positive weight (remove the edge or use 'metropolis')"
            )

    gap, beta = spectral_stats(W)
    W.setflags(write=False)
    neighbours = tuple(tuple(sorted(int(v) for v in G.neighbors(i))) for i in range(n))
    return TopologyInfo(
        name=name,
        n=n,
        edges=edges,
        neighbours=neighbours,
        degrees=tuple(len(nb) for nb in neighbours),
        W=W,
        spectral_gap=gap,
        beta=beta,
        rule=rule,
    )


# --------------------------------------------------------------------------- user-supplied W


def support_graph(W: np.ndarray) -> nx.Graph:
    """The graph on 0..n-1 with an edge (i, j) wherever ``W[i, j] > 0`` or ``W[j, i] > 0``, i != j."""
    W = np.asarray(W)
    n = W.shape[0]
    G = nx.Graph()
    G.add_nodes_from(range(n))
    pos = (W > 0) | (W.T > 0)
    G.add_edges_from((int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(pos, k=1))))
    return G


def check_matrix(
    W: np.ndarray,
    G: nx.Graph | None = None,
    *,
    source: str,
    world_size: int | None = None,
    tol: float = MATRIX_TOL,
    labels: tuple | None = None,
) -> tuple[np.ndarray, nx.Graph]:
    """Check a user-supplied mixing matrix and return ``(W as float64, graph)``.

    ``source`` names where W came from in messages (e.g. ``"mixing file W.npy"``).
    With ``G`` (nodes 0..n-1) W must fit its edges exactly; without it the graph
    is :func:`support_graph` of W.  Checks, in order: W is a non-empty square
    matrix, n == ``world_size`` (when given) and == G's node count, finite,
    no negative entry, symmetric and rows/columns summing to 1 within ``tol``,
    positive exactly on G's edges off the diagonal, connected support.
    ``labels[i]`` (file node ids) are added to messages when they differ from i.
    Raises :class:`TopologyError` naming the entry, row or pair and a fix.
    """
    def node(i: int) -> str:
        if labels is None or str(labels[i]) == str(i):
            return str(i)
        return f"{i} (node {labels[i]!r} in the file)"

    A = np.asarray(W)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise TopologyError(
            f"{source}: W must be a square n x n matrix (n = number of ranks), got shape {A.shape}: "
            f"write one row of W per line with n entries each"
        )
    if A.dtype.kind not in "iufb":
        raise TopologyError(f"{source}: W has dtype {A.dtype}, not real numbers: save it as float64")
    A = np.array(A, dtype=np.float64, copy=True)
    n = A.shape[0]
    if world_size is not None and n != world_size:
        raise TopologyError(
            f"{source}: W is {n}x{n} but the MPI world has {world_size} ranks: "
            f"launch with `mpiexec -n {n}` or supply a {world_size}x{world_size} W"
        )
    if G is not None and G.number_of_nodes() != n:
        m = G.number_of_nodes()
        raise TopologyError(
            f"{source}: W is {n}x{n} but the topology has {m} nodes: W must be {m}x{m} (row i is node i)"
        )
    bad = ~np.isfinite(A)
    if bad.any():
        i, j = map(int, np.argwhere(bad)[0])
        raise TopologyError(f"{source}: W[{node(i)}, {j}] = {A[i, j]} is not finite: W must hold finite numbers")
    if A.min() < 0:
        i, j = map(int, np.unravel_index(int(A.argmin()), A.shape))
        raise TopologyError(
            f"{source}: W[{node(i)}, {j}] = {A[i, j]:.6g} is negative: gossip weights must be >= 0 "
            f"(a solver's tiny negatives: set them to 0 and add the difference to the diagonal)"
        )
    asym = np.abs(A - A.T)
    if asym.max() > tol:
        i, j = map(int, np.unravel_index(int(asym.argmax()), asym.shape))
        i, j = min(i, j), max(i, j)
        raise TopologyError(
            f"{source}: W is not symmetric: W[{node(i)}, {j}] = {A[i, j]:.6g} but W[{j}, {i}] = {A[j, i]:.6g} "
            f"(|difference| {asym[i, j]:.3g} > tol {tol:g}, the worst pair): gossip needs W = W^T, "
            f"e.g. use (W + W.T) / 2"
        )
    bad = worst_sum(A, tol)
    if bad:
        what, k, total, err = bad
        raise TopologyError(
            f"{source}: {what} {node(k)} of W sums to {total!r}, not 1 (|error| {err:.3g} > "
            f"tol {tol:g}): every row and column of W must sum to 1; set the diagonal entry to "
            f"1 - (the other entries of the {what})"
        )
    if G is None:
        G = support_graph(A)
    else:
        adj = nx.to_numpy_array(G, nodelist=range(n), dtype=np.float64, weight=None) > 0
        off = (A > 0) & ~adj
        np.fill_diagonal(off, False)
        if off.any():
            i, j = map(int, np.argwhere(off)[0])
            raise TopologyError(
                f"{source}: W[{node(i)}, {j}] = {A[i, j]:.6g} is positive but ({i}, {j}) is not an edge of the "
                f"topology: ranks only talk to their neighbours, so set W[{i}, {j}] = W[{j}, {i}] = 0 (moving "
                f"the weight to the diagonal) or add the edge to the topology file"
            )
        zero = adj & ~(A > 0)
        if zero.any():
            i, j = map(int, np.argwhere(np.triu(zero | zero.T))[0])
            raise TopologyError(
                f"{source}: edge ({node(i)}, {j}) of the topology has weight W[{i}, {j}] = {A[i, j]:.6g}: "
                f"every edge needs a positive weight; give it one or remove the edge from the topology file"
            )
    if not nx.is_connected(G):
        comps = sorted((sorted(c) for c in nx.connected_components(G)), key=lambda c: (-len(c), c))
        cut = comps[-1]
        shown = ", ".join(map(str, cut[:5])) + (", ..." if len(cut) > 5 else "")
        raise TopologyError(
            f"{source}: the support of W (its positive off-diagonal entries) is disconnected: {len(comps)} "
            f"components (sizes {[len(c) for c in comps]}); nodes [{shown}] never exchange with the rest, so "
            f"gossip cannot reach consensus: give at least one pair between the groups a positive weight"
        )
    return A, G
