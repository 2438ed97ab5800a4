"""``gossip bench wallclock``: wall-clock time to a target accuracy at a given link rate.

For each rate and method it runs ``mpiexec -n R python -m gossip train --algorithm M`` in a
private network namespace whose loopback is shaped to the rate (``tc tbf``), with MPI forced
onto TCP, so all ranks share one link of that rate; then it reads the runs' metrics and prints
how long each method needs to reach the target accuracy there, and where its rounds go.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

EXIT_USAGE = 2
DEFAULT_METHODS = "malcom,dpsgd"
DEFAULT_RATES = "unthrottled,1gbit,100mbit"
# Measured in-process on digits, 4 ranks, ring, --hidden 2000, evaluation every 10 rounds:
# D-PSGD first reaches 0.95 at round 150, Malcom-PSGD at 180, CHOCO-SGD at 140; 300 leaves room.
DEFAULT_ROUNDS = 300
DEFAULT_EVAL_EVERY = 5
UNTHROTTLED = ("unthrottled", "none", "off")
_UNITS = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9, "tbit": 10**12}
# flags of gossip train that the benchmark sets itself
_OWN_FLAGS = {"--algorithm": "--methods", "--topology": "--topology", "--hidden": "--hidden",
              "--rounds": "--rounds", "--eval-every": "--eval-every", "--out": "--out",
              "--ranks": "--ranks", "--comm": None, "--progress": None, "--no-progress": None,
              "--resume": None}

DESCRIPTION = """\
Measures whether gossip pays at your link rate. For each --rates entry and each --methods
entry it runs `mpiexec -n RANKS python -m gossip train --algorithm METHOD` in a private network
namespace (unshare -n; unshare -rn without root) whose loopback is shaped by tc tbf to the
rate, with MPI forced onto TCP there: every message between ranks, local ones included, crosses
that one link, so all ranks share its bandwidth (a shared medium: Wi-Fi, a radio, an
oversubscribed uplink). "unthrottled" runs go through the same namespace and TCP loopback
without shaping: this machine's best case, not a real network. Only the rate is shaped (no
latency or loss).

Reading the table: s/round is the median round time. "to T" is how long training takes until
the round where the network-average model first reaches accuracy T. The timed run is not
evaluated on the way (an evaluation averages the models over the same link, which a deployment
does rarely, and its cost would land on the next rounds too): the accuracy curve comes from an
in-process replay of the same run, which is bit-identical (checked: the final accuracies must
be equal). "run" is the timed run's stopwatch over all rounds. bytes: sent by all ranks until
then. The split says
where a round goes: compute (gradients), codec (compression, coding, mixing: the price of
sending less) and wire (inside the exchange: transfer and waiting for peers). "vs dpsgd" is a
method's to-target time over uncompressed D-PSGD's at the same rate: below 1 it pays to
compress on that link. launch is the time from starting the launcher to round 1's metrics
line (imports, MPI start-up, data, model, round 1). Results: wallclock.json (every figure,
the exact commands, rates, versions), wallclock.png (accuracy against time), one directory
per run with its metrics.jsonl and log."""

EPILOG = """\
examples:
  gossip bench wallclock                                   # malcom vs dpsgd, 3 rates
  gossip bench wallclock --rates 10mbit,100mbit --methods malcom,dpsgd,choco
  gossip bench wallclock --rounds 100 -- --lr 0.05 --batch-size 64
