"""One run directory's outputs, aggregated over ranks: what compare's tables and the plots read.

The rows come from the core's metrics reader (``read_metrics(..., timing=True)``), so the
wall-clock fields are included: per rank and round, ``elapsed_s`` (training wall seconds since
the run started, carried across resumes) and the cumulative ``compute_s``, ``codec_s`` and
``wire_s``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _core

MEAN_KEYS = ("loss", "bits_per_entry", "nonzero_fraction", "consensus_distance", "test_accuracy",
             "symbol_entropy_bits")


@dataclass
class RunData:
    """One run's metrics.jsonl, aggregated over ranks.  Lists are indexed like ``rounds``."""

    world_size: int
    rounds: list[int]                  # rounds with per-rank lines, ascending
    bytes_sent: list[int]              # payload bytes of all ranks in that round
    cum_bytes_per_rank: list[float]    # sum of bytes_sent over rounds <= r, / world size
    mean: dict[str, list[float]]       # per-round mean over ranks of loss, bits_per_entry, ...
    eval_rounds: list[int]             # rounds with a rank = -1 line
    avg_accuracy: list[float]          # network-average test accuracy there
    avg_loss: list[float]
    summary: dict
    # training wall seconds at the end of each round: the slowest rank's elapsed_s (NaN where
    # no rank reported one, e.g. a run written before the field existed)
    elapsed_s: list[float] | None = None

    def cum_bytes_per_rank_at(self, rnd: int) -> float:
        """Payload bytes per rank spent in rounds 1..rnd."""
        total = 0
        for r, b in zip(self.rounds, self.bytes_sent):
            if r > rnd:
                break
            total += b
        return total / self.world_size

    def elapsed_at(self, rnd: int) -> float | None:
        """Training wall seconds when every rank had finished round ``rnd`` (None: unknown)."""
        if not self.elapsed_s:
            return None
        for r, e in zip(self.rounds, self.elapsed_s):
            if r == rnd:
                return None if math.isnan(e) else e
        return None

    def rounds_to(self, target: float) -> int | None:
        for r, a in zip(self.eval_rounds, self.avg_accuracy):
            if not math.isnan(a) and a >= target:
                return r
        return None


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def _records(d: Path) -> list:
    """The metrics rows, wall-clock fields included.  A run that was killed can leave a torn
    last line, which the core reader refuses; then the lines that parse are kept."""
    try:
        return _core.read_metrics(d, timing=True)
    except json.JSONDecodeError:
        out = []
        for line in (d / "metrics.jsonl").read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out


def read_run(run_dir: str | Path) -> RunData:
    """Aggregate ``metrics.jsonl`` (and ``summary.json`` if present) of one run directory.

    Unknown keys are ignored; a truncated last line (a run that was killed) is skipped.
    """
    d = Path(run_dir)
    summary = {}
    if (d / "summary.json").is_file():
        summary = json.loads((d / "summary.json").read_text())
    per_round: dict[int, dict[str, list[float]]] = {}
    sent: dict[int, int] = {}
    elapsed: dict[int, float] = {}
    ranks: set[int] = set()
    evals: dict[int, tuple[float, float]] = {}
    for rec in _records(d):
        if not isinstance(rec, dict) or "round" not in rec or "rank" not in rec:
            continue
        rnd, rank = int(rec["round"]), int(rec["rank"])
        if rank < 0:
            acc = _num(rec.get("test_accuracy"))
            loss = _num(rec.get("test_loss"))
            evals[rnd] = (math.nan if acc is None else acc, math.nan if loss is None else loss)
            continue
        ranks.add(rank)
        sent[rnd] = sent.get(rnd, 0) + int(rec.get("bytes_sent", 0) or 0)
        e = _num(rec.get("elapsed_s"))
        if e is not None:
            elapsed[rnd] = max(e, elapsed.get(rnd, e))
        slot = per_round.setdefault(rnd, {})
        for k in MEAN_KEYS:
            v = _num(rec.get(k))
            if v is not None:
                slot.setdefault(k, []).append(v)
    ws = int(summary.get("world_size") or len(ranks) or 1)
    rounds = sorted(sent)
    cum, total = [], 0
    for r in rounds:
        total += sent[r]
        cum.append(total / ws)
    mean: dict[str, list[float]] = {k: [] for k in MEAN_KEYS}
    for r in rounds:
        for k in MEAN_KEYS:
            vals = per_round[r].get(k)
            mean[k].append(sum(vals) / len(vals) if vals else math.nan)
    er = sorted(evals)
    return RunData(world_size=ws, rounds=rounds, bytes_sent=[sent[r] for r in rounds],
                   cum_bytes_per_rank=cum, mean=mean, eval_rounds=er,
                   avg_accuracy=[evals[r][0] for r in er], avg_loss=[evals[r][1] for r in er],
                   summary=summary,
                   elapsed_s=[elapsed.get(r, math.nan) for r in rounds] if elapsed else None)
