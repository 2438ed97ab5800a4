"""Tests for the pure-numbers ``topologies`` package (graphs, mixing matrices, validation)."""

from __future__ import annotations

import dataclasses
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import topologies as T
from topologies import TopologyError, TopologyInfo

RULES = ["metropolis", "max-degree", "uniform"]

# (name, n, kwargs) covering every builder at several sizes.
CASES = (
    [("ring", n, {}) for n in (1, 2, 3, 4, 7, 16)]
    + [("complete", n, {}) for n in (1, 2, 5, 8)]
    + [("star", n, {}) for n in (1, 2, 5, 9)]
    + [("hypercube", n, {}) for n in (1, 2, 4, 8, 32)]
    + [("exponential", n, {}) for n in (1, 2, 3, 6, 8, 13, 16)]
    + [("torus", n, {}) for n in (9, 12, 16, 25, 30)]
    + [("erdos-renyi", n, {"p": 0.4, "seed": s}) for n in (1, 5, 12) for s in (0, 7)]
    + [("random-regular", n, {"degree": d, "seed": 3}) for n, d in ((4, 3), (8, 3), (10, 4), (12, 2))]
)


def _id(case):
    name, n, kw = case
    return f"{name}-{n}" + "".join(f"-{k}{v}" for k, v in kw.items())


def _is_regular(G: nx.Graph) -> bool:
    return len({d for _, d in G.degree()}) <= 1


def _ring_W(n: int = 4) -> np.ndarray:
    return T.metropolis_hastings(T.ring(n))


# --------------------------------------------------------------------------- builders


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_builder_gives_connected_graph_on_0_to_n_minus_1(case):
    name, n, kw = case
    G = T.build(name, n, **kw)
    assert isinstance(G, nx.Graph) and not G.is_directed() and not G.is_multigraph()
    assert list(G.nodes) == list(range(n))
    assert nx.number_of_selfloops(G) == 0
    assert nx.is_connected(G)


@pytest.mark.parametrize("n", [3, 4, 5, 10, 17])
def test_ring_is_a_cycle(n):
    G = T.ring(n)
    assert all(d == 2 for _, d in G.degree())
    assert G.number_of_edges() == n
    assert all(G.has_edge(i, (i + 1) % n) for i in range(n))


def test_ring_small_cases():
    G1 = T.ring(1)
    assert list(G1.nodes) == [0] and G1.number_of_edges() == 0
    G2 = T.ring(2)
    assert sorted(G2.edges) == [(0, 1)] and type(G2) is nx.Graph
    assert T.complete(1).number_of_nodes() == 1 and T.complete(1).number_of_edges() == 0


@pytest.mark.parametrize("n", [2, 3, 6, 9])
def test_complete_degrees(n):
    G = T.complete(n)
    assert all(d == n - 1 for _, d in G.degree())
    assert G.number_of_edges() == n * (n - 1) // 2


@pytest.mark.parametrize("n", [2, 5, 10])
def test_star_centre_is_zero(n):
    G = T.star(n)
    assert G.degree(0) == n - 1
    assert all(G.degree(i) == 1 and G.has_edge(0, i) for i in range(1, n))


@pytest.mark.parametrize("n", [2, 4, 8, 16, 64])
def test_hypercube_degree_is_log2_n(n):
    G = T.hypercube(n)
    k = int(math.log2(n))
    assert all(d == k for _, d in G.degree())
    assert all(bin(u ^ v).count("1") == 1 for u, v in G.edges)
    assert nx.is_isomorphic(G, nx.hypercube_graph(k))


@pytest.mark.parametrize("n", [3, 6, 12, 100])
def test_hypercube_rejects_non_power_of_two(n):
    with pytest.raises(TopologyError, match="power of two"):
        T.hypercube(n)


@pytest.mark.parametrize("n", [2, 3, 5, 6, 8, 12, 16, 31, 32])
def test_exponential_degree(n):
    G = T.exponential(n)
    offsets = {(s * 2**k) % n for k in range(n.bit_length()) if 2**k < n for s in (1, -1)} - {0}
    assert all(d == len(offsets) for _, d in G.degree())
    assert set(T.exponential_offsets(n)) == offsets
    for i in range(n):
        assert set(G.neighbors(i)) == {(i + o) % n for o in offsets}
    if n & (n - 1) == 0:
        assert len(offsets) == 2 * int(math.log2(n)) - 1


