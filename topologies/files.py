"""Readers for topology files (edge lists, GraphML) and mixing-matrix files (.npy, .csv, .txt).

Only parsing lives here: the graph builders are in :mod:`topologies.graphs`, the
mixing rules in :mod:`topologies.mixing` and the checks of W in
:mod:`topologies.validate`.

Topology files
--------------
*Edge lists* (``.txt .edges .edgelist .csv .tsv``) hold one edge per line,
``u v`` or, with a weight, ``u v w`` (whitespace, ``,`` or ``;`` between the
fields; ``#`` starts a comment).  A weighted file may give a node's own weight
(the diagonal of W) as a ``u u w`` line.  Either every edge carries a weight or
none does.

*GraphML* (``.graphml``): the ``weight`` edge attribute, when present, is the
edge's weight, and a weighted self-loop on a node is that node's own weight.

Node ids are kept when they are 0..n-1 and otherwise renumbered 0..n-1 in
sorted (natural) order.  Negative or non-finite weights are refused here, naming
the edge, whatever mixing rule will be used.

:func:`from_file` returns an :class:`networkx.Graph` on 0..n-1 without
self-loops.  For an unweighted file it has no attributes at all.  For a
weighted file ``G.graph["weighted"]`` is True, every edge has a ``weight``
attribute, nodes whose own weight the file gives have ``self_weight``, and
``G.graph["source"]`` / ``G.graph["labels"]`` hold the file name and the file's
node ids (``labels[i]`` is the id of node i), for error messages.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Hashable, Iterable

import networkx as nx
import numpy as np

from .errors import TopologyError

__all__ = [
    "EDGE_LIST_SUFFIXES",
    "GRAPHML_SUFFIXES",
    "MATRIX_SUFFIXES",
    "from_file",
    "is_weighted",
    "load_matrix",
]

EDGE_LIST_SUFFIXES = (".txt", ".edges", ".edgelist", ".csv", ".tsv")
GRAPHML_SUFFIXES = (".graphml",)
MATRIX_SUFFIXES = (".npy", ".csv", ".txt")

_INT_RE = re.compile(r"[+-]?\d+")
_SPLIT_RE = re.compile(r"[\s,;]+")
_SELF_LOOP_HINT = "a node's own weight is the mixing matrix diagonal, not an edge"


def _natural_key(label: Hashable) -> tuple:
    parts = re.split(r"(\d+)", str(label))
    return tuple((0, int(s), "") if s.isdigit() else (1, 0, s) for s in parts if s)


def _mapping(nodes: Iterable[Hashable]) -> tuple[dict[Hashable, int], tuple[Hashable, ...]]:
    """Map labels to 0..n-1 (identity when they already are 0..n-1, else sorted order).

    Returns ``(label -> index, labels)`` with ``labels[i]`` the label of node i.
    """
    labels = list(dict.fromkeys(nodes))
    n = len(labels)
    if all(isinstance(x, int) for x in labels) and set(labels) == set(range(n)):
        ordered = sorted(labels)
    else:
        key = (lambda x: x) if all(isinstance(x, int) for x in labels) else _natural_key
        ordered = sorted(labels, key=key)
    return {x: i for i, x in enumerate(ordered)}, tuple(ordered)


def _make_graph(
    source: Path,
    nodes: Iterable[Hashable],
    edges: list[tuple[Hashable, Hashable]],
    weights: dict[tuple[Hashable, Hashable], float] | None,
    self_weights: dict[Hashable, float],
) -> nx.Graph:
    """The graph on 0..n-1 (inserted in order) with the file's edges and, if any, weights."""
    mapping, labels = _mapping(nodes)
    G = nx.Graph()
    G.add_nodes_from(range(len(labels)))
    G.add_edges_from((mapping[u], mapping[v]) for u, v in edges if u != v)
    if weights is not None:
        for (u, v), w in weights.items():
            G.edges[mapping[u], mapping[v]]["weight"] = w
        for u, w in self_weights.items():
            G.nodes[mapping[u]]["self_weight"] = w
        G.graph.update(weighted=True, source=source.name, labels=labels)
    return G


def is_weighted(G: nx.Graph) -> bool:
    """True when ``G`` came from a topology file that carries weights (see :func:`from_file`)."""
    return bool(G.graph.get("weighted"))


def _check_weight(where: str, edge: str, w: float) -> None:
    if not math.isfinite(w):
        raise TopologyError(f"{where}: {edge} has weight {w}, which is not finite: give a number in [0, 1]")
    if w < 0:
        raise TopologyError(
            f"{where}: {edge} has negative weight {w:g}: gossip weights must be >= 0; "
            f"fix the weight in the file (or remove all weights and use --mixing metropolis)"
        )


def _mixed(where: str, unweighted: str, weighted: str) -> TopologyError:
    return TopologyError(
        f"{where}: {unweighted} has no weight but {weighted} has one: give every edge a weight "
        f"(for --mixing weights) or none"
    )


