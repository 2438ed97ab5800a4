"""Top-k selection scope: per tensor (k split over the tensors by size) or the whole model."""

import numpy as np
import pytest

from gossip.compressors import TopK
from gossip.compressors.sparse import split_k


def test_split_k_is_proportional_and_sums_to_k():
    sizes = [4096, 64, 640, 10]  # the digits MLP's tensors, d = 4,810
    for k in (1, 7, 48, 241, 4809, 4810):
        ks = split_k(k, sizes)
        assert ks.sum() == k and (ks <= sizes).all() and (ks >= 0).all()
        exact = k * np.array(sizes) / sum(sizes)
        assert (np.abs(ks - exact) < 1).all()  # floor or ceil of the exact share
    np.testing.assert_array_equal(split_k(48, sizes), [41, 1, 6, 0])  # 40.9, 0.64, 6.4, 0.1
    np.testing.assert_array_equal(split_k(3, [2, 2, 2]), [1, 1, 1])
    np.testing.assert_array_equal(split_k(1, [2, 2, 2]), [1, 0, 0])  # ties: earlier tensor


def test_topk_scopes_select_per_tensor_or_over_the_model():
    v = np.array([9, 8, 7, 6, 0.1, 0.2, 0.3, 0.4], dtype=np.float32)
    blocks = [4, 4]
    model = TopK(blocks, 0.5, scope="model").compress(v, k=4)
    np.testing.assert_array_equal(model.indices, [0, 1, 2, 3])
    tensor = TopK(blocks, 0.5, scope="tensor").compress(v, k=4)
    np.testing.assert_array_equal(tensor.indices, [0, 1, 6, 7])  # 2 + 2 by size
    np.testing.assert_array_equal(tensor.values, v[[0, 1, 6, 7]])
    # without k: the ratio of each tensor, or as many entries over the whole model
    np.testing.assert_array_equal(TopK(blocks, 0.25).compress(v).indices, [0, 7])
    np.testing.assert_array_equal(TopK(blocks, 0.25, scope="model").compress(v).indices, [0, 1])
    with pytest.raises(ValueError, match="scope"):
        TopK(blocks, 0.5, scope="layer")
