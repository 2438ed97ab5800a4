"""Weighted topology files, ``--mixing weights`` and ``--mixing file`` (user-supplied W)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import topologies as T
from topologies import TopologyError

# A symmetric, doubly stochastic W on the path 0-1-2-3 plus edge 0-3 (a 4-ring), not Metropolis.
RING4_W = np.array(
    [
        [0.5, 0.25, 0.0, 0.25],
        [0.25, 0.375, 0.375, 0.0],
        [0.0, 0.375, 0.25, 0.375],
        [0.25, 0.0, 0.375, 0.375],
    ]
)
RING4_EDGES = [(0, 1), (1, 2), (2, 3), (0, 3)]


def _edge_list(tmp_path, text, name="w.txt"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _weighted_graphml(tmp_path, W=RING4_W, diagonal=False, name="w.graphml"):
    H = nx.Graph()
    H.add_nodes_from(range(len(W)))
    for i, j in zip(*np.nonzero(np.triu(W, 1))):
        H.add_edge(int(i), int(j), weight=float(W[i, j]))
    if diagonal:
        for i in range(len(W)):
            H.add_edge(i, i, weight=float(W[i, i]))
    p = tmp_path / name
    nx.write_graphml(H, p)
    return p


def _ring4_lines(diagonal=False, sep=" "):
    lines = [f"{i}{sep}{j}{sep}{float(RING4_W[i, j])!r}" for i, j in RING4_EDGES]
    if diagonal:
        lines += [f"{i}{sep}{i}{sep}{float(RING4_W[i, i])!r}" for i in range(4)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- registry / module split


def test_mixing_rules_registry_names():
    assert list(T.MIXING_RULES) == ["metropolis", "max-degree", "uniform", "weights", "file"]
    assert set(T.MIXING) == {"metropolis", "max-degree", "uniform"}
    for k in T.MIXING:
        assert T.MIXING_RULES[k] is T.MIXING[k]
    from topologies import files, graphs

    assert graphs.from_file is files.from_file is T.from_file
    assert T.BUILDERS["file"] is files.from_file


# --------------------------------------------------------------------------- valid weighted files


@pytest.mark.parametrize("diagonal", [False, True])
def test_weighted_graphml_gives_exactly_the_file_w(tmp_path, diagonal):
    p = _weighted_graphml(tmp_path, diagonal=diagonal)
    info = T.make_topology("file", None, rule="weights", path=str(p), world_size=4)
    assert np.array_equal(info.W, RING4_W)
    assert info.edges == [(0, 1), (0, 3), (1, 2), (2, 3)]
    assert info.name == "file:w.graphml" and info.rule == "weights"
    gap, _ = T.spectral_stats(RING4_W)
    assert info.spectral_gap == gap


@pytest.mark.parametrize("sep", [" ", ",", "\t", " ; "])
@pytest.mark.parametrize("diagonal", [False, True])
def test_weighted_edge_list_gives_exactly_the_file_w(tmp_path, diagonal, sep):
    p = _edge_list(tmp_path, "# weighted 4-ring\n" + _ring4_lines(diagonal, sep))
    info = T.make_topology("file", 4, rule="weights", path=str(p), world_size=4)
    assert np.array_equal(info.W, RING4_W)


def test_weighted_edge_list_relabelled_ids(tmp_path):
    # ids 10, 20, 30, 40 -> 0, 1, 2, 3 in sorted order; weights follow their edges
    p = _edge_list(tmp_path, "10 20 0.25\n20 30 0.375\n30 40 0.375\n10 40 0.25\n", "w.csv")
    info = T.make_topology("file", None, rule="weights", path=str(p))
    assert np.array_equal(info.W, RING4_W)


def test_diagonal_is_filled_as_one_minus_row_sum(tmp_path):
    # only node 0's own weight is given; the others are filled in
    p = _edge_list(tmp_path, "0 1 0.5\n1 2 0.25\n0 0 0.5\n")
    info = T.make_topology("file", None, rule="weights", path=str(p))
    expected = np.array([[0.5, 0.5, 0.0], [0.5, 0.25, 0.25], [0.0, 0.25, 0.75]])
    assert np.array_equal(info.W, expected)
    G = T.from_file(p)
    assert T.is_weighted(G) and G.edges[0, 1]["weight"] == 0.5 and G.nodes[0]["self_weight"] == 0.5
    assert "self_weight" not in G.nodes[1]


def test_duplicate_edge_with_same_weight_is_fine_and_other_weight_refused(tmp_path):
    p = _edge_list(tmp_path, _ring4_lines() + "1 0 0.25\n")
    assert np.array_equal(T.make_topology("file", None, rule="weights", path=str(p)).W, RING4_W)
    p.write_text(_ring4_lines() + "1 0 0.3\n")
    with pytest.raises(TopologyError, match=r"line 5: edge 1-0 is given weight 0.3 here but 0.25 on line 1"):
        T.from_file(p)


def test_digest_follows_w(tmp_path):
    ring = T.make_topology("ring", 4)
    p = _weighted_graphml(tmp_path)
    weighted = T.make_topology("file", None, rule="weights", path=str(p))
    assert weighted.edges == ring.edges and weighted.digest() != ring.digest()
    # the same W by another route has the same digest: it covers (n, edges, W)
    np.save(tmp_path / "W.npy", RING4_W)
    via_matrix = T.make_topology("file", None, rule="file", mixing_file=tmp_path / "W.npy")
    assert via_matrix.digest() == weighted.digest()
    # the file holding exactly Metropolis weights reproduces the metropolis digest
    np.save(tmp_path / "mh.npy", T.metropolis_hastings(T.ring(4)))
    assert T.make_topology("file", None, rule="file", mixing_file=tmp_path / "mh.npy").digest() == ring.digest()


# --------------------------------------------------------------------------- unweighted files unchanged


@pytest.mark.parametrize("rule", ["metropolis", "max-degree", "uniform"])
@pytest.mark.parametrize("kind", ["txt", "graphml"])
def test_unweighted_files_bit_identical_for_every_rule(tmp_path, rule, kind):
    H = T.torus(9)
    if kind == "txt":
        p = _edge_list(tmp_path, "".join(f"{u} {v}\n" for u, v in H.edges))
    else:
        p = tmp_path / "g.graphml"
        nx.write_graphml(H, p)
    G = T.from_file(p)
    assert not T.is_weighted(G) and G.graph == {}
    assert all(d == {} for _, _, d in G.edges(data=True)) and all(d == {} for _, d in G.nodes(data=True))
    info = T.make_topology("file", None, rule=rule, path=str(p))
    assert info.W.tobytes() == T.mixing_matrix(H, rule).tobytes()
    assert info.digest() == T.make_topology("torus", 9, rule=rule).digest()


def test_weights_rule_needs_weights(tmp_path):
    p = _edge_list(tmp_path, "0 1\n1 2\n2 0\n")
    with pytest.raises(TopologyError, match=r"'file:w.txt' has no edge weights.*--mixing metropolis"):
        T.make_topology("file", None, rule="weights", path=str(p))
    with pytest.raises(TopologyError, match="topology 'ring' has no edge weights"):
        T.make_topology("ring", 4, rule="weights")
    with pytest.raises(TopologyError, match="needs a topology file whose edges carry weights"):
        T.mixing_matrix(T.ring(4), "weights")


# --------------------------------------------------------------------------- weights present, wrong rule


@pytest.mark.parametrize("rule", ["metropolis", "max-degree", "uniform"])
@pytest.mark.parametrize("kind", ["txt", "graphml"])
def test_weights_without_mixing_weights_refused(tmp_path, rule, kind):
    p = _weighted_graphml(tmp_path) if kind == "graphml" else _edge_list(tmp_path, _ring4_lines())
    msg = "the topology file carries edge weights; use --mixing weights to use them as W, or remove the weights"
    with pytest.raises(TopologyError) as exc:
        T.make_topology("file", None, rule=rule, path=str(p))
    assert msg in str(exc.value) and p.name in str(exc.value)
    with pytest.raises(TopologyError, match="carries edge weights"):
        T.mixing_matrix(T.from_file(p), rule)


def test_weights_with_mixing_file_refused(tmp_path):
    p = _edge_list(tmp_path, _ring4_lines())
    np.save(tmp_path / "W.npy", RING4_W)
    with pytest.raises(TopologyError, match="carries edge weights; use --mixing weights"):
        T.make_topology("file", None, rule="file", path=str(p), mixing_file=tmp_path / "W.npy")


def test_issue_example_weight_column_now_parses(tmp_path):
    p = _edge_list(tmp_path, "0 1 1.0\n")
    G = T.from_file(p)
    assert G.edges[0, 1]["weight"] == 1.0
    with pytest.raises(TopologyError, match="use --mixing weights"):
        T.make_topology("file", None, path=str(p))


# --------------------------------------------------------------------------- invalid weighted files


@pytest.mark.parametrize("kind", ["txt", "graphml"])
def test_negative_weight_named_even_before_rule_check(tmp_path, kind):
    W = RING4_W.copy()
    W[1, 2] = W[2, 1] = -0.125
    if kind == "graphml":
        p = _weighted_graphml(tmp_path, W)
        match = r"edge '1'-'2' has negative weight -0.125"
    else:
        p = _edge_list(tmp_path, "0 1 0.25\n1 2 -0.125\n2 3 0.375\n3 0 0.25\n")
        match = r"line 2: edge 1-2 has negative weight -0.125"
    for rule in ("metropolis", "weights"):
        with pytest.raises(TopologyError, match=match):
            T.make_topology("file", None, rule=rule, path=str(p))


def test_negative_self_weight_named(tmp_path):
    p = _edge_list(tmp_path, "0 1 0.5\n1 1 -0.5\n")
    with pytest.raises(TopologyError, match=r"line 2: self weight 1-1 has negative weight -0.5"):
        T.from_file(p)


def test_non_finite_and_unparsable_weights(tmp_path):
    p = _edge_list(tmp_path, "0 1 nan\n")
    with pytest.raises(TopologyError, match=r"line 1: edge 0-1 has weight nan, which is not finite"):
        T.from_file(p)
    p.write_text("0 1 0.5\n1 2 heavy\n")
    with pytest.raises(TopologyError, match=r"line 2: cannot parse '1 2 heavy'.*'u v w'"):
        T.from_file(p)
    p.write_text("0 1 0.5 7\n")
    with pytest.raises(TopologyError, match=r"line 1: cannot parse"):
        T.from_file(p)


def test_graphml_string_weight_refused(tmp_path):
    p = tmp_path / "s.graphml"
    nx.write_graphml(nx.Graph([(0, 1, {"weight": "heavy"})]), p)
    with pytest.raises(TopologyError, match=r"edge '0'-'1' has weight 'heavy', which is not a number"):
        T.from_file(p)


def test_mixed_weighted_and_unweighted_edges_name_the_unweighted_edge(tmp_path):
    p = _edge_list(tmp_path, "0 1 0.5\n1 2\n2 0 0.5\n")
    with pytest.raises(TopologyError, match=r"line 2: edge 1-2 has no weight but edge 0-1 on line 1 has one"):
        T.from_file(p)
    p.write_text("0 1\n1 2 0.5\n")
    with pytest.raises(TopologyError, match=r"line 1: edge 0-1 has no weight but edge 1-2 on line 2 has one"):
        T.from_file(p)
    p.write_text("0 1\n1 2\n1 1 0.5\n")  # a self weight makes the file weighted too
    with pytest.raises(TopologyError, match=r"line 1: edge 0-1 has no weight but self weight 1-1 on line 3"):
        T.from_file(p)
    g = tmp_path / "m.graphml"
    nx.write_graphml(nx.Graph([(0, 1, {"weight": 0.5}), (1, 2)]), g)
    with pytest.raises(TopologyError, match=r"edge '1'-'2' has no weight but edge '0'-'1' has one"):
        T.from_file(g)


def test_unweighted_self_loop_still_refused(tmp_path):
    p = _edge_list(tmp_path, "0 1 0.5\n1 1\n")
    with pytest.raises(TopologyError, match=r"line 2: self-loop 1-1: remove it.*'1 1 w'"):
        T.from_file(p)


def test_row_not_summing_to_one_names_the_row(tmp_path):
    # diagonal given for node 2 but its row sums to 0.375 + 0.375 + 0.5 = 1.25
    p = _edge_list(tmp_path, _ring4_lines() + "2 2 0.5\n")
    with pytest.raises(TopologyError, match=r"row 2 of W sums to 1.25, not 1"):
        T.make_topology("file", None, rule="weights", path=str(p))


@pytest.mark.parametrize("text, message", [
    ("0 1 0.5\n1 2 0.75\n2 0 0.25\n",  # edge weights over one: the row and the fill named
     r"row 1: the weights of the node's edges sum to 1.25 > 1.*-0.25"),
    ("10 20 0.5\n20 30 0.75\n30 10 0.25\n",  # relabelled file: errors show the file's ids
     r"row 1 \(20 in the file\)"),
    ("0 1 0.5\n1 2 0\n2 0 0.5\n", r"edge \(1, 2\) of the topology has weight W\[1, 2\] = 0"),
    ("0 1 0.5\n2 3 0.5\n", r"disconnected: 2 components \(sizes \[2, 2\]\)"),
])
def test_invalid_weighted_edge_list_named(tmp_path, text, message):
    p = _edge_list(tmp_path, text)
    with pytest.raises(TopologyError, match=message):
        T.make_topology("file", None, rule="weights", path=str(p))


def test_weighted_file_world_size(tmp_path):
    p = _weighted_graphml(tmp_path)
    with pytest.raises(TopologyError, match="'file:w.graphml' has 4 nodes but the MPI world has 5 ranks"):
        T.make_topology("file", None, rule="weights", path=str(p), world_size=5)


# --------------------------------------------------------------------------- --mixing file


def test_npy_matrix_support_is_the_graph(tmp_path):
    np.save(tmp_path / "W.npy", RING4_W)
    info = T.make_topology("file", None, rule="file", mixing_file=str(tmp_path / "W.npy"), world_size=4)
    assert np.array_equal(info.W, RING4_W)
    assert info.edges == [(0, 1), (0, 3), (1, 2), (2, 3)] and info.name == "matrix:W.npy"
    same = T.make_topology(None, None, rule="file", mixing_file=tmp_path / "W.npy")
    assert same.digest() == info.digest()


@pytest.mark.parametrize("fmt", [",", " ", "\t"])
def test_csv_and_txt_matrix(tmp_path, fmt):
    for name in ("W.csv", "W.txt"):
        p = tmp_path / name
        np.savetxt(p, RING4_W, delimiter=fmt, fmt="%.17g", header="W for a 4-ring")
        info = T.make_topology("file", None, rule="file", mixing_file=p)
        assert np.array_equal(info.W, RING4_W)


def test_matrix_must_match_topology_file_edges(tmp_path):
    np.save(tmp_path / "W.npy", RING4_W)
    ring = _edge_list(tmp_path, "0 1\n1 2\n2 3\n3 0\n", "ring.txt")
    info = T.make_topology("file", None, rule="file", path=str(ring), mixing_file=tmp_path / "W.npy")
    assert np.array_equal(info.W, RING4_W) and info.name == "file:ring.txt"
    # builders work too: W must fit the built graph
    assert np.array_equal(T.make_topology("ring", 4, rule="file", mixing_file=tmp_path / "W.npy").W, RING4_W)
    path = _edge_list(tmp_path, "0 1\n1 2\n2 3\n", "path.txt")
    with pytest.raises(TopologyError, match=r"W\[0, 3\] = 0.25 is positive but \(0, 3\) is not an edge"):
        T.make_topology("file", None, rule="file", path=str(path), mixing_file=tmp_path / "W.npy")
    extra = _edge_list(tmp_path, "0 1\n1 2\n2 3\n3 0\n0 2\n", "extra.txt")
    with pytest.raises(TopologyError, match=r"edge \(0, 2\) of the topology has weight W\[0, 2\] = 0"):
        T.make_topology("file", None, rule="file", path=str(extra), mixing_file=tmp_path / "W.npy")
    with pytest.raises(TopologyError, match=r"W is 4x4 but the topology has 5 nodes"):
        T.make_topology("ring", 5, rule="file", mixing_file=tmp_path / "W.npy")


def test_npy_object_array_refused_without_pickle(tmp_path):
    p = tmp_path / "obj.npy"
    np.save(p, np.array([[1.0, {"x": 1}]], dtype=object), allow_pickle=True)
    with pytest.raises(TopologyError, match="object array.*pickle"):
        T.load_matrix(p)
    with pytest.raises(TopologyError, match="object array"):
        T.make_topology("file", None, rule="file", mixing_file=p)


def test_npz_and_complex_and_unknown_suffix_refused(tmp_path):
    np.savez(tmp_path / "W.npz", W=RING4_W)
    with pytest.raises(TopologyError, match="unknown type '.npz'"):
        T.load_matrix(tmp_path / "W.npz")
    (tmp_path / "z.npy").write_bytes((tmp_path / "W.npz").read_bytes())
    with pytest.raises(TopologyError, match=r"\.npz archive"):
        T.load_matrix(tmp_path / "z.npy")
    np.save(tmp_path / "c.npy", RING4_W.astype(complex))
    with pytest.raises(TopologyError, match="dtype complex128"):
        T.load_matrix(tmp_path / "c.npy")
    with pytest.raises(TopologyError, match="mixing file not found"):
        T.load_matrix(tmp_path / "missing.npy")


def _save(tmp_path, W):
    p = tmp_path / "bad.npy"
    np.save(p, np.asarray(W, dtype=np.float64))
    return p


def _refused(tmp_path, W, match, **kw):
    with pytest.raises(TopologyError, match=match):
        T.make_topology("file", None, rule="file", mixing_file=_save(tmp_path, W), **kw)


def test_matrix_not_square_or_wrong_size(tmp_path):
    _refused(tmp_path, np.ones((3, 4)) / 4, r"square n x n matrix .* got shape \(3, 4\)")
    _refused(tmp_path, np.ones(4) / 4, r"got shape \(4,\)")
    _refused(tmp_path, RING4_W, r"W is 4x4 but the MPI world has 5 ranks: launch with `mpiexec -n 4`", world_size=5)
    with pytest.raises(TopologyError, match=r"W is 4x4 but n=3 nodes were requested"):
        T.make_topology("file", 3, rule="file", mixing_file=_save(tmp_path, RING4_W))
    (tmp_path / "ragged.csv").write_text("0.5,0.5\n0.5\n")
    with pytest.raises(TopologyError, match="line 2 has 1 values but line 1 has 2"):
        T.load_matrix(tmp_path / "ragged.csv")
    (tmp_path / "word.csv").write_text("0.5,0.5\n0.5,half\n")
    with pytest.raises(TopologyError, match=r"line 2: cannot parse '0.5,half'"):
        T.load_matrix(tmp_path / "word.csv")


def test_matrix_nan_inf(tmp_path):
    W = RING4_W.copy()
    W[2, 1] = np.nan
    _refused(tmp_path, W, r"W\[2, 1\] = nan is not finite")
    W[2, 1] = np.inf
    _refused(tmp_path, W, r"W\[2, 1\] = inf is not finite")


def test_matrix_negative_entry_named(tmp_path):
    W = RING4_W.copy()
    W[0, 1] = W[1, 0] = -1e-9
    W[0, 0] += 0.25 + 1e-9
    W[1, 1] += 0.25 + 1e-9
    _refused(tmp_path, W, r"W\[0, 1\] = -1e-09 is negative: gossip weights must be >= 0")


def test_matrix_asymmetric_names_worst_pair(tmp_path):
    W = RING4_W.copy()
    W[2, 3] += 0.01
    W[2, 2] -= 0.01  # rows still sum to 1
    W[1, 2] += 1e-4
    W[1, 1] -= 1e-4
    _refused(tmp_path, W, r"not symmetric: W\[2, 3\] = 0.385 but W\[3, 2\] = 0.375 .*worst pair")
    # within 1e-6 is accepted, and W is used exactly as stored
    W = RING4_W.copy()
    W[2, 3] += 5e-7
    W[2, 2] -= 5e-7
    info = T.make_topology("file", None, rule="file", mixing_file=_save(tmp_path, W))
    assert np.array_equal(info.W, W)


def test_matrix_row_sum_names_row_and_sum(tmp_path):
    W = RING4_W.copy()
    W[3, 3] += 1e-3
    _refused(tmp_path, W, r"row 3 of W sums to 1.001, not 1")
    W = RING4_W.copy()
    W[3, 3] += 5e-7  # within 1e-6: accepted as given
    assert np.array_equal(T.make_topology("file", None, rule="file", mixing_file=_save(tmp_path, W)).W, W)


def test_matrix_disconnected_support(tmp_path):
    W = np.kron(np.eye(2), np.full((2, 2), 0.5))  # two separate pairs
    _refused(tmp_path, W, r"support of W .* is disconnected: 2 components \(sizes \[2, 2\]\); nodes \[2, 3\]")
    _refused(tmp_path, np.eye(3), r"disconnected: 3 components")


def test_single_node_matrix(tmp_path):
    info = T.make_topology("file", None, rule="file", mixing_file=_save(tmp_path, [[1.0]]), world_size=1)
    assert info.n == 1 and info.edges == [] and info.W.tolist() == [[1.0]]


def test_mixing_file_flag_consistency(tmp_path):
    p = _save(tmp_path, RING4_W)
    with pytest.raises(TopologyError, match="only read with --mixing file, but --mixing is 'metropolis'"):
        T.make_topology("ring", 4, mixing_file=p)
    with pytest.raises(TopologyError, match="needs a matrix file: pass --mixing-file PATH"):
        T.make_topology("ring", 4, rule="file")
    with pytest.raises(TopologyError, match="needs a matrix file"):
        T.mixing_matrix(T.ring(4), "file")
    with pytest.raises(TopologyError, match="unknown mixing rule 'fdla'.*weights, file"):
        T.make_topology("ring", 4, rule="fdla")


def test_check_matrix_direct():
    W, G = T.check_matrix(RING4_W, source="test")
    assert sorted(G.edges) == [(0, 1), (0, 3), (1, 2), (2, 3)] and W.dtype == np.float64
    assert W is not RING4_W
    with pytest.raises(TopologyError, match=r"^test: "):
        T.check_matrix(RING4_W * 2, source="test")
