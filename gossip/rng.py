"""Seeded random streams: every draw comes from a generator keyed by (run seed, rank, purpose).

Keeping the purposes apart means adding a random draw in one place never shifts another
stream, so MPI runs, in-process runs and resumed runs see the same numbers.
"""

from __future__ import annotations

import zlib

import numpy as np


def _purpose_id(purpose: str) -> int:
    return zlib.crc32(purpose.encode())


def numpy_rng(seed: int, rank: int, purpose: str, *extra: int) -> np.random.Generator:
    """A numpy Generator for one (seed, rank, purpose[, extra keys such as the round]);
    rank -1 means shared by all ranks."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        [int(seed), int(rank) + 1, _purpose_id(purpose), *map(int, extra)])))


def torch_generator(seed: int, rank: int, purpose: str):
    """A torch Generator for one (seed, rank, purpose) (model initialisation)."""
    import torch

    ss = np.random.SeedSequence([int(seed), int(rank) + 1, _purpose_id(purpose)])
    g = torch.Generator()
    g.manual_seed(int(ss.generate_state(1, dtype=np.uint64)[0] & ((1 << 63) - 1)))
    return g