def _read_edge_list(path: Path) -> nx.Graph:
    nodes: list[int] = []
    edges: list[tuple[int, int]] = []
    weights: dict[tuple[int, int], tuple[float, int]] = {}  # (min, max) -> (weight, line)
    self_weights: dict[int, tuple[float, int]] = {}
    first_weighted: tuple[int, str] | None = None  # (line, description)
    first_plain: tuple[int, str] | None = None
    text = path.read_text(encoding="utf-8")
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        tokens = [t for t in _SPLIT_RE.split(line) if t]
        ok = len(tokens) in (2, 3) and all(_INT_RE.fullmatch(t) for t in tokens[:2])
        if ok and len(tokens) == 3:
            try:
                w = float(tokens[2])
            except ValueError:
                ok = False
        if not ok:
            raise TopologyError(
                f"{path}: line {lineno}: cannot parse {raw.strip()!r}: expected two integer node ids "
                f"'u v' or 'u,v', optionally followed by a weight 'u v w' (comments start with #)"
            )
        u, v = int(tokens[0]), int(tokens[1])
        where = f"{path}: line {lineno}"
        if len(tokens) == 2:
            if u == v:
                raise TopologyError(
                    f"{where}: self-loop {u}-{v}: remove it ({_SELF_LOOP_HINT}; a weighted file may give it "
                    f"as '{u} {u} w')"
                )
            first_plain = first_plain or (lineno, f"edge {u}-{v}")
            if first_weighted:
                raise _mixed(where, f"edge {u}-{v}", f"{first_weighted[1]} on line {first_weighted[0]}")
        else:
            desc = f"self weight {u}-{u}" if u == v else f"edge {u}-{v}"
            _check_weight(where, desc, w)
            first_weighted = first_weighted or (lineno, desc)
            if first_plain:
                raise _mixed(f"{path}: line {first_plain[0]}", first_plain[1], f"{desc} on line {lineno}")
            table, key = (self_weights, u) if u == v else (weights, (min(u, v), max(u, v)))
            if key in table and table[key][0] != w:
                raise TopologyError(
                    f"{where}: {desc} is given weight {w:g} here but {table[key][0]:g} on line {table[key][1]}: "
                    f"keep one"
                )
            table.setdefault(key, (w, lineno))
        nodes += [u, v]
        if u != v:
            edges.append((u, v))
    if not edges:
        raise TopologyError(f"{path}: no edges found: write one edge per line as 'u v' or 'u,v'")
    if first_weighted is None:
        return _make_graph(path, nodes, edges, None, {})
    return _make_graph(
        path, nodes, edges, {k: w for k, (w, _) in weights.items()}, {k: w for k, (w, _) in self_weights.items()}
    )


def _read_graphml(path: Path) -> nx.Graph:
    try:
        H = nx.read_graphml(path)
    except Exception as exc:  # networkx raises several XML/parse error types
        raise TopologyError(f"{path}: not a readable GraphML file: {exc}") from exc
    if H.number_of_nodes() == 0:
        raise TopologyError(f"{path}: the GraphML graph has no nodes")
    raw_edges = list(H.edges(data=True))
    weighted = [(u, v) for u, v, d in raw_edges if "weight" in d]
    plain = [(u, v) for u, v, d in raw_edges if "weight" not in d]
    for u, v in plain:
        if u == v:
            raise TopologyError(f"{path}: self-loop on node {u!r}: remove it ({_SELF_LOOP_HINT})")
    if weighted and plain:
        (pu, pv), (wu, wv) = plain[0], weighted[0]
        wdesc = f"self weight on node {wu!r}" if wu == wv else f"edge {wu!r}-{wv!r}"
        raise _mixed(str(path), f"edge {pu!r}-{pv!r}", wdesc)
    nodes = list(H.nodes())
    if all(isinstance(x, str) and _INT_RE.fullmatch(x) for x in nodes):
        conv = {x: int(x) for x in nodes}
    else:
        conv = {x: x for x in nodes}
    edges = [(conv[u], conv[v]) for u, v, _ in raw_edges if u != v]
    if not weighted:
        return _make_graph(path, (conv[x] for x in nodes), edges, None, {})
    weights: dict[tuple[Hashable, Hashable], float] = {}
    self_weights: dict[Hashable, float] = {}
    for u, v, d in raw_edges:
        desc = f"self weight on node {u!r}" if u == v else f"edge {u!r}-{v!r}"
        try:
            w = float(d["weight"])
        except (TypeError, ValueError):
            raise TopologyError(
                f"{path}: {desc} has weight {d['weight']!r}, which is not a number: give a number in [0, 1] "
                f"(declare the key with attr.type=\"double\")"
            ) from None
        _check_weight(str(path), desc, w)
        a, b = conv[u], conv[v]
        table, key = (self_weights, a) if a == b else (weights, (a, b) if (b, a) not in weights else (b, a))
        if key in table and table[key] != w:
            raise TopologyError(
                f"{path}: {desc} is given two different weights, {table[key]:g} and {w:g}: "
                f"W must be symmetric, so keep one"
            )
        table[key] = w
    return _make_graph(path, (conv[x] for x in nodes), edges, weights, self_weights)


