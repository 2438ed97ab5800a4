"""Communication graphs for decentralized gossip.

Every builder returns an undirected, simple :class:`networkx.Graph` whose nodes
are exactly the integers ``0..n-1`` (inserted in that order), so node ``i`` is
MPI rank ``i``.  Builders only construct; connectivity and mixing weights are
checked by :func:`topologies.validate.validate`.  Reading topology files lives in
:mod:`topologies.files`; its :func:`from_file` is registered here as the ``file`` builder.
"""

from __future__ import annotations

import inspect
import math
import numbers
from typing import Callable, Iterable

import networkx as nx

from .errors import TopologyError
from .files import EDGE_LIST_SUFFIXES, GRAPHML_SUFFIXES, from_file

__all__ = [
    "BUILDERS",
    "EDGE_LIST_SUFFIXES",
    "GRAPHML_SUFFIXES",
    "build",
    "complete",
    "erdos_renyi",
    "exponential",
    "exponential_offsets",
    "normalise_name",
    "from_file",
    "hypercube",
    "random_regular",
    "ring",
    "star",
    "torus",
    "torus_shape",
]

#: How many seeds (seed, seed+1, ...) the random builders try before giving up.
MAX_TRIES = 100

# --------------------------------------------------------------------------- helpers


def _check_n(n: object, name: str, minimum: int = 1) -> int:
    """Return ``n`` as an int, or raise if it is not an integer >= ``minimum``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TopologyError(f"{name}: n must be an integer number of nodes, got {n!r}")
    if n < minimum:
        raise TopologyError(f"{name}: n must be >= {minimum}, got n={n}")
    return int(n)


def _graph(n: int, edges: Iterable[tuple[int, int]]) -> nx.Graph:
    """A simple graph on nodes 0..n-1 (in order) with the given edges."""
    G = nx.Graph()
    G.add_nodes_from(range(n))
    G.add_edges_from((int(u), int(v)) for u, v in edges if u != v)
    return G


def _canonical(G: nx.Graph) -> nx.Graph:
    """Copy of ``G`` with nodes inserted in order 0..n-1 (labels must already be 0..n-1)."""
    return _graph(G.number_of_nodes(), G.edges())


# --------------------------------------------------------------------------- deterministic


def ring(n: int) -> nx.Graph:
    """Cycle 0-1-...-(n-1)-0.  n=1: one node, no edges; n=2: a single edge."""
    n = _check_n(n, "ring")
    return _graph(n, ((i, (i + 1) % n) for i in range(n)))


def complete(n: int) -> nx.Graph:
    """Every pair of nodes linked (degree n-1).  n=1: one node, no edges."""
    n = _check_n(n, "complete")
    return _graph(n, ((i, j) for i in range(n) for j in range(i + 1, n)))


def star(n: int) -> nx.Graph:
    """Node 0 is the centre, linked to every other node."""
    n = _check_n(n, "star")
    return _graph(n, ((0, i) for i in range(1, n)))


def hypercube(n: int) -> nx.Graph:
    """Hypercube of dimension log2(n): i ~ i XOR 2^k.  n must be a power of two."""
    n = _check_n(n, "hypercube")
    if n & (n - 1):
        lo = 1 << (n.bit_length() - 1)
        raise TopologyError(
            f"hypercube needs n to be a power of two, got n={n}: "
            f"use n={lo} or n={lo * 2}, or choose 'exponential' which works for any n"
        )
    dim = n.bit_length() - 1
    return _graph(n, ((i, i ^ (1 << k)) for i in range(n) for k in range(dim) if i < i ^ (1 << k)))


def exponential_offsets(n: int) -> list[int]:
    """Distinct non-zero offsets ``±2^k mod n`` (2^k < n) of the exponential graph, sorted."""
    n = _check_n(n, "exponential")
    offs: set[int] = set()
    k = 1
    while k < n:
        offs.add(k % n)
        offs.add((-k) % n)
        k *= 2
    offs.discard(0)
    return sorted(offs)


def exponential(n: int) -> nx.Graph:
    """Node i linked to i ± 2^k (mod n) for every 2^k < n (undirected, circulant).

    Every node has degree ``len(exponential_offsets(n))``; for n a power of two
    that is ``2*log2(n) - 1``.
    """
    offs = exponential_offsets(n)
    return _graph(n, ((i, (i + d) % n) for i in range(n) for d in offs))


def _torus_factorisations(n: int) -> list[tuple[int, int]]:
    return [(r, n // r) for r in range(3, math.isqrt(n) + 1) if n % r == 0 and n // r >= 3]


def _nearby_torus_sizes(n: int, count: int = 3) -> list[int]:
    """The ``count`` torus-friendly sizes closest to n (ties broken by size)."""
    candidates = [m for m in range(9, max(n, 9) * 2 + 16) if _torus_factorisations(m)]
    return sorted(sorted(candidates, key=lambda m: (abs(m - n), m))[:count])


def torus_shape(n: int, rows: int | None = None) -> tuple[int, int]:
    """(rows, cols) of the 2-D torus on n nodes; the most square shape when rows is None."""
    n = _check_n(n, "torus")
    why2 = (
        "a side of 2 wraps onto itself, so nodes would get 3 neighbours instead of 4"
    )
    if rows is not None:
        if isinstance(rows, bool) or not isinstance(rows, numbers.Integral) or rows < 1:
            raise TopologyError(f"torus: rows must be a positive integer, got {rows!r}")
        rows = int(rows)
        if n % rows:
            raise TopologyError(
                f"torus: rows={rows} does not divide n={n}; torus needs n = rows*cols; "
                f"leave rows unset to pick the most square shape, or use 'ring'"
            )
        cols = n // rows
        if rows < 3 or cols < 3:
            raise TopologyError(
                f"torus: {rows}x{cols} is too small: torus needs n = rows*cols with rows, cols >= 3 "
                f"({why2}); leave rows unset, or use 'ring'"
            )
        return rows, cols
    shapes = _torus_factorisations(n)
    if not shapes:
        kind = "is prime" if n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1)) else "has no such factorisation"
        sizes = ", ".join(map(str, _nearby_torus_sizes(n)))
        raise TopologyError(
            f"torus needs n = rows*cols with rows, cols >= 3 ({why2}), but n={n} {kind}: "
            f"use 'ring' (or 'exponential') for this n, or a torus-friendly n such as {sizes}"
        )
    return shapes[-1]


def torus(n: int, rows: int | None = None) -> nx.Graph:
    """2-D wrap-around grid: node r*cols + c linked to its 4 neighbours (mod rows/cols).

    With ``rows=None`` the most square factorisation n = rows*cols (rows <= cols,
    both >= 3) is used.  Every node has degree 4.
    """
    rows, cols = torus_shape(n, rows)

    def idx(r: int, c: int) -> int:
        return (r % rows) * cols + (c % cols)

    edges = []
    for r in range(rows):
        for c in range(cols):
            edges.append((idx(r, c), idx(r, c + 1)))
            edges.append((idx(r, c), idx(r + 1, c)))
    return _graph(rows * cols, edges)


# --------------------------------------------------------------------------- random (seeded)


def erdos_renyi(n: int, p: float, seed: int = 0) -> nx.Graph:
    """G(n, p) random graph, reproducible from ``seed``.

    If the sample is disconnected, seeds ``seed+1, seed+2, ...`` are tried
    (at most 100 samples in all) and the first connected one is returned.
    """
    n = _check_n(n, "erdos-renyi")
    if not isinstance(p, numbers.Real) or not 0.0 <= float(p) <= 1.0:
        raise TopologyError(f"erdos-renyi: p must be a probability in [0, 1], got p={p!r}")
    if n == 1:
        return _graph(1, ())
    if p == 0:
        raise TopologyError(f"erdos-renyi with p=0 has no edges, so n={n} nodes can never be connected: use p > 0")
    for t in range(MAX_TRIES):
        G = nx.gnp_random_graph(n, float(p), seed=seed + t)
        if nx.is_connected(G):
            return _canonical(G)
    threshold = math.log(n) / n
    raise TopologyError(
        f"erdos-renyi(n={n}, p={p}) was disconnected for all {MAX_TRIES} seeds {seed}..{seed + MAX_TRIES - 1}: "
        f"raise p (connectivity needs p well above ln(n)/n = {threshold:.3g})"
    )


def random_regular(n: int, degree: int, seed: int = 0) -> nx.Graph:
    """Uniform random ``degree``-regular graph, reproducible from ``seed``.

    Needs ``degree < n`` and ``n*degree`` even.  Disconnected samples are
    resampled with ``seed+1, seed+2, ...`` (at most 100 samples in all).
    """
    n = _check_n(n, "random-regular")
    if isinstance(degree, bool) or not isinstance(degree, numbers.Integral) or degree < 0:
        raise TopologyError(f"random-regular: degree must be a non-negative integer, got {degree!r}")
    degree = int(degree)
    if degree >= n:
        raise TopologyError(
            f"random-regular: degree must be < n, got degree={degree} with n={n}: "
            f"use degree <= {n - 1} ('complete' is the degree n-1 case)"
        )
    if (n * degree) % 2:
        raise TopologyError(
            f"random-regular: n*degree must be even, got n={n}, degree={degree} (product {n * degree}): "
            f"use degree {degree - 1 if degree > 1 else degree + 1} or an even n"
        )
    if n == 1:
        return _graph(1, ())
    if degree == 0 or (degree == 1 and n > 2):
        raise TopologyError(
            f"random-regular: a {degree}-regular graph on n={n} nodes is never connected: use degree >= 2"
        )
    for t in range(MAX_TRIES):
        G = nx.random_regular_graph(degree, n, seed=seed + t)
        if nx.is_connected(G):
            return _canonical(G)
    raise TopologyError(
        f"random-regular(n={n}, degree={degree}) was disconnected for all {MAX_TRIES} seeds "
        f"{seed}..{seed + MAX_TRIES - 1}: use degree >= 3"
    )


# --------------------------------------------------------------------------- registry

#: Topology name -> builder function.  :func:`build` passes each builder only the
#: options its signature names (``n``, ``seed``, ``p``, ``degree``, ``path``, ``rows``).
BUILDERS: dict[str, Callable[..., nx.Graph]] = {
    "ring": ring,
    "torus": torus,
    "complete": complete,
    "star": star,
    "hypercube": hypercube,
    "exponential": exponential,
    "erdos-renyi": erdos_renyi,
    "random-regular": random_regular,
    "file": from_file,
}


def normalise_name(name: str) -> str:
    """Lower-case and use '-' for '_' so ``erdos_renyi`` == ``erdos-renyi``."""
    return str(name).strip().lower().replace("_", "-")


def build(
    name: str,
    n: int | None,
    *,
    seed: int = 0,
    p: float = 0.5,
    degree: int = 3,
    path: str | None = None,
    rows: int | None = None,
) -> nx.Graph:
    """Build the topology ``name`` on ``n`` nodes; options a builder does not use are ignored.

    For ``name='file'`` the graph is read from ``path``; ``n`` may be None, and
    otherwise must equal the file's node count.
    """
    key = normalise_name(name)
    if key not in BUILDERS:
        raise TopologyError(f"unknown topology {name!r}: valid names are {', '.join(sorted(BUILDERS))}")
    fn = BUILDERS[key]
    if key == "file" and path is None:
        raise TopologyError("topology 'file' needs path=... (an edge list or .graphml file)")
    options = {"seed": seed, "p": p, "degree": degree, "path": path, "rows": rows}
    params = inspect.signature(fn).parameters
    kwargs = {k: v for k, v in options.items() if k in params}
    if "n" in params:
        if n is None:
            raise TopologyError(f"topology {key!r} needs a node count n")
        return fn(n, **kwargs)
    G = fn(**kwargs)
    if n is not None and G.number_of_nodes() != n:
        raise TopologyError(
            f"topology file {path!r} has {G.number_of_nodes()} nodes but n={n} was requested: "
            f"launch with {G.number_of_nodes()} ranks or use a file with {n} nodes"
        )
    return G
