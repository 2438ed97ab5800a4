"""Round time of each method under ``mpiexec``, and its split into compute / codec / wire.

``gossip bench rounds [--methods malcom,dpsgd] [--hidden 2000,20000] [--ranks 4] [--rounds 250]
[--skip 50] [--repeats 3] [-- TRAIN OPTIONS]`` runs ``gossip train`` for every method and model
width (digits, ``--hidden H``: d = 75 H + 10 entries; 2000 gives d = 150,010 and 20000 gives
1,500,010), in turns (interleaved, best of ``--repeats``).  A round's time is the slowest
rank's clock (``elapsed_s``) from round ``--skip`` to the last, over the rounds between; the split
is the ranks' mean of ``compute_s``, ``codec_s`` and ``wire_s`` over the same rounds.  Runs
evaluate only at the end, so no evaluation is on the clock.  Prints ms per round, the split and
each method's round time over D-PSGD's (over the first method's when dpsgd is not timed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

PHASES = ("compute_s", "codec_s", "wire_s")


def _names(text: str) -> list[str]:
    out = [t.strip() for t in text.split(",") if t.strip()]
    if not out:
        raise argparse.ArgumentTypeError(f"{text!r}: want comma-separated names")
    return out


def _widths(text: str) -> list[int]:
    try:
        out = [int(float(t)) for t in text.split(",") if t.strip()]
    except ValueError:
        out = []
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: want comma-separated widths >= 1, e.g. "
                                         f"2000,20000")
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gossip bench rounds", description=__doc__.split("\n\n")[0])
    p.add_argument("--methods", type=_names, default=["malcom", "dpsgd"],
                   help="algorithms to time, comma-separated (default malcom,dpsgd)")
    p.add_argument("--hidden", type=_widths, default=[2000, 20000],
                   help="hidden widths of the digits MLP (default 2000,20000: d = 150k, 1.5M)")
    p.add_argument("--ranks", type=int, default=4, help="MPI ranks on a ring (default 4)")
    p.add_argument("--rounds", type=int, default=250, help="rounds per run (default 250)")
    p.add_argument("--skip", type=int, default=50,
                   help="rounds left out at the start: warm-up (default 50)")
    p.add_argument("--repeats", type=int, default=3,
                   help="runs of each method and width, interleaved; the best is kept")
    return p


def _bad_option(o) -> str | None:
    if o.ranks < 2:
        return f"--ranks {o.ranks}: an exchange needs at least 2 ranks"
    if o.repeats < 1:
        return f"--repeats {o.repeats}: at least one run of each"
    if not 1 <= o.skip < o.rounds:
        return f"--skip {o.skip} / --rounds {o.rounds}: want 1 <= skip < rounds"
    return None


def time_run(mpiexec: str, method: str, hidden: int, o, extra: list[str]) -> dict:
    """One ``gossip train`` under mpiexec -> ms per round and the per-phase split."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [mpiexec, "-n", str(o.ranks), sys.executable, "-m", "gossip", "train",
               "--algorithm", method, "--hidden", str(hidden), "--rounds", str(o.rounds),
               "--eval-every", str(o.rounds), "--checkpoint-every", "0", "--no-progress",
               *extra, "--out", str(out)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{method} --hidden {hidden}: exit {r.returncode}\n"
                               f"{(r.stderr or r.stdout)[-2000:]}")
        at: dict[int, list[dict]] = {o.skip: [], o.rounds: []}
        for line in (out / "metrics.jsonl").read_text().splitlines():
            rec = json.loads(line)
            if rec["rank"] >= 0 and rec["round"] in at:
                at[rec["round"]].append(rec)
    n = o.rounds - o.skip
    a, b = at[o.skip], at[o.rounds]
    per = (max(x["elapsed_s"] for x in b) - max(x["elapsed_s"] for x in a)) / n
    split = {k: (sum(x[k] for x in b) - sum(x[k] for x in a)) / len(b) / n for k in PHASES}
    return {"method": method, "hidden": hidden, "ms": 1e3 * per,
            **{k: 1e3 * v for k, v in split.items()}}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    p = build_parser()
    o = p.parse_args(argv)
    bad = _bad_option(o)
    if bad:
        p.error(bad)
    from ..mpiexec import INSTALL_HINT, find_mpiexec

    mpiexec = find_mpiexec()
    if mpiexec is None:
        print(f"gossip bench rounds: mpiexec not found; {INSTALL_HINT}", file=sys.stderr)
        return 2
    best: dict[tuple[str, int], dict] = {}
    for hidden in o.hidden:
        for k in range(o.repeats):
            for method in (o.methods if k % 2 == 0 else o.methods[::-1]):  # interleaved
                try:
                    got = time_run(mpiexec, method, hidden, o, extra)
                except RuntimeError as e:
                    print(f"gossip bench rounds: {e}", file=sys.stderr)
                    return 1
                key = (method, hidden)
                if key not in best or got["ms"] < best[key]["ms"]:
                    best[key] = got
    ref = "dpsgd" if "dpsgd" in o.methods else o.methods[0]
    print(f"mpiexec -n {o.ranks}, rounds {o.skip}..{o.rounds}, best of {o.repeats} "
          f"(interleaved); ms per round; split: mean over ranks")
    print(f"{'method':>10} {'d':>10} {'ms/round':>9} {'compute':>8} {'codec':>7} {'wire':>7} "
          f"{'vs ' + ref:>9}")
    for hidden in o.hidden:
        for method in o.methods:
            r = best[(method, hidden)]
            ratio = r["ms"] / best[(ref, hidden)]["ms"]
            print(f"{method:>10} {75 * hidden + 10:>10,} {r['ms']:>9.1f} {r['compute_s']:>8.1f} "
                  f"{r['codec_s']:>7.1f} {r['wire_s']:>7.1f} {ratio:>8.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
