"""Figures of one run from its metrics.jsonl, the table, wallclock.json and wallclock.png.

Definitions (every figure comes from the rows ``gossip train`` writes, one per round per rank,
plus the rank -1 rows with the network-average model's test accuracy on evaluation rounds):

- replay: the accuracy curve comes from an in-process run of the same settings, evaluated
  every --eval-every rounds; in-process and mpiexec runs are bit-identical, and the benchmark
  checks it (the timed run's final network-average accuracy must equal the replay's), so the
  timed run needs no evaluation but its last and nothing else is on its clock.
- round clock: for each round of the timed run, the largest ``elapsed_s`` over the ranks.
- s/round: the median of the round clock's increments (the last round, with its evaluation,
  left out).
- target round: the first evaluation round of the replay whose network-average accuracy >= T.
- to target: the round clock at the target round.
- run: the timed run's stopwatch over all its rounds.
- busy to target (JSON): mean over ranks of compute_s + codec_s + wire_s at the target round,
  the phases alone (no logging, no evaluation).
- bytes to target: payload and size-announcement bytes sent by all ranks in rounds 1..target.
- split: compute (forward/backward) / codec (compress, encode, decode, mix) / wire (inside the
  exchange: transfer and waiting for peers), each the mean over ranks of the cumulative field
  at the last round, as a share of their sum. ``other_share`` (JSON) is the rest of the
  elapsed time: metric gathering, logging, the final evaluation.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from .._core import read_metrics


def analyse(run_dir: Path | str, target: float, replay_dir: Path | str) -> dict:
    rows = read_metrics(run_dir, timing=True)
    ranks = [r for r in rows if r["rank"] >= 0]
    if not ranks:
        raise ValueError(f"{run_dir}: metrics.jsonl has no rank rows")
    avg = {r["round"]: r["test_accuracy"] for r in read_metrics(replay_dir, timing=True)
           if r["rank"] == -1 and "test_accuracy" in r}
    mine = {r["round"]: r["test_accuracy"] for r in rows if r["rank"] == -1 and "test_accuracy" in r}
    by_round: dict[int, list[dict]] = {}
    for r in ranks:
        by_round.setdefault(r["round"], []).append(r)
    rounds = sorted(by_round)
    last = rounds[-1]
    if last not in mine or mine[last] != avg.get(last):
        raise ValueError(f"{run_dir}: the timed run's final accuracy {mine.get(last)} differs "
                         f"from the in-process replay's {avg.get(last)}: not the same trajectory")
    n_ranks = len({r["rank"] for r in ranks})
    clock = {t: max(r["elapsed_s"] for r in by_round[t]) for t in rounds}
    phases = {t: sum(r["compute_s"] + r["codec_s"] + r["wire_s"] for r in by_round[t])
              / len(by_round[t]) for t in rounds}
    sent = {t: sum(r.get("bytes_sent", 0) for r in by_round[t]) for t in rounds}
    # control_bytes_sent is cumulative per rank (metrics.jsonl): taken at a round, not summed
    control = {t: sum(r.get("control_bytes_sent", 0) for r in by_round[t]) for t in rounds}
    step = [clock[t] - (clock[rounds[i - 1]] if i else 0.0) for i, t in enumerate(rounds)]
    s_per_round = statistics.median(step[:-1] or step)
    hit = next((t for t in sorted(avg) if avg[t] >= target and t in clock), None)
    mean = {k: sum(r[k] for r in by_round[last]) / len(by_round[last])
            for k in ("compute_s", "codec_s", "wire_s")}
    busy = sum(mean.values())
    elapsed = clock[last]
    final_t = max(avg) if avg else None
    return {
        "ranks": n_ranks,
        "rounds": last,
        "s_per_round": s_per_round,
        "target": target,
        "target_round": hit,
        "time_to_target_s": clock[hit] if hit is not None else None,
        "time_to_target_busy_s": phases[hit] if hit is not None else None,
        "bytes_to_target": (sum(sent[t] for t in rounds if t <= hit) + control[hit]
                            if hit is not None else None),
        "final_accuracy": avg[final_t] if final_t is not None else None,
        "best_accuracy": max(avg.values()) if avg else None,
        "elapsed_s": elapsed,
        "bytes_total": sum(sent.values()) + control[last],
        "phase_s": mean,
        "split": {k[:-2]: (v / busy if busy > 0 else 0.0) for k, v in mean.items()},
        "other_share": (elapsed - busy) / elapsed if elapsed > 0 else 0.0,
        "curve": [{"round": t, "accuracy": avg[t], "time_s": clock[t], "busy_s": phases[t]}
                  for t in sorted(avg) if t in clock],
    }


def _median(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def combine(repeats: list[dict]) -> dict:
    """One row from the repeats of a (rate, method): medians; "not reached" unless all reach."""
    ok = [r for r in repeats if r.get("figures")]
    if not ok:
        return {"failed": True}
    figs = [r["figures"] for r in ok]
    reached = all(f["target_round"] is not None for f in figs) and len(ok) == len(repeats)
    out = {"failed": False, "repeats": len(repeats), "reached": reached}
    for key in ("s_per_round", "final_accuracy", "elapsed_s", "bytes_total"):
        out[key] = _median([f[key] for f in figs])
    for key in ("target_round", "time_to_target_s", "time_to_target_busy_s", "bytes_to_target"):
        out[key] = _median([f[key] for f in figs]) if reached else None
    out["split"] = {k: _median([f["split"][k] for f in figs]) for k in ("compute", "codec", "wire")}
    out["other_share"] = _median([f["other_share"] for f in figs])
    out["launch_to_first_round_s"] = _median([r.get("launch_to_first_round_s") for r in ok])
    out["startup_s"] = _median([r.get("startup_s") for r in ok])
    return out


def add_ratios(rows: list[dict]) -> None:
    """``ratio_vs_dpsgd``: time to target over D-PSGD's at the same rate (and the same for
    the busy figure)."""
    base = {r["rate"]: r for r in rows if r["method"] == "dpsgd"}
    for r in rows:
        b = base.get(r["rate"])
        for key, name in (("time_to_target_s", "ratio_vs_dpsgd"),
                          ("time_to_target_busy_s", "ratio_vs_dpsgd_busy")):
            mine = r.get(key)
            theirs = b.get(key) if b else None
            r[name] = mine / theirs if mine and theirs else None


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.1f} s"


def _fmt_bytes(x: float | None) -> str:
    if x is None:
        return "-"
    for unit, k in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if x >= k:
            return f"{x / k:.1f} {unit}"
    return f"{x:.0f} B"


def table(rows: list[dict], target: float) -> str:
    head = ["method", "rate", "s/round", f"to {target:g}", "run", "round",
            "bytes to target", "final acc", "compute/codec/wire %", "vs dpsgd", "launch"]
    lines = []
    for r in rows:
        if r.get("failed"):
            lines.append([r["method"], r["rate"], "failed"] + [""] * (len(head) - 3))
            continue
        nr = "not reached"
        sp = r["split"]
        lines.append([
            r["method"], r["rate"], _fmt_s(r["s_per_round"]),
            _fmt_s(r["time_to_target_s"]) if r["reached"] else nr,
            _fmt_s(r["elapsed_s"]),
            f"{r['target_round']:.0f}" if r["reached"] else "-",
            _fmt_bytes(r["bytes_to_target"]) if r["reached"] else "-",
            f"{r['final_accuracy']:.4f}" if r["final_accuracy"] is not None else "-",
            "/".join(f"{100 * sp[k]:.0f}" for k in ("compute", "codec", "wire")),
            f"{r['ratio_vs_dpsgd']:.2f}x" if r.get("ratio_vs_dpsgd") else "-",
            _fmt_s(r["launch_to_first_round_s"]),
        ])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    fmt = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(c) for c in lines])


LEGEND = """\
s/round: median round time of the timed run (no evaluations on its clock). to T: seconds of
the timed run until the round where the network-average model first reaches T (the accuracy
curve from an in-process replay of the same, bit-identical run, checked at the end); run: the
timed run's stopwatch over all its rounds. round: that round. bytes: sent by all ranks until
then. compute/codec/wire: share of the round in gradients / compression+coding+mixing / the
exchange (transfer and waiting for peers). vs dpsgd: time to T over D-PSGD's at the same rate
(<1: faster than D-PSGD). launch: from starting unshare+mpiexec to round 1's metrics line.
"unthrottled" is loopback TCP in a namespace (MTU 1500), not a real network: its figures are
this machine's best case."""


