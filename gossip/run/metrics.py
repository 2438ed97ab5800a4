"""The metrics log: its schema, its writer (rank 0) and its reader (analysis, compare, tests).

``metrics.jsonl`` holds one JSON line per round per rank (fields below; NaN fields are left
out), plus, on evaluation rounds, a line with ``rank`` = -1 for the network-average model.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

FIELDS = ("round", "rank", "loss", "bytes_sent", "bytes_received", "control_bytes_sent",
          "bits_per_entry", "symbol_entropy_bits", "nonzero_fraction", "kept_entries", "skipped",
          "test_accuracy", "consensus_distance", "elapsed_s", "compute_s", "codec_s", "wire_s")
TIME_FIELDS = ("elapsed_s", "compute_s", "codec_s", "wire_s", "wait_s")  # wall clock: differs run to run
INT_FIELDS = {"round", "rank", "bytes_sent", "bytes_received", "control_bytes_sent",
              "kept_entries", "skipped"}
NAME = "metrics.jsonl"


def read_metrics(run_dir: Path | str, timing: bool = False) -> list[dict]:
    """The rows of ``run_dir/metrics.jsonl``; without ``timing``, the wall-clock fields are
    left out, so two runs of the same trajectory compare equal."""
    rows = []
    for line in (Path(run_dir) / NAME).read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            rows.append(rec if timing else {k: v for k, v in rec.items() if k not in TIME_FIELDS})
    return rows


class MetricsLog:
    """Rank 0's writer.  ``resume_round``: keep the lines up to that round (the later ones are
    recomputed identically) and append."""

    def __init__(self, out: Path, resume_round: int | None):
        self.path = Path(out) / NAME
        if resume_round:
            self._rewind(resume_round)
        self.f = open(self.path, "a" if resume_round else "w")

    def _rewind(self, t: int) -> None:
        if not self.path.exists():
            return
        keep = [line for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line)["round"] <= t]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in keep))
        os.replace(tmp, self.path)

    def rows(self, table: np.ndarray, fields: tuple[str, ...] = FIELDS) -> None:
        for row in table:
            rec = {}
            for k, v in zip(fields, row):
                if math.isnan(v):
                    continue
                rec[k] = int(v) if k in INT_FIELDS else float(v)
            self.f.write(json.dumps(rec) + "\n")

    def average(self, t: int, accuracy: float, loss: float) -> None:
        self.f.write(json.dumps({"round": t, "rank": -1, "test_accuracy": accuracy,
                                 "test_loss": loss}) + "\n")

    def flush(self, sync: bool = False) -> None:
        self.f.flush()
        if sync:
            os.fsync(self.f.fileno())

    def close(self) -> None:
        self.f.close()


def format_summary(s: dict) -> str:
    accs = " ".join(f"{a:.3f}" for a in s["final_rank_test_accuracy"])
    ranks = f"{s['world_size']} rank" + ("s" if s["world_size"] != 1 else "")
    lines = [
        (f"done: {s['rounds']} rounds of {s['algorithm']} on {ranks} "
         f"({s['topology']}, {s['communicator']}) in {s['wall_seconds']:.1f} s"),
        f"  test accuracy, network average : {s['final_avg_test_accuracy']:.4f}",
        f"  test accuracy, each rank       : {accs}",
    ]
    if not s["total_bytes_sent"]:
        lines.append("  bytes sent (all ranks)         : 0 (no peers: nothing sent)")
    else:
        lines += [
            f"  bytes sent (all ranks)         : {s['total_bytes_sent']:,} " + (
                f"({s['bytes_vs_dpsgd']:.4f} of float32 D-PSGD's "
                f"{s['dpsgd_float32_bytes_same_rounds']:,})" if s["bytes_vs_dpsgd"]
                else "(no neighbours)"),
            f"  bits per model entry per msg   : {s['mean_bits_per_entry']:.4f}"]
    lines.append(f"  exact zeros, mean over ranks   : {1 - s['final_nonzero_fraction']:.2%}")
    if "final_avg_model_zero_fraction" in s:
        lines.append(f"  exact zeros, network average   : {s['final_avg_model_zero_fraction']:.2%}")
    if s.get("launch_to_first_round_s") is not None:
        lines.append(f"  launch to end of first round   : {s['launch_to_first_round_s']:.1f} s")
    return "\n".join(lines)