rates: unthrottled or a number with kbit, mbit or gbit (bits per second; tc's "mbps" would
mean megabytes and is refused). Needs root or unprivileged user namespaces, iproute2 (ip, tc)
and an MPI (pip install 'gossip[mpich]')."""


class UsageError(Exception):
    """Bad input: one line, exit 2."""


def parse_rate(text: str) -> tuple[str, int | None]:
    """``"100mbit"`` -> ``("100mbit", 100_000_000)``; ``"unthrottled"`` -> ``(..., None)``."""
    s = text.strip().lower()
    if s in UNTHROTTLED:
        return "unthrottled", None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z]+)", s)
    if m and m.group(2) in ("bps", "kbps", "mbps", "gbps", "tbps"):
        unit = m.group(2)[0] + "bit" if m.group(2) != "bps" else "bit"
        raise UsageError(
            f"rate {text!r}: tc reads '{m.group(2)}' as bytes (not bits) per second; write bits, e.g. "
            f"{m.group(1)}{unit}")
    if not m or m.group(2) not in _UNITS:
        raise UsageError(f"rate {text!r}: expected unthrottled or a number with kbit, mbit or "
                         f"gbit, e.g. 100mbit")
    bps = float(m.group(1)) * _UNITS[m.group(2)]
    if bps < 8000:
        raise UsageError(f"rate {text!r}: too slow to train over (at least 8kbit)")
    return s.replace(" ", ""), int(bps)


def parse_rates(text: str) -> list[tuple[str, int | None]]:
    items = [t for t in text.split(",") if t.strip()]
    if not items:
        raise UsageError("--rates: give at least one rate, e.g. unthrottled,100mbit")
    out = []
    for t in items:
        r = parse_rate(t)
        if r[0] not in [o[0] for o in out]:
            out.append(r)
    return out


def known_methods() -> tuple[str, ...]:
    from .._core import ALGORITHM_DEFAULTS

    return tuple(ALGORITHM_DEFAULTS)


def parse_methods(text: str) -> list[str]:
    items = [t.strip().lower() for t in text.split(",") if t.strip()]
    if not items:
        raise UsageError("--methods: give at least one method, e.g. malcom,dpsgd")
    known = known_methods()
    for m in items:
        if m not in known:
            raise UsageError(f"unknown method {m!r}; choose from {', '.join(known)}")
    return list(dict.fromkeys(items))


def _positive(name: str, lo: int = 1):
    def conv(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be at least {lo}, got {v}")
        return v
    return conv


def _target(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < v <= 1.0:
        raise argparse.ArgumentTypeError(f"an accuracy in (0, 1], got {v}")
    return v


def topologies() -> tuple[str, ...]:
    import dataclasses

    from .._core import SECTIONS

    field = next(f for f in dataclasses.fields(SECTIONS["topology"]) if f.name == "name")
    return tuple(field.metadata["choices"])


def parse_topology(text: str) -> str:
    known = topologies()
    if text not in known:
        raise UsageError(f"unknown topology {text!r}; choose from {', '.join(known)}")
    return text


def _wrap(fn, flag):
    def conv(text):
        try:
            return fn(text)
        except UsageError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    conv.__name__ = flag
    return conv


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--methods", type=_wrap(parse_methods, "methods"),
                   default=parse_methods(DEFAULT_METHODS),
                   help=f"comma-separated algorithms (default {DEFAULT_METHODS}; choco and the "
                        f"others of gossip train --algorithm also work)")
    p.add_argument("--rates", type=_wrap(parse_rates, "rates"), default=parse_rates(DEFAULT_RATES),
                   help=f"comma-separated link rates: unthrottled, or N kbit/mbit/gbit "
                        f"(default {DEFAULT_RATES})")
    p.add_argument("--ranks", type=_positive("--ranks", 2), default=4,
                   help="MPI ranks (peers), all on this machine (default 4)")
    p.add_argument("--topology", type=_wrap(parse_topology, "topology"), default="ring",
                   help="graph of the peers, as gossip train --topology (default ring)")
    p.add_argument("--hidden", type=_positive("--hidden"), default=2000,
                   help="hidden width of the digits MLP (default 2000: ~150k parameters)")
    p.add_argument("--rounds", type=_positive("--rounds"), default=DEFAULT_ROUNDS,
                   help=f"rounds per run (default {DEFAULT_ROUNDS}: on digits D-PSGD reaches "
                        f"0.95 near round 150 and Malcom near 180)")
    p.add_argument("--eval-every", type=_positive("--eval-every"), default=DEFAULT_EVAL_EVERY,
                   help=f"evaluate the network average every k rounds: the resolution of the "
                        f"time to target (default {DEFAULT_EVAL_EVERY})")
    p.add_argument("--target", type=_target, default=0.95,
                   help="network-average test accuracy to reach (default 0.95)")
    p.add_argument("--repeats", type=_positive("--repeats"), default=1,
                   help="runs of each rate and method; the table shows medians (default 1)")
    p.add_argument("--out", default=None,
                   help="output directory (default runs/wallclock-<timestamp>)")
    p.add_argument("--timeout", type=_positive("--timeout"), default=3600,
                   help="seconds before one run is stopped (default 3600)")
    p.add_argument("--mpiexec", default=None,
                   help="mpiexec to use (default: next to this Python, then PATH)")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser(prog: str = "gossip bench wallclock") -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description=DESCRIPTION, epilog=EPILOG,
                usage=f"{prog} [options] [-- extra gossip train flags]",
                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return p


def _check_extra(extra: list[str]) -> None:
    for a in extra:
        flag = a.split("=", 1)[0]
        if flag in _OWN_FLAGS:
            own = _OWN_FLAGS[flag]
            raise UsageError(f"{flag} after --: the benchmark sets it" +
                             (f"; use {own} before --" if own else ""))


def _versions(mpiexec: str) -> dict:
    import numpy
    import torch

    import gossip

    def first_line(cmd: list[str]) -> str | None:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            text = (out.stdout or out.stderr).strip().splitlines()
            return " ".join(text[:2]) if text else None
        except (OSError, subprocess.TimeoutExpired):
            return None

    commit = first_line(["git", "-C", str(Path(gossip.__file__).parent), "rev-parse", "HEAD"])
    v = {"gossip": gossip.__version__, "gossip_commit": commit,
         "python": platform.python_version(), "torch": torch.__version__,
         "numpy": numpy.__version__, "mpiexec": first_line([mpiexec, "--version"]),
         "tc": first_line(["tc", "-V"]), "kernel": platform.release(),
         "machine": platform.machine(), "cpus": os.cpu_count()}
    try:
        import mpi4py

        v["mpi4py"] = mpi4py.__version__
    except ImportError:
        pass
    return v


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    bench_argv = list(argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _check_extra(extra)
    except UsageError as e:
        try:
            parser.error(str(e))
        except SystemExit as stop:
            return int(stop.code)
    except SystemExit as stop:  # --help (0) or a usage error (2)
        return int(stop.code or 0)
    from . import netns, report, run

    mpiexec = args.mpiexec or run.mpiexec_path()
    if not mpiexec:
        print("gossip bench wallclock: error: mpiexec not found; install an MPI "
              "(pip install 'gossip[mpich]') or pass --mpiexec", file=sys.stderr)
        return EXIT_USAGE
    try:
        netns.check()
    except netns.NamespaceUnavailable as e:
        print(f"gossip bench wallclock: error: {e}", file=sys.stderr)
        return EXIT_USAGE

    out = Path(args.out or Path("runs") / f"wallclock-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        print(f"gossip bench wallclock: error: --out {out} exists and is not empty; choose "
              f"another --out or remove it", file=sys.stderr)
        return EXIT_USAGE
    out.mkdir(parents=True, exist_ok=True)
    plan = [(k, rate, method) for k in range(args.repeats) for rate in args.rates
            for method in args.methods]
    say = lambda msg: print(msg, flush=True)  # noqa: E731
    plural = "s" if len(plan) > 1 else ""
    say(f"gossip bench wallclock: {len(plan)} run{plural} ({', '.join(args.methods)} at "
        f"{', '.join(r for r, _ in args.rates)}; {args.ranks} ranks, {args.topology}, "
        f"--hidden {args.hidden}, {args.rounds} rounds, target {args.target:g}) -> {out}")
    t_all = time.perf_counter()
    replays: dict[str, Path] = {}
    for method in args.methods:  # the accuracy curves: in-process, off the timed runs' clocks
        replays[method] = out / "replay" / method
        replays[method].parent.mkdir(exist_ok=True)
        say(f"replay of {method} in-process (the accuracy curve; {time.perf_counter() - t_all:.0f}"
            f" s elapsed)")
        argv_replay = run.replay_command(args.ranks, method, replays[method],
                                         topology=args.topology, hidden=args.hidden,
                                         rounds=args.rounds, eval_every=args.eval_every,
                                         extra=extra)
        done = subprocess.run(argv_replay, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"gossip bench wallclock: error: the in-process replay of {method} failed "
                  f"(exit {done.returncode}):\n{done.stderr[-2000:]}", file=sys.stderr)
            return 1
    runs = []
    for i, (k, (rate, bps), method) in enumerate(plan, 1):
        name = f"{rate}/{method}" + (f"-r{k + 1}" if args.repeats > 1 else "")
        run_dir = out / name
        label = f"[{i}/{len(plan)}] {method} @ {rate}" + (f" (repeat {k + 1})"
                                                          if args.repeats > 1 else "")
        say(f"{label}: running ({time.perf_counter() - t_all:.0f} s elapsed)")
        train_dir = run_dir / "train"
        argv_train = run.train_command(mpiexec, args.ranks, method, train_dir,
                                       topology=args.topology, hidden=args.hidden,
                                       rounds=args.rounds, eval_every=args.rounds,
                                       extra=extra)
        rec = {"method": method, "rate": rate, "bits_per_second": bps, "repeat": k + 1,
               "dir": str(train_dir)}
        rec.update(run.launch(label, argv_train, bps, run_dir, train_dir, rounds=args.rounds,
                              timeout=args.timeout, say=say))
        if rec["returncode"] == 0:
            try:
                rec["figures"] = report.analyse(train_dir, args.target, replays[method])
                first = min((r for r in report.read_metrics(train_dir, timing=True)
                             if r["rank"] == 0), key=lambda r: r["round"])
                if rec["launch_to_first_round_s"] is not None:
                    rec["startup_s"] = rec["launch_to_first_round_s"] - first["elapsed_s"]
                rec["summary"] = json.loads((train_dir / "summary.json").read_text())
            except (OSError, ValueError, KeyError) as e:
                rec["error"] = f"cannot read the run's metrics: {e}"
        else:
            rec["error"] = ("timed out" if rec["timed_out"] else
                            f"exit status {rec['returncode']}")
        f = rec.get("figures")
        if f:
            tt = f["time_to_target_s"]
            say(f"{label}: done in {rec['launcher_wall_s']:.1f} s; {f['s_per_round'] * 1e3:.1f} "
                f"ms/round, " + (f"{args.target:g} at round {f['target_round']} after "
                                 f"{tt:.1f} s" if tt is not None else
                                 f"{args.target:g} not reached (final {f['final_accuracy']:.4f})"))
        else:
            say(f"{label}: FAILED ({rec.get('error')}); log {rec['log']}:\n"
                + run.tail(rec["log"]))
        runs.append(rec)

    rows = []
    for rate, _ in args.rates:
        for method in args.methods:
            reps = [r for r in runs if r["rate"] == rate and r["method"] == method]
            row = {"method": method, "rate": rate, "bits_per_second": reps[0]["bits_per_second"]}
            row.update(report.combine(reps))
            rows.append(row)
    report.add_ratios(rows)
    text = report.table(rows, args.target)
    say("")
    say(text)
    say("")
    say(report.LEGEND)
    doc = {
        "benchmark": "gossip bench wallclock",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": {"methods": args.methods, "rates": [{"rate": r, "bits_per_second": b}
                                                        for r, b in args.rates],
                     "ranks": args.ranks, "topology": args.topology, "hidden": args.hidden,
                     "rounds": args.rounds, "eval_every": args.eval_every,
                     "target": args.target, "repeats": args.repeats, "extra_train_flags": extra,
                     "dataset": "digits unless set after --",
                     "transport": f"MPI over TCP on a namespace loopback, MTU {netns.MTU}; "
                                  f"shaped by tc tbf burst {netns.BURST} latency {netns.LATENCY}; "
                                  f"'unthrottled' is unshaped loopback TCP",
                     "argv": bench_argv},
        "definitions": report.__doc__,
        "launch_to_first_round": run.__doc__,
        "versions": _versions(mpiexec),
        "table": rows,
        "table_text": text,
        "runs": runs,
        "benchmark_wall_s": time.perf_counter() - t_all,
    }
    report.write_json(out / "wallclock.json", doc)
    try:
        report.plot(out / "wallclock.png", runs, args.target)
    except ImportError:
        say("matplotlib not installed: no wallclock.png (pip install matplotlib)")
    say(f"\nwrote {out / 'wallclock.json'} and {out / 'wallclock.png'} "
        f"({time.perf_counter() - t_all:.0f} s in all)")
    return 0 if all(r.get("figures") for r in runs) else 1


__all__ = ["main", "add_arguments", "build_parser", "parse_rate", "parse_rates",
           "parse_methods", "UsageError"]
