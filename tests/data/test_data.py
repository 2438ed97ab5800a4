"""Data: the digits split and the seeded partitions."""

import numpy as np
import pytest

from gossip.data import BatchSampler, partition
from gossip.data.digits import load_digits_split
from gossip.rng import numpy_rng


def test_digits_split_is_real_stratified_and_seeded():
    a = load_digits_split(0.2, seed=0)
    b = load_digits_split(0.2, seed=0)
    c = load_digits_split(0.2, seed=1)
    assert len(a.y_train) + len(a.y_test) == 1797 and a.x_train.shape[1] == 64
    assert 0 <= a.x_train.min() and a.x_train.max() <= 1
    assert np.array_equal(a.y_test, b.y_test) and not np.array_equal(a.x_test, c.x_test)
    counts = np.bincount(a.y_test, minlength=10)
    assert counts.min() >= 30  # every class represented in the test set


@pytest.mark.parametrize("how", ["iid", "dirichlet"])
def test_partition_is_a_seeded_disjoint_cover(how):
    labels = load_digits_split(0.2, 0).y_train
    parts = partition(labels, 5, how, seed=4, alpha=0.3)
    allidx = np.concatenate(parts)
    assert np.array_equal(np.sort(allidx), np.arange(labels.size))
    again = partition(labels, 5, how, seed=4, alpha=0.3)
    assert all(np.array_equal(p, q) for p, q in zip(parts, again))
    assert min(p.size for p in parts) >= 1


def test_dirichlet_skews_labels_and_iid_does_not():
    labels = load_digits_split(0.2, 0).y_train

    def skew(parts):  # mean total-variation distance of each shard's label mix from uniform
        return np.mean([0.5 * np.abs(np.bincount(labels[p], minlength=10) / p.size - 0.1).sum()
                        for p in parts])

    assert skew(partition(labels, 4, "iid", 0)) < 0.1
    assert skew(partition(labels, 4, "dirichlet", 0, alpha=0.1)) > 0.4


def test_partition_errors():
    with pytest.raises(ValueError, match="cannot split"):
        partition(np.zeros(3, int), 5, "iid", 0)
    with pytest.raises(ValueError, match="unknown partition"):
        partition(np.zeros(30, int), 3, "bogus", 0)


def test_sampler_covers_an_epoch_without_replacement():
    x = np.arange(10, dtype=np.float32)[:, None]
    y = np.arange(10)
    s = BatchSampler(x, y, 5, numpy_rng(0, 0, "sampler"))
    seen = np.concatenate([s.next()[1].numpy() for _ in range(2)])
    assert sorted(seen.tolist()) == list(range(10))


def test_digits_read_without_sklearn_match_load_digits():
    from sklearn.datasets import load_digits

    from gossip.data.digits import _digits

    data, target = _digits()
    ref = load_digits()
    assert data.dtype == ref.data.dtype and np.array_equal(data, ref.data)
    assert np.array_equal(target, ref.target)