@pytest.mark.parametrize("n,shape", [(9, (3, 3)), (12, (3, 4)), (16, (4, 4)), (30, (5, 6)), (36, (6, 6)), (21, (3, 7))])
def test_torus_most_square_shape_and_degree_4(n, shape):
    assert T.torus_shape(n) == shape
    G = T.torus(n)
    rows, cols = shape
    assert all(d == 4 for _, d in G.degree())
    assert G.number_of_edges() == 2 * n
    assert nx.is_isomorphic(G, nx.grid_2d_graph(rows, cols, periodic=True))
    # node r*cols + c is linked to (r, c+1) and (r+1, c)
    assert G.has_edge(0, 1) and G.has_edge(0, cols) and G.has_edge(0, cols - 1) and G.has_edge(0, (rows - 1) * cols)


def test_torus_explicit_rows():
    G = T.torus(24, rows=3)
    assert T.torus_shape(24, rows=3) == (3, 8)
    assert nx.is_isomorphic(G, nx.grid_2d_graph(3, 8, periodic=True))
    with pytest.raises(TopologyError, match="does not divide"):
        T.torus(24, rows=5)
    with pytest.raises(TopologyError, match=">= 3"):
        T.torus(16, rows=2)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8, 13, 14, 22])
def test_torus_impossible_n_explains_and_suggests_ring(n):
    with pytest.raises(TopologyError) as exc:
        T.torus(n)
    msg = str(exc.value)
    assert "rows*cols" in msg and ">= 3" in msg and "ring" in msg and f"n={n}" in msg
    assert "side of 2" in msg


def test_torus_prime_message_says_prime():
    with pytest.raises(TopologyError, match="n=13 is prime"):
        T.torus(13)


@pytest.mark.parametrize("builder", [T.ring, T.complete, T.star, T.exponential, T.hypercube])
@pytest.mark.parametrize("bad", [0, -3, 2.5, "4", True])
def test_builders_reject_bad_n(builder, bad):
    with pytest.raises(TopologyError, match="n must be"):
        builder(bad)


# --------------------------------------------------------------------------- seeded builders


def test_erdos_renyi_reproducible_and_seed_dependent():
    a = T.erdos_renyi(20, 0.3, seed=5)
    b = T.erdos_renyi(20, 0.3, seed=5)
    assert sorted(a.edges) == sorted(b.edges)
    distinct = {tuple(sorted(T.erdos_renyi(20, 0.3, seed=s).edges)) for s in range(6)}
    assert len(distinct) >= 5


def test_erdos_renyi_resamples_until_connected():
    # p=0.12 on 20 nodes: many raw samples are disconnected; the builder must move on to seed+1, ...
    resampled = 0
    for seed in range(10):
        G = T.erdos_renyi(20, 0.12, seed=seed)
        assert nx.is_connected(G)
        first = next(s for s in range(seed, seed + 100) if nx.is_connected(nx.gnp_random_graph(20, 0.12, seed=s)))
        assert sorted(G.edges) == sorted(nx.gnp_random_graph(20, 0.12, seed=first).edges)
        resampled += first != seed
    assert resampled > 0


def test_erdos_renyi_gives_up_with_clear_error():
    with pytest.raises(TopologyError, match=r"disconnected for all 100 seeds 0\.\.99.*raise p"):
        T.erdos_renyi(30, 0.01, seed=0)
    with pytest.raises(TopologyError, match="p > 0"):
        T.erdos_renyi(5, 0.0)
    with pytest.raises(TopologyError, match=r"\[0, 1\]"):
        T.erdos_renyi(5, 1.5)


def test_random_regular_reproducible_regular_and_seed_dependent():
    a = T.random_regular(16, 3, seed=1)
    assert sorted(a.edges) == sorted(T.random_regular(16, 3, seed=1).edges)
    assert all(d == 3 for _, d in a.degree())
    distinct = {tuple(sorted(T.random_regular(16, 3, seed=s).edges)) for s in range(6)}
    assert len(distinct) >= 5


