"""PNG plots of gossip runs: what each method paid in bytes, and in wall time, for its accuracy.

    python analysis/plots.py RUN_DIR [RUN_DIR ...] --out DIR [--target 0.9]
    python analysis/plots.py COMPARE_DIR                 # a `gossip compare` output directory

(``python -m gossip.tools.plots`` is the same; ``gossip compare`` calls :func:`plot_runs`.)

A RUN_DIR is a `gossip train --out` directory (metrics.jsonl, summary.json); LABEL=RUN_DIR names
its curve (default: the directory name). A COMPARE_DIR (it holds comparison.json) contributes
every successful method under its label, and its plots go to COMPARE_DIR/plots unless --out says
otherwise.

Figures (one PNG each, one curve per run):
  accuracy_vs_bytes.png    network-average test accuracy against cumulative payload bytes per
                           rank (log x): the comparison that matters
  accuracy_vs_time.png     network-average test accuracy against training wall seconds (the
                           slowest rank's elapsed_s of metrics.jsonl); runs without elapsed_s
                           are left out of it
  accuracy_vs_rounds.png   network-average test accuracy against rounds
  loss_vs_rounds.png       training minibatch loss, mean over ranks, running mean (log y)
  bits_per_entry.png       bits per model entry per message, mean over ranks (log y)
  nonzero_fraction.png     fraction of nonzero model entries, mean over ranks
  consensus_distance.png   ||x_i - x_bar||_2 on evaluation rounds, mean over ranks (log y)
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from .runs import RunData, read_run

STYLES = ["-", "--", "-.", ":"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def _style(i: int) -> dict:
    """Colour, line style and marker differ between neighbouring curves (readable in grey)."""
    return {"color": plt.get_cmap("tab10")(i % 10), "linestyle": STYLES[i % len(STYLES)],
            "marker": MARKERS[i % len(MARKERS)], "linewidth": 1.6, "markersize": 4}


def _running_mean(y: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or y.size < k:
        return y
    good = np.isfinite(y)
    c = np.convolve(np.where(good, y, 0.0), np.ones(k), mode="valid")
    n = np.convolve(good.astype(float), np.ones(k), mode="valid")
    out = np.full(y.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[k - 1:] = c / n
    return out


def _positive(y: np.ndarray) -> np.ndarray:
    """NaN where y <= 0, so that a log axis leaves those points out instead of failing."""
    y = np.asarray(y, dtype=float).copy()
    y[~(y > 0)] = np.nan
    return y


def _markevery(n: int) -> int:
    return max(1, n // 12)


def _figure(title: str, xlabel: str, ylabel: str):
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    return fig, ax


def _save(fig, ax, path: Path, legend_loc: str = "best") -> Path:
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(loc=legend_loc, fontsize=8, framealpha=0.85)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_runs(run_dirs: dict[str, Path], out_dir: Path, *, target: float | None = None) -> list[Path]:
    """Write the PNGs for ``{label: run directory}`` into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs: dict[str, RunData] = {label: read_run(d) for label, d in run_dirs.items()}
    if not runs:
        raise ValueError("plot_runs: no runs given")
    ws = sorted({r.world_size for r in runs.values()})
    suffix = f" ({', '.join(map(str, ws))} ranks)"
    written = []

    # accuracy against cumulative bytes per rank at the evaluation rounds (log x)
    fig, ax = _figure("Network-average test accuracy against bytes sent" + suffix,
                      "cumulative payload bytes sent per rank (log scale)",
                      "test accuracy of the average model")
    for i, (label, r) in enumerate(runs.items()):
        x = np.array([r.cum_bytes_per_rank_at(t) for t in r.eval_rounds], dtype=float)
        y = np.array(r.avg_accuracy, dtype=float)
        keep = x > 0  # a log axis cannot show 0 bytes (e.g. a one-rank run)
        if keep.any():
            ax.plot(x[keep], y[keep], label=label, **_style(i),
                    markevery=_markevery(int(keep.sum())))
    ax.set_xscale("log")
    if target is not None:
        ax.axhline(target, color="0.3", linewidth=0.9, linestyle=(0, (4, 3)),
                   label=f"target {target:g}")
    written.append(_save(fig, ax, out_dir / "accuracy_vs_bytes.png", "lower right"))

    # accuracy against training wall time at the evaluation rounds
    fig, ax = _figure("Network-average test accuracy against wall time" + suffix,
                      "training wall time (s, slowest rank)",
                      "test accuracy of the average model")
    for i, (label, r) in enumerate(runs.items()):
        x = np.array([np.nan if (e := r.elapsed_at(t)) is None else e for t in r.eval_rounds],
                     dtype=float)
        y = np.array(r.avg_accuracy, dtype=float)
        keep = np.isfinite(x)
        if keep.any():
            ax.plot(x[keep], y[keep], label=label, **_style(i),
                    markevery=_markevery(int(keep.sum())))
    if target is not None:
        ax.axhline(target, color="0.3", linewidth=0.9, linestyle=(0, (4, 3)),
                   label=f"target {target:g}")
    written.append(_save(fig, ax, out_dir / "accuracy_vs_time.png", "lower right"))

    fig, ax = _figure("Network-average test accuracy" + suffix, "round",
                      "test accuracy of the average model")
    for i, (label, r) in enumerate(runs.items()):
        ax.plot(r.eval_rounds, r.avg_accuracy, label=label, **_style(i),
                markevery=_markevery(len(r.eval_rounds)))
    if target is not None:
        ax.axhline(target, color="0.3", linewidth=0.9, linestyle=(0, (4, 3)),
                   label=f"target {target:g}")
    written.append(_save(fig, ax, out_dir / "accuracy_vs_rounds.png", "lower right"))

    longest = max((len(r.rounds) for r in runs.values()), default=1)
    k = max(1, longest // 50)
    fig, ax = _figure("Training loss, mean over ranks" + suffix, "round",
                      "minibatch loss" + (f" (running mean of {k} rounds)" if k > 1 else ""))
    for i, (label, r) in enumerate(runs.items()):
        y = _positive(_running_mean(np.array(r.mean["loss"], dtype=float), k))
        ax.plot(r.rounds, y, label=label, **_style(i), markevery=_markevery(len(r.rounds)))
    ax.set_yscale("log")
    written.append(_save(fig, ax, out_dir / "loss_vs_rounds.png", "upper right"))

    fig, ax = _figure("Bits per model entry per message, mean over ranks" + suffix, "round",
                      "bits per entry (log scale)")
    for i, (label, r) in enumerate(runs.items()):
        y = _positive(np.array(r.mean["bits_per_entry"], dtype=float))
        lab = label if np.isfinite(y).any() else f"{label} (all 0)"
        ax.plot(r.rounds, y, label=lab, **_style(i), markevery=_markevery(len(r.rounds)))
    ax.set_yscale("log")
    written.append(_save(fig, ax, out_dir / "bits_per_entry.png"))

    fig, ax = _figure("Nonzero model entries, mean over ranks" + suffix, "round",
                      "fraction of entries that are nonzero")
    for i, (label, r) in enumerate(runs.items()):
        ax.plot(r.rounds, r.mean["nonzero_fraction"], label=label, **_style(i),
                markevery=_markevery(len(r.rounds)))
    written.append(_save(fig, ax, out_dir / "nonzero_fraction.png"))

    fig, ax = _figure("Consensus distance ||x_i − x̄||₂, mean over ranks" + suffix, "round",
                      "consensus distance (log scale)")
    for i, (label, r) in enumerate(runs.items()):
        rounds = np.array(r.rounds)
        y = np.array(r.mean["consensus_distance"], dtype=float)
        ev = np.isfinite(y)  # only evaluation rounds carry it
        yy = _positive(y[ev])
        lab = label if np.isfinite(yy).any() else f"{label} (0: identical models)"
        ax.plot(rounds[ev], yy, label=lab, **_style(i), markevery=_markevery(int(ev.sum())))
    ax.set_yscale("log")
    written.append(_save(fig, ax, out_dir / "consensus_distance.png"))
    return written


def _runs_from_args(items: list[str]) -> tuple[dict[str, Path], float | None, Path | None]:
    """Expand the CLI's paths: run dirs, LABEL=run dirs, comparison dirs."""
    runs: dict[str, Path] = {}
    target = None
    default_out = None
    for item in items:
        label, _, path = item.rpartition("=") if "=" in item else ("", "", item)
        d = Path(path)
        if (d / "comparison.json").is_file():
            cmp = json.loads((d / "comparison.json").read_text())
            target = target if target is not None else cmp.get("target_accuracy")
            default_out = default_out or d / "plots"
            for m in cmp["methods"]:
                if m.get("status") == "ok":  # the comparison directory may have moved
                    here = d / "runs" / m["slug"]
                    runs[m["label"]] = here if here.is_dir() else Path(m["run_dir"])
        elif (d / "metrics.jsonl").is_file():
            runs[label or d.name] = d
        else:
            raise SystemExit(f"plots: {d}: neither a run directory (metrics.jsonl) nor a "
                             f"comparison directory (comparison.json)")
    return runs, target, default_out


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog=prog,
        description="PNG plots of gossip runs (accuracy against bytes and against wall time, "
                    "loss, bits per entry, sparsity, consensus distance).",
        epilog="e.g. python analysis/plots.py runs/a runs/b --out plots/  or  "
               "python analysis/plots.py runs/compare-ring")
    ap.add_argument("paths", nargs="+", metavar="RUN_DIR",
                    help="run directories (optionally LABEL=DIR) or a gossip compare directory")
    ap.add_argument("--out", type=Path, help="directory for the PNGs (default: COMPARE_DIR/plots "
                    "for a comparison directory; required otherwise)")
    ap.add_argument("--target", type=float, help="draw this accuracy as a horizontal line")
    args = ap.parse_args(argv)
    runs, target, default_out = _runs_from_args(args.paths)
    out = args.out or default_out
    if out is None:
        ap.error("--out DIR is required for run directories")
    if not runs:
        raise SystemExit("plots: no successful runs to plot")
    t = args.target if args.target is not None else target
    for p in plot_runs(runs, out, target=t if t is None or math.isfinite(t) else None):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
