"""One rank: its model, its data sampler, its algorithm state, and the gradient oracle the
algorithm calls (one minibatch per round, drawn on first use)."""

from __future__ import annotations

import math
import time

import numpy as np
from torch import nn

from ..algorithms import GradientOracle, RoundInfo
from ..data import BatchSampler
from ..models import FlatModel
from .errors import RunError


class Worker(GradientOracle):
    def __init__(self, rank: int, model: FlatModel, sampler: BatchSampler, state: object,
                 l2: float = 0.0):
        self.rank, self.model, self.sampler, self.state = rank, model, sampler, state
        self.l2 = float(l2)
        self.loss = float("nan")
        self.info: RoundInfo | None = None
        self.message_bytes_total = 0  # bytes of every message composed (sent once per peer)
        self._batch = None
        # Cumulative seconds of this rank's round phases: gradients (forward/backward), the
        # algorithm's own work (compress, encode, decode, mix) and the exchange (wire + wait).
        self.compute_s = self.codec_s = self.wire_s = 0.0

    def new_round(self) -> None:
        self._batch = None
        self.loss = float("nan")

    def _loss_grad(self, xb, yb, x: np.ndarray | None) -> np.ndarray:
        saved = None
        if x is not None:
            saved = self.model.x.copy()
            self.model.x[:] = x
        try:
            self.model.sync()
            self.model.zero_grad()
            dev = self.model.device
            loss = nn.functional.cross_entropy(self.model.module(xb.to(dev)), yb.to(dev))
            loss.backward()
            value = float(loss.detach())
            g = self.model.gradient()
            if self.l2:
                xs = self.model.x
                value += 0.5 * self.l2 * float(np.dot(xs, xs))
                g += np.float32(self.l2) * xs
        finally:
            if saved is not None:
                self.model.x[:] = saved
        if not math.isfinite(value):
            raise RunError(f"rank {self.rank}: training loss became non-finite ({value}); lower --lr "
                           f"or --gamma")
        if x is None and math.isnan(self.loss):
            self.loss = value
        return g

    def _timed(self, xb, yb, x: np.ndarray | None) -> np.ndarray:
        t0 = time.perf_counter()
        g = self._loss_grad(xb, yb, x)
        self.compute_s += time.perf_counter() - t0
        return g

    def grad(self, x: np.ndarray | None = None) -> np.ndarray:
        if self._batch is None:
            self._batch = self.sampler.next()
        return self._timed(*self._batch, x)

    def full_grad(self, x: np.ndarray | None = None) -> np.ndarray:
        return self._timed(self.sampler.x, self.sampler.y, x)

    # -- checkpoints ------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """Everything of this rank's future besides the algorithm state and byte counters."""
        return {
            "x": self.model.x.copy(),
            "buffers": {k: v.detach().cpu().numpy().copy()
                        for k, v in self.model.module.named_buffers()},
            "sampler": {"perm": self.sampler.perm, "pos": self.sampler.pos,
                        "rng": self.sampler.rng},
            "message_bytes_total": self.message_bytes_total,
            "phase_s": [self.compute_s, self.codec_s, self.wire_s],
        }

    def restore(self, tree: dict) -> None:
        import torch

        self.model.x[:] = tree["x"]
        with torch.no_grad():
            for k, v in self.model.module.named_buffers():
                v.copy_(torch.from_numpy(np.asarray(tree["buffers"][k])))
        self.sampler.perm, self.sampler.pos = tree["sampler"]["perm"], tree["sampler"]["pos"]
        self.sampler.rng = tree["sampler"]["rng"]
        self.message_bytes_total = tree["message_bytes_total"]
        self.compute_s, self.codec_s, self.wire_s = tree["phase_s"]
