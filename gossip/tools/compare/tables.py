"""The rows of a comparison (one per method, from its run directory) and their tables:
Markdown, CSV and the notes under the Markdown table."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..runs import read_run
from .spec import Comparison, Method


def result_of(m: Method, cmp: Comparison, run_dir: Path) -> dict:
    """The table row of a finished run."""
    rd = read_run(run_dir)
    s = rd.summary
    r_t = rd.rounds_to(cmp.target)
    final = s.get("final_avg_test_accuracy")
    if final is None and rd.avg_accuracy:
        final = rd.avg_accuracy[-1]
    total = s.get("total_bytes_sent")
    if total is None:
        total = sum(rd.bytes_sent)
    return {
        "rounds_to_target": r_t,
        "bytes_per_rank_to_target": rd.cum_bytes_per_rank_at(r_t) if r_t is not None else None,
        "seconds_to_target": rd.elapsed_at(r_t) if r_t is not None else None,
        "final_accuracy": final,
        "total_bytes": int(total),
        "control_bytes": s.get("total_control_bytes_sent"),
        "dpsgd_float32_bytes_same_rounds": s.get("dpsgd_float32_bytes_same_rounds"),
        "wall_seconds": s.get("wall_seconds"),
        "world_size": rd.world_size,
        "rounds": s.get("rounds", rd.rounds[-1] if rd.rounds else None),
        "mean_bits_per_entry": s.get("mean_bits_per_entry"),
        "final_nonzero_fraction": s.get("final_nonzero_fraction"),
        "algorithm": s.get("algorithm", m.algorithm),
        "topology": s.get("topology"),
        "communicator": s.get("communicator"),
    }


RESULT_KEYS = ("rounds_to_target", "bytes_per_rank_to_target", "seconds_to_target",
               "final_accuracy", "total_bytes",
               "control_bytes", "dpsgd_float32_bytes_same_rounds", "wall_seconds", "world_size",
               "rounds", "mean_bits_per_entry", "final_nonzero_fraction", "topology",
               "communicator", "bytes_vs_dpsgd", "bytes_vs_dpsgd_basis")


def add_dpsgd_ratios(rows: list[dict]) -> str:
    """Fill ``bytes_vs_dpsgd`` of every ok row; return a sentence saying what it divides by."""
    ref = next((r for r in rows if r["status"] == "ok" and r["algorithm"] == "dpsgd"
                and r.get("total_bytes")), None)
    for r in rows:
        r["bytes_vs_dpsgd"] = None
        r["bytes_vs_dpsgd_basis"] = None
        if r["status"] != "ok":
            continue
        if ref is not None:
            r["bytes_vs_dpsgd"] = r["total_bytes"] / ref["total_bytes"]
            r["bytes_vs_dpsgd_basis"] = f"row {ref['label']}"
        elif r.get("dpsgd_float32_bytes_same_rounds"):
            r["bytes_vs_dpsgd"] = r["total_bytes"] / r["dpsgd_float32_bytes_same_rounds"]
            r["bytes_vs_dpsgd_basis"] = "float32 D-PSGD, same graph and rounds"
    if ref is not None:
        return (f"vs D-PSGD: total bytes / total bytes of the row {ref['label']!r} "
                f"(measured).")
    return ("vs D-PSGD: total bytes / the bytes float32 D-PSGD sends on the same graph in the "
            "same rounds (summary.json dpsgd_float32_bytes_same_rounds; no successful D-PSGD "
            "row to divide by).")


# -- tables -----------------------------------------------------------------------------------
CSV_FIELDS = ("label", "algorithm", "status", "rounds_to_target", "bytes_per_rank_to_target",
              "seconds_to_target",
              "final_accuracy", "total_bytes", "bytes_vs_dpsgd", "wall_seconds",
              "target_accuracy", "world_size", "rounds", "topology", "mean_bits_per_entry",
              "final_nonzero_fraction", "error")
DASH = "—"


def _fmt_int(v: float | None) -> str:
    return DASH if v is None else f"{round(v):,}"


def _fmt_seconds(v: float | None) -> str:
    return DASH if v is None else f"{v:.1f} s"


def _fmt_ratio(v: float | None) -> str:
    if v is None:
        return DASH
    if 0 < v < 1:
        return f"{v:.4f} (1/{1 / v:.0f})" if 1 / v >= 10 else f"{v:.4f} (1/{1 / v:.1f})"
    return f"{v:.4f}"


def markdown_table(rows: list[dict], target: float) -> str:
    t = f"{target:g}"
    head = ["method", "algorithm", f"rounds to {t}", f"bytes/rank to {t}", f"time to {t}",
            "final acc", "total bytes", "vs D-PSGD", "wall s", "status"]
    align = ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    for r in rows:
        ok = r["status"] == "ok"
        cells = [
            r["label"].replace("|", "\\|"), r["algorithm"],
            DASH if r.get("rounds_to_target") is None else str(r["rounds_to_target"]),
            _fmt_int(r.get("bytes_per_rank_to_target")),
            _fmt_seconds(r.get("seconds_to_target")),
            f"{r['final_accuracy']:.4f}" if ok and r.get("final_accuracy") is not None else DASH,
            _fmt_int(r.get("total_bytes")) if ok else DASH,
            _fmt_ratio(r.get("bytes_vs_dpsgd")),
            f"{r['wall_seconds']:.1f}" if ok and r.get("wall_seconds") is not None else DASH,
            ("ok (reused)" if r.get("reused") else "ok") if ok else "FAILED",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def csv_text(rows: list[dict], target: float) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k))
                    for k in CSV_FIELDS} | {"target_accuracy": target})
    return buf.getvalue()


def notes(cmp: Comparison, rows: list[dict], ratio_note: str) -> str:
    t = f"{cmp.target:g}"
    out = [
        (f"Target: network-average test accuracy >= {t}, checked on evaluation rounds "
         f"(train.eval_every); {DASH} = never reached."),
        (f"bytes/rank to {t}: payload bytes handed to the transport in rounds 1..R (R = rounds "
         f"to {t}), summed over all ranks, divided by the world size ({cmp.ranks}). Total "
         f"bytes: all ranks, all rounds, payload only (length announcements not included)."),
        (f"time to {t}: training wall seconds until round R ended on the slowest rank "
         f"(elapsed_s of metrics.jsonl; evaluation rounds included, launch and imports not)."),
        ratio_note,
        f"{cmp.ranks} ranks, launcher {cmp.launcher}; wall s = training time of rank 0.",
    ]
    for r in rows:
        if r["status"] == "failed":
            out.append(f"FAILED {r['label']}: {r['error']}"
                       + (f" (log: {r['log']})" if r.get("log") else ""))
    return "\n".join(f"- {x}" for x in out) + "\n"
