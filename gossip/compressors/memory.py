"""Error feedback: compress p = v + e, then keep what was not sent, e ← p − decoded.

The one copy every method with error feedback uses (CHOCO-style methods do not need it; the
allgather methods do).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ErrorMemory:
    e: np.ndarray  # float32, what was computed but not yet sent

    @classmethod
    def zeros(cls, size: int) -> ErrorMemory:
        return cls(np.zeros(size, dtype=np.float32))

    def compensate(self, v: np.ndarray) -> np.ndarray:
        """p = v + e (a new array)."""
        return v + self.e

    def update(self, p: np.ndarray, decoded: np.ndarray) -> None:
        np.subtract(p, decoded, out=self.e)

    def keep_unsent(self, p: np.ndarray, sent_indices: np.ndarray) -> None:
        """e ← p with the sent entries zeroed: p − decoded for a sparse message that carries
        p's own values at ``sent_indices`` (the same numbers, without a dense decode)."""
        self.e = p.astype(np.float32)
        self.e[sent_indices] = 0