@pytest.mark.parametrize(
    "n,degree,match",
    [(5, 3, "must be even"), (4, 4, "degree must be < n"), (6, 1, "never connected"), (6, 0, "never connected")],
)
def test_random_regular_rejects_impossible_requests(n, degree, match):
    with pytest.raises(TopologyError, match=match):
        T.random_regular(n, degree, seed=0)


# --------------------------------------------------------------------------- registry / build


def test_registry_names_and_dispatch():
    assert set(T.BUILDERS) == {
        "ring", "torus", "complete", "star", "hypercube", "exponential", "erdos-renyi", "random-regular", "file",
    }
    assert set(T.MIXING) == {"metropolis", "max-degree", "uniform"}
    assert sorted(T.build("ring", 5).edges) == sorted(T.ring(5).edges)
    assert sorted(T.build("torus", 24, rows=4).edges) == sorted(T.torus(24, rows=4).edges)
    assert sorted(T.build("random-regular", 10, degree=4, seed=2).edges) == sorted(T.random_regular(10, 4, 2).edges)
    assert sorted(T.build("erdos_renyi", 10, p=0.5, seed=2).edges) == sorted(T.erdos_renyi(10, 0.5, 2).edges)


def test_build_unknown_name_lists_valid_names():
    with pytest.raises(TopologyError) as exc:
        T.build("mesh", 4)
    msg = str(exc.value)
    assert "'mesh'" in msg
    for name in T.BUILDERS:
        assert name in msg


def test_mixing_matrix_unknown_rule_lists_valid_rules():
    with pytest.raises(TopologyError) as exc:
        T.mixing_matrix(T.ring(4), "laplacian")
    assert all(r in str(exc.value) for r in RULES)