def from_file(path: str | Path) -> nx.Graph:
    """Read a graph from an edge list (``.txt/.edges/.edgelist/.csv/.tsv``) or ``.graphml``.

    Edge lists hold one edge per line, ``u v`` or ``u,v`` with integer ids,
    optionally followed by a weight (``u v w``; ``u u w`` is node u's own
    weight); ``#`` starts a comment.  GraphML edges may carry a ``weight``
    attribute (a weighted self-loop is the node's own weight).  Nodes are kept
    as-is when they are 0..n-1 and otherwise renumbered 0..n-1 in sorted order.
    Unweighted self-loops, negative or non-finite weights, a mix of weighted and
    unweighted edges, and one edge given two weights are errors.  Weights are
    stored on the graph as described in the module docstring; the graph of an
    unweighted file has no attributes.
    """
    p = Path(path)
    if not p.is_file():
        raise TopologyError(f"topology file not found: {str(path)!r} (check the path; it is read on every rank)")
    suffix = p.suffix.lower()
    if suffix in EDGE_LIST_SUFFIXES:
        return _read_edge_list(p)
    if suffix in GRAPHML_SUFFIXES:
        return _read_graphml(p)
    raise TopologyError(
        f"{path}: unknown topology file type {suffix or '(none)'!r}: use an edge list "
        f"({', '.join(EDGE_LIST_SUFFIXES)}) or GraphML (.graphml)"
    )


# --------------------------------------------------------------------------- mixing matrices


def _read_text_matrix(path: Path) -> np.ndarray:
    rows: list[list[float]] = []
    first_len_line = 0
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        tokens = [t for t in _SPLIT_RE.split(line) if t]
        try:
            row = [float(t) for t in tokens]
        except ValueError:
            raise TopologyError(
                f"mixing file {path}: line {lineno}: cannot parse {raw.strip()!r}: expected one row of W "
                f"as numbers separated by commas or spaces (comments start with #)"
            ) from None
        if rows and len(row) != len(rows[0]):
            raise TopologyError(
                f"mixing file {path}: line {lineno} has {len(row)} values but line {first_len_line} has "
                f"{len(rows[0])}: every row of W needs the same number of entries"
            )
        if not rows:
            first_len_line = lineno
        rows.append(row)
    if not rows:
        raise TopologyError(f"mixing file {path}: no numbers found: write one row of W per line")
    return np.array(rows, dtype=np.float64)


def load_matrix(path: str | Path) -> np.ndarray:
    """Read a mixing matrix W from ``.npy`` (loaded with ``allow_pickle=False``), ``.csv`` or ``.txt``.

    Text files hold one row of W per line, entries separated by commas, ``;``
    or whitespace; ``#`` starts a comment.  Returns a float64 array exactly as
    stored (no rounding or renormalisation); only the file format is checked
    here -- shape and values are checked by :func:`topologies.validate.check_matrix`.
    """
    p = Path(path)
    if not p.is_file():
        raise TopologyError(f"mixing file not found: {str(path)!r} (check --mixing-file; it is read on every rank)")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        try:
            A = np.load(p, allow_pickle=False)
        except ValueError as exc:
            if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                raise TopologyError(
                    f"mixing file {path}: holds a Python object array, which can only be loaded with pickle "
                    f"(refused: pickle can run code): save a numeric array, e.g. "
                    f"np.save(path, np.asarray(W, dtype=np.float64))"
                ) from None
            raise TopologyError(f"mixing file {path}: not a readable .npy file: {exc}") from None
        except OSError as exc:
            raise TopologyError(f"mixing file {path}: not a readable .npy file: {exc}") from None
        if not isinstance(A, np.ndarray):  # np.load returns an NpzFile for zip archives
            raise TopologyError(f"mixing file {path}: is an .npz archive, not one array: save W alone with np.save")
        if A.dtype.kind not in "iuf":
            raise TopologyError(
                f"mixing file {path}: has dtype {A.dtype}, not real numbers: save W as float64 "
                f"(np.asarray(W, dtype=np.float64))"
            )
        return np.array(A, dtype=np.float64)
    if suffix in (".csv", ".txt"):
        return _read_text_matrix(p)
    raise TopologyError(
        f"mixing file {path}: unknown type {suffix or '(none)'!r}: use .npy (np.save) or a .csv/.txt "
        f"text matrix (np.savetxt(path, W, delimiter=',', fmt='%.17g'))"
    )