def write_json(path: Path, doc: dict) -> None:
    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list):
            return [clean(v) for v in o]
        return o

    path.write_text(json.dumps(clean(doc), indent=2) + "\n")


def plot(path: Path, runs: list[dict], target: float) -> None:
    """Accuracy against the timed run's wall time, one line per method and rate (first
    repeat)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(r["method"] for r in runs))
    rates = list(dict.fromkeys(r["rate"] for r in runs))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = ["-", "--", ":", "-."]
    fig, ax = plt.subplots(figsize=(8, 5))
    seen = set()
    for r in runs:
        f = r.get("figures")
        if not f or (r["method"], r["rate"]) in seen:
            continue
        seen.add((r["method"], r["rate"]))
        pts = [(c["time_s"], c["accuracy"]) for c in f["curve"] if c["time_s"] > 0]
        if not pts:
            continue
        xs, ys = zip(*pts)
        ax.plot(xs, ys, styles[rates.index(r["rate"]) % len(styles)],
                color=colours[methods.index(r["method"]) % len(colours)],
                label=f"{r['method']} @ {r['rate']}", marker=".", markersize=3)
    ax.axhline(target, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xscale("log")
    ax.set_xlabel("wall time of the timed run, s (log scale)")
    ax.set_ylabel("network-average test accuracy")
    ax.set_title("gossip bench wallclock: accuracy against wall time per link rate")
    ax.set_ylim(max(0.0, target - 0.3), 1.0)
    ax.grid(True, which="both", alpha=0.3)
    if seen:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no run finished", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