# --------------------------------------------------------------------------- mixing + validation on every builder


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_every_rule_on_every_builder_validates(case, rule):
    name, n, kw = case
    G = T.build(name, n, **kw)
    if rule == "uniform" and not _is_regular(G):
        with pytest.raises(TopologyError, match="regular graph.*metropolis"):
            T.mixing_matrix(G, rule)
        return
    W = T.mixing_matrix(G, rule)
    assert W.dtype == np.float64 and W.shape == (n, n)
    np.testing.assert_allclose(W.sum(axis=0), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert np.array_equal(W, W.T)
    assert (W >= 0).all()
    info = T.validate(G, W, world_size=n, name=name)
    assert info.n == n
    assert 0.0 < info.spectral_gap <= 1.0  # positive diagonal + connected -> gap > 0
    assert 0.0 <= info.beta <= 2.0


def test_metropolis_weights_follow_degrees():
    G = T.star(5)  # centre degree 4, leaves degree 1 -> every edge weight 1/5
    W = T.metropolis_hastings(G)
    assert np.allclose(W[0, 1:], 0.2) and math.isclose(W[0, 0], 0.2)
    assert np.allclose(np.diag(W)[1:], 0.8)
    H = nx.Graph([(0, 1), (1, 2), (2, 3), (1, 3)])  # degrees 1, 3, 2, 2
    W = T.metropolis_hastings(H)
    assert math.isclose(W[0, 1], 1 / 4) and math.isclose(W[2, 3], 1 / 3) and math.isclose(W[1, 2], 1 / 4)
    assert math.isclose(W[0, 0], 3 / 4) and math.isclose(W[1, 1], 1 - 3 / 4)


def test_max_degree_weights():
    W = T.max_degree(T.star(5))
    assert np.allclose(W[0, 1:], 1 / 5) and np.allclose(np.diag(W)[1:], 4 / 5)
    H = nx.Graph([(0, 1), (1, 2), (2, 3), (1, 3)])
    W = T.max_degree(H)
    off = W[~np.eye(4, dtype=bool)]
    assert set(np.round(off[off > 0], 12)) == {round(1 / 4, 12)}


@pytest.mark.parametrize("G", [T.ring(6), T.hypercube(8), T.torus(12), T.complete(5), T.exponential(10)], ids=str)
def test_uniform_on_regular_graphs_matches_metropolis(G):
    W = T.uniform(G)
    d = G.degree(0)
    assert np.allclose(np.diag(W), 1 / (d + 1))
    assert np.allclose(W, T.metropolis_hastings(G), atol=1e-15)
    assert np.allclose(W, T.max_degree(G), atol=1e-15)


def test_mixing_rejects_bad_labels_and_self_loops():
    with pytest.raises(TopologyError, match="convert_node_labels_to_integers"):
        T.metropolis_hastings(nx.Graph([("a", "b")]))
    G = T.ring(4)
    G.add_edge(2, 2)
    with pytest.raises(TopologyError, match="self-loop on node 2"):
        T.mixing_matrix(G)


# --------------------------------------------------------------------------- spectra


def test_ring4_metropolis_spectrum():
    info = T.make_topology("ring", 4)
    assert np.allclose(info.W[info.W > 0], 1 / 3)
    assert np.allclose(np.sort(np.linalg.eigvalsh(info.W)), [-1 / 3, 1 / 3, 1 / 3, 1])
    assert math.isclose(info.spectral_gap, 2 / 3, abs_tol=1e-12)
    assert math.isclose(info.beta, 4 / 3, abs_tol=1e-12)
    assert info.summary() == "ring n=4 edges=4 degree 2..2 spectral gap 0.6667"


@pytest.mark.parametrize("n", [5, 6, 7, 8, 12, 20])
def test_ring_metropolis_gap_matches_closed_form(n):
    # W = (I + A)/3 on a cycle: eigenvalues (1 + 2 cos(2 pi k / n)) / 3.
    lam = [(1 + 2 * math.cos(2 * math.pi * k / n)) / 3 for k in range(1, n)]
    expected = 1 - max(abs(x) for x in lam)
    info = T.make_topology("ring", n)
    assert math.isclose(info.spectral_gap, expected, abs_tol=1e-12)
    assert math.isclose(info.beta, 1 - min(lam), abs_tol=1e-12)


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_complete_metropolis_is_averaging(n):
    info = T.make_topology("complete", n)
    assert np.allclose(info.W, np.full((n, n), 1 / n), atol=1e-15)
    assert math.isclose(info.spectral_gap, 1.0, abs_tol=1e-12)
    assert math.isclose(info.beta, 1.0, abs_tol=1e-12)


def test_single_node_topology():
    info = T.make_topology("ring", 1)
    assert info.n == 1 and info.edges == [] and info.neighbours == ((),) and info.degrees == (0,)
    assert info.W.tolist() == [[1.0]]
    assert info.spectral_gap == 1.0 and info.beta == 0.0


def test_bipartite_max_degree_ring_has_zero_gap():
    # ring n=2 with max-degree: W = [[1/2, 1/2], [1/2, 1/2]] -> gap 1; ring n=4 with W = A/2 would be -1 -> gap 0.
    assert math.isclose(T.make_topology("ring", 2, rule="max-degree").spectral_gap, 1.0)
    G = T.ring(4)
    W = nx.to_numpy_array(G, nodelist=range(4)) / 2
    info = T.validate(G, W)
    assert info.spectral_gap == pytest.approx(0.0, abs=1e-12)
    assert info.beta == pytest.approx(2.0)


def test_gap_ordering_across_topologies():
    gaps = {name: T.make_topology(name, 16).spectral_gap for name in ("ring", "torus", "exponential", "complete")}
    assert gaps["ring"] < gaps["torus"] < gaps["exponential"] < gaps["complete"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- TopologyInfo


def test_topology_info_fields():
    info = T.make_topology("star", 4)
    assert isinstance(info, TopologyInfo)
    assert {f.name for f in dataclasses.fields(info)} >= {
        "n", "edges", "neighbours", "degrees", "W", "spectral_gap", "beta",
    }
    assert info.edges == [(0, 1), (0, 2), (0, 3)]
    assert info.neighbours == ((1, 2, 3), (0,), (0,), (0,))
    assert info.degrees == (3, 1, 1, 1)
    assert info.summary() == f"star n=4 edges=3 degree 1..3 spectral gap {info.spectral_gap:.4f}"


def test_topology_info_is_immutable():
    info = T.make_topology("ring", 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.n = 6  # type: ignore[misc]
    with pytest.raises(ValueError):
        info.W[0, 0] = 0.5
    # validate copies: changing the caller's array later does not change info.W
    W = T.metropolis_hastings(T.ring(5))
    info2 = T.validate(T.ring(5), W)
    W[0, 0] = 99.0
    assert info2.W[0, 0] == pytest.approx(1 / 3)


def test_edges_sorted_with_i_less_than_j():
    info = T.make_topology("random-regular", 12, degree=3, seed=4)
    assert info.edges == sorted(info.edges)
    assert all(i < j for i, j in info.edges)
    assert len(info.edges) == 18


def test_digest_is_stable_and_sensitive():
    a = T.make_topology("ring", 4)
    # pinned: a change here breaks checkpoint compatibility checks
    assert a.digest() == "7cbde5d7c131289247264a5ac12799ce7d1c02966d61277787421ab48702b1fd"
    assert a.digest() == T.make_topology("ring", 4).digest()
    # memory layout of W does not matter
    G = T.ring(4)
    assert T.validate(G, np.asfortranarray(T.metropolis_hastings(G))).digest() == a.digest()
    others = {
        T.make_topology("ring", 5).digest(),
        T.make_topology("complete", 4).digest(),
        T.make_topology("star", 4).digest(),
        a.digest(),
    }
    assert len(others) == 4
    # the digest covers (n, edges, W) only: on a regular graph max-degree gives the same W
    assert T.make_topology("ring", 4, rule="max-degree").digest() == a.digest()
    # same graph, different weights -> different digest
    W = nx.to_numpy_array(G, nodelist=range(4)) / 4
    np.fill_diagonal(W, 0.5)
    assert T.validate(G, W).digest() != a.digest()


# --------------------------------------------------------------------------- validation failures


def test_topology_error_is_value_error():
    assert issubclass(TopologyError, ValueError)


def test_wrong_world_size_message():
    with pytest.raises(TopologyError) as exc:
        T.make_topology("ring", 4, world_size=3)
    assert str(exc.value) == (
        "topology 'ring' has 4 nodes but the MPI world has 3 ranks: "
        "launch with `mpiexec -n 4` or choose a topology with 3 nodes"
    )


def test_world_size_checked_first():
    G = nx.Graph([(0, 1), (2, 3)])  # also disconnected
    with pytest.raises(TopologyError, match="MPI world has 5 ranks"):
        T.validate(G, np.eye(4), world_size=5, name="x")


def test_disconnected_graph_names_component_count():
    G = nx.Graph()
    G.add_nodes_from(range(6))
    G.add_edges_from([(0, 1), (1, 2), (3, 4)])
    with pytest.raises(TopologyError, match=r"disconnected: 3 components \(sizes \[3, 2, 1\]\)"):
        T.validate(G, T.metropolis_hastings(G))


def test_bad_node_labels():
    G = nx.Graph([(1, 2), (2, 3)])
    with pytest.raises(TopologyError, match=r"integers 0\.\.2.*convert_node_labels_to_integers"):
        T.validate(G, np.eye(3))


def test_wrong_shape():
    with pytest.raises(TopologyError, match=r"shape \(3, 3\).*4x4"):
        T.validate(T.ring(4), np.eye(3))


def test_non_finite():
    W = _ring_W()
    W[2, 3] = np.nan
    with pytest.raises(TopologyError, match=r"W\[2, 3\] = nan is not finite"):
        T.validate(T.ring(4), W)


def test_asymmetric_reports_max_difference():
    W = _ring_W()
    W[0, 1] += 0.125
    with pytest.raises(TopologyError, match=r"not symmetric: max \|W - W\^T\| = 0\.125 at \(0, 1\)"):
        T.validate(T.ring(4), W)


def test_negative_entry_named():
    W = _ring_W()
    W[1, 2] = W[2, 1] = -0.25
    with pytest.raises(TopologyError, match=r"negative entry W\[1, 2\] = -0\.25"):
        T.validate(T.ring(4), W)


def test_bad_row_sum_names_worst_row():
    W = _ring_W()
    W[2, 2] += 0.01
    W[3, 3] += 0.001
    with pytest.raises(TopologyError, match=r"row 2 sums to 1\.01") as exc:
        T.validate(T.ring(4), W)
    assert "diagonal" in str(exc.value)


def test_row_sum_within_tol_passes_and_outside_fails():
    W = _ring_W()
    W[1, 1] += 1e-13
    T.validate(T.ring(4), W)  # within default tol 1e-12
    W[1, 1] += 1e-11
    with pytest.raises(TopologyError, match="row 1"):
        T.validate(T.ring(4), W)
    T.validate(T.ring(4), W, tol=1e-9)


def test_weight_on_non_edge_named():
    W = _ring_W()  # 0 and 2 are not adjacent on the 4-ring
    W[0, 2] = W[2, 0] = 0.1
    W[0, 0] -= 0.1
    W[2, 2] -= 0.1
    with pytest.raises(TopologyError, match=r"W\[0, 2\] = 0\.1 but \(0, 2\) is not an edge"):
        T.validate(T.ring(4), W)


def test_zero_weight_edge_named():
    W = _ring_W()
    W[0, 1] = W[1, 0] = 0.0
    W[0, 0] += 1 / 3
    W[1, 1] += 1 / 3
    with pytest.raises(TopologyError, match=r"edge \(0, 1\) has weight W\[0, 1\] = 0"):
        T.validate(T.ring(4), W)


def test_directed_graph_rejected():
    with pytest.raises(TopologyError, match="undirected"):
        T.validate(nx.DiGraph([(0, 1), (1, 0)]), np.full((2, 2), 0.5))


# --------------------------------------------------------------------------- from_file


def test_from_file_edge_list(tmp_path):
    p = tmp_path / "g.txt"
    p.write_text("# a 4-ring\n0 1\n1 2   # trailing comment\n\n2\t3\n3 0\n0 1\n")
    G = T.from_file(p)
    assert list(G.nodes) == [0, 1, 2, 3]
    assert nx.is_isomorphic(G, T.ring(4)) and G.has_edge(0, 3) and G.number_of_edges() == 4


def test_from_file_csv_relabels_sorted(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text("10,30\n30,20\n20,40\n")  # path 10-30-20-40 -> 0-2-1-3
    G = T.from_file(str(p))
    assert list(G.nodes) == [0, 1, 2, 3]
    assert sorted(map(sorted, G.edges)) == [[0, 2], [1, 2], [1, 3]]


def test_from_file_keeps_0_to_n_minus_1_labels(tmp_path):
    p = tmp_path / "g.edges"
    p.write_text("3 0\n0 2\n2 1\n")
    G = T.from_file(p)
    assert sorted(map(sorted, G.edges)) == [[0, 2], [0, 3], [1, 2]]


def test_from_file_graphml(tmp_path):
    H = T.torus(9)
    p = tmp_path / "g.graphml"
    nx.write_graphml(H, p)
    G = T.from_file(p)
    assert list(G.nodes) == list(range(9))
    assert sorted(G.edges) == sorted(H.edges)


def test_from_file_graphml_string_ids_natural_order(tmp_path):
    H = nx.Graph([("n0", "n1"), ("n1", "n2"), ("n2", "n10"), ("n10", "n0")])
    p = tmp_path / "g.graphml"
    nx.write_graphml(H, p)
    G = T.from_file(p)
    # natural order n0, n1, n2, n10 -> 0, 1, 2, 3
    assert sorted(map(sorted, G.edges)) == [[0, 1], [0, 3], [1, 2], [2, 3]]


def test_from_file_graphml_self_loop_rejected(tmp_path):
    p = tmp_path / "g.graphml"
    nx.write_graphml(nx.Graph([(0, 1), (1, 1)]), p)
    with pytest.raises(TopologyError, match="self-loop on node '1'"):
        T.from_file(p)


def test_from_file_malformed_line_number(tmp_path):
    p = tmp_path / "g.txt"
    p.write_text("0 1\n# comment\n1 x\n2 0\n")
    with pytest.raises(TopologyError, match=r"line 3: cannot parse '1 x'"):
        T.from_file(p)
    p.write_text("0 1\n1 2 3\n")
    with pytest.raises(TopologyError, match="line 2"):
        T.from_file(p)


def test_from_file_self_loop_line_number(tmp_path):
    p = tmp_path / "g.txt"
    p.write_text("0 1\n1 2\n2 2\n")
    with pytest.raises(TopologyError, match=r"line 3: self-loop 2-2"):
        T.from_file(p)


def test_from_file_missing_and_unknown_type_and_empty(tmp_path):
    with pytest.raises(TopologyError, match="not found"):
        T.from_file(tmp_path / "nope.txt")
    p = tmp_path / "g.json"
    p.write_text("{}")
    with pytest.raises(TopologyError, match=r"unknown topology file type '\.json'.*graphml"):
        T.from_file(p)
    e = tmp_path / "empty.txt"
    e.write_text("# nothing\n")
    with pytest.raises(TopologyError, match="no edges"):
        T.from_file(e)
    bad = tmp_path / "bad.graphml"
    bad.write_text("<graphml><oops")
    with pytest.raises(TopologyError, match="GraphML"):
        T.from_file(bad)


def test_build_and_make_topology_from_file(tmp_path):
    p = tmp_path / "ring5.txt"
    p.write_text("\n".join(f"{i} {(i + 1) % 5}" for i in range(5)))
    info = T.make_topology("file", 5, path=str(p), world_size=5)
    assert info.n == 5 and info.degrees == (2,) * 5
    assert info.digest() == T.make_topology("ring", 5).digest()
    assert T.build("file", None, path=str(p)).number_of_nodes() == 5
    with pytest.raises(TopologyError, match="has 5 nodes but n=4"):
        T.build("file", 4, path=str(p))
    with pytest.raises(TopologyError, match="needs path"):
        T.build("file", 5)
    with pytest.raises(TopologyError, match="'file:ring5.txt' has 5 nodes but the MPI world has 6"):
        T.make_topology("file", None, path=str(p), world_size=6)


# --------------------------------------------------------------------------- properties


@st.composite
def connected_graphs(draw, max_n: int = 12):
    """A random connected simple graph on 0..n-1: a random spanning tree plus random extra edges."""
    n = draw(st.integers(1, max_n))
    perm = draw(st.permutations(range(n)))
    G = nx.Graph()
    G.add_nodes_from(range(n))
    for k in range(1, n):
        parent = draw(st.integers(0, k - 1))
        G.add_edge(perm[k], perm[parent])
    if n > 1:
        pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda e: e[0] != e[1])
        G.add_edges_from(draw(st.lists(pairs, max_size=2 * n)))
    return G


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(connected_graphs(), st.sampled_from(["metropolis", "max-degree"]))
def test_property_random_graph_mixing_is_valid_doubly_stochastic(G, rule):
    n = G.number_of_nodes()
    W = T.mixing_matrix(G, rule)
    assert np.array_equal(W, W.T)
    assert (W >= 0).all()
    assert np.abs(W.sum(axis=1) - 1).max() <= 1e-12
    assert np.abs(W.sum(axis=0) - 1).max() <= 1e-12
    # diagonal strictly positive (lazy) for both rules
    assert (np.diag(W) > 0).all()
    info = T.validate(G, W, world_size=n)
    eig = np.linalg.eigvalsh(W)
    assert eig.max() == pytest.approx(1.0, abs=1e-10)
    assert eig.min() > -1.0  # positive diagonal: no eigenvalue -1, so gossip converges
    assert 0.0 < info.spectral_gap <= 1.0
    assert info.degrees == tuple(d for _, d in sorted(G.degree()))
    assert sum(info.degrees) == 2 * len(info.edges)


@settings(max_examples=100, deadline=None)
@given(connected_graphs(max_n=10), st.data())
def test_property_removing_an_edge_weight_is_caught(G, data):
    if G.number_of_edges() == 0:
        return
    W = T.metropolis_hastings(G)
    i, j = data.draw(st.sampled_from(sorted(G.edges)))
    w = W[i, j]
    W[i, j] = W[j, i] = 0.0
    W[i, i] += w
    W[j, j] += w
    with pytest.raises(TopologyError, match=rf"edge \({min(i, j)}, {max(i, j)}\)"):
        T.validate(G, W)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40))
def test_property_exponential_and_ring_always_valid(n):
    for name in ("ring", "exponential"):
        info = T.make_topology(name, n, world_size=n)
        assert info.n == n and len(set(info.degrees)) == 1
