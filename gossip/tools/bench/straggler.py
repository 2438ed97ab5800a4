"""``gossip bench straggler``: time and bytes to a target accuracy, sync against async, with
one rank 1x, 2x, 4x, 8x slower (``--slowdown``), on rings of 4 and 8 ranks under mpiexec.

Time to target: the first wall-clock second at which the mean over ranks of each rank's latest
evaluated test accuracy (its own model, every ``--eval-every`` steps) reaches ``--target``;
bytes to target: payload bytes all ranks sent up to then.  The same definition for both modes
(sync rows are per round, async rows per local step); not the network average, which an
async run can only evaluate after its final flush (docs/algorithms.md 7b).  ``--max-staleness``
takes several bounds (a sweep).  Prints the table and the targets, and saves a plot
(matplotlib, Agg).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from .default import mpiexec


def to_target(run_dir: Path, target: float) -> tuple[float, float]:
    """(seconds, bytes) until the mean of the ranks' latest accuracies reaches ``target``."""
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x]
    rows = sorted((r for r in rows if r["rank"] >= 0), key=lambda r: r["elapsed_s"])
    n = 1 + max(r["rank"] for r in rows)
    latest, sent = {}, 0
    for r in rows:
        sent += r.get("bytes_sent", 0)
        if "test_accuracy" in r:
            latest[r["rank"]] = r["test_accuracy"]
            if len(latest) == n and sum(latest.values()) / n >= target:
                return r["elapsed_s"], float(sent)
    return float("nan"), float("nan")


def one(n: int, mode: str, factor: float, opts, tmp: Path, extra: list[str],
        bound: int | None = None) -> dict:
    out = tmp / f"{mode}-n{n}-x{factor:g}-s{bound}"
    cmd = [mpiexec(), "-n", str(n), sys.executable, "-m", "gossip", "train", "--mode", mode,
           "--rounds", str(opts.rounds), "--eval-every", str(opts.eval_every), "--out", str(out),
           "--no-progress", "--checkpoint-every", "0", *extra]
    if factor > 1:
        cmd += ["--slowdown", f"{opts.slow_rank}:{factor:g}"]
    if mode == "async":
        cmd += ["--max-staleness", str(bound)]
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"gossip bench straggler: the run failed:\n{proc.stderr[-3000:]}")
    s = json.loads((out / "summary.json").read_text())
    t, b = to_target(out, opts.target)
    return dict(n=n, mode=mode, factor=factor, S=bound, time=t, bytes=b, wall=s["wall_seconds"],
                acc=s["final_avg_test_accuracy"])


def report(res: list[dict], opts) -> None:
    print(f"\n{'ranks':>5} {'slow':>5} {'mode':>5} {'S':>6} {'t->' + str(opts.target):>9} "
          f"{'bytes->target':>14} {'wall s':>7} {'final acc':>9}")
    for r in res:
        print(f"{r['n']:>5} {r['factor']:>4g}x {r['mode']:>5} {r['S'] or '-':>6} {r['time']:>9.2f} "
              f"{r['bytes']:>14,.0f} {r['wall']:>7.2f} {r['acc']:>9.4f}")
    key = {(r["n"], r["factor"], r["mode"], r["S"]): r for r in res}
    print("\ntargets (ring of 4):")
    for (f, lim_t, lim_b), bound in ((c, b) for c in ((4.0, 0.5, 1.2), (1.0, 1.1, None))
                                     for b in opts.max_staleness):
        s, a = key.get((4, f, "sync", None)), key.get((4, f, "async", bound))
        if s is None or a is None:
            continue
        rt, rb = a["time"] / s["time"], a["bytes"] / s["bytes"]
        ok = rt <= lim_t and (lim_b is None or rb <= lim_b)
        print(f"  {f:g}x straggler, S = {bound}: async/sync time to {opts.target} = {rt:.2f} "
              f"(target <= "
              f"{lim_t}), bytes = {rb:.2f}" + (f" (target <= {lim_b})" if lim_b else "")
              + f"  {'MET' if ok else 'NOT MET'}")


def plot(res: list[dict], path: Path, target: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for n in sorted({r["n"] for r in res}):
        for mode, style in (("sync", "o-"), ("async", "s--")):
            for bound in sorted({r["S"] for r in res if r["mode"] == mode}, key=str):
                pts = sorted((r["factor"], r["time"]) for r in res
                             if r["n"] == n and r["mode"] == mode and r["S"] == bound)
                label = f"{mode}, ring of {n}" + (f", S = {bound}" if bound else "")
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
    ax.set(xscale="log", xlabel="slowdown of one rank", ylabel=f"seconds to accuracy {target}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    print(f"plot: {path}")


def _bad_option(opts) -> str | None:
    """The first option out of range, said as the fix (None: all fine)."""
    if min(opts.ranks) < 2:
        return f"--ranks {min(opts.ranks)}: every run needs at least 2 ranks"
    if min(opts.factors) < 1:
        return f"--factors {min(opts.factors):g}: a slowdown factor is >= 1 (1 = no straggler)"
    if not 0 < opts.target <= 1:
        return f"--target {opts.target:g}: an accuracy in (0, 1]"
    if opts.rounds < 1 or opts.eval_every < 1:
        return f"--rounds {opts.rounds} / --eval-every {opts.eval_every}: both must be >= 1"
    if min(opts.max_staleness) < 0:
        return f"--max-staleness {min(opts.max_staleness)}: a bound is >= 0 rounds"
    if not 0 <= opts.slow_rank < min(opts.ranks):
        return (f"--slow-rank {opts.slow_rank}: not a rank of every run (0..{min(opts.ranks) - 1}"
                f" with --ranks {' '.join(map(str, opts.ranks))})")
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gossip bench straggler",
                                description=__doc__.split("\n\n")[0].replace("``", ""))
    p.add_argument("--ranks", type=int, nargs="+", default=[4, 8])
    p.add_argument("--factors", type=float, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--target", type=float, default=0.93)
    p.add_argument("--rounds", type=int, default=600)
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--max-staleness", type=int, nargs="+", default=[2],
                   help="async runs with each of these bounds (a sweep)")
    p.add_argument("--slow-rank", type=int, default=1)
    p.add_argument("--plot", default="straggler.png", help="where to save the plot")
    opts, extra = p.parse_known_args(argv)
    bad = _bad_option(opts)
    if bad:
        p.error(bad)
    own = {"--out", "--mode", "--slowdown", "--checkpoint-every", "--progress", "--no-progress"}
    clash = sorted({a.split("=")[0] for a in extra} & own)
    if clash:
        print(f"gossip bench straggler: error: {', '.join(clash)} is set by the benchmark itself "
              f"(each run writes to a temporary directory; the table and --plot are the "
              f"results); drop it", file=sys.stderr)
        return 2
    res = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in opts.ranks:
            for f in opts.factors:
                res.append(one(n, "sync", f, opts, Path(tmp), extra))
                for bound in opts.max_staleness:
                    res.append(one(n, "async", f, opts, Path(tmp), extra, bound))
    report(res, opts)
    plot(res, Path(opts.plot), opts.target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
