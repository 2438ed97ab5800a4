"""``gossip compare``: run several methods on one problem and tabulate what each one paid.

A comparison file (TOML) names the problem once and the methods that attack it::

    [compare]
    ranks = 8                      # world size of every run
    launcher = "mpi"               # "mpi" (mpiexec -n RANKS) or "inprocess" (one process)
    target_accuracy = 0.9          # of the network-average model
    out = "runs/compare-ring"      # optional; default runs/compare-<file stem>-<timestamp>
    title = "..."                  # optional heading of table.md
    base = { topology = { name = "ring" }, train = { rounds = 1000, eval_every = 25 } }

    [[method]]
    label = "Malcom-PSGD"
    algorithm = { name = "malcom" }

    [[method]]
    label = "D-PSGD"
    algorithm = { name = "dpsgd" }

Each method's settings are ``base`` deep-merged with the method's own sections (the sections of
``gossip train --config``: topology, data, model, algorithm, train; the method wins).  The merged
settings are written to ``OUT/configs/<method>.toml`` and run with ``gossip train --config``
(``train.comm``, ``train.ranks`` and ``train.progress`` are filled in by compare; ``train.out`` is
``OUT/runs/<method>``).  A method whose settings do not validate, or whose run fails, is marked
failed and the others still run; the exit code is then 1.

Outputs in OUT: ``table.md``, ``table.csv``, ``comparison.json`` (the same rows with more
fields), ``configs/``, ``runs/``, ``logs/`` (each run's stdout and stderr) and ``plots/`` (PNG,
when matplotlib is installed).

Columns: rounds until the network-average test accuracy (``rank = -1`` lines of metrics.jsonl)
first reaches the target (evaluated every ``train.eval_every`` rounds, so this is a multiple of
it), payload bytes per rank spent until then (``bytes_sent`` of every rank summed over rounds
1..R, divided by the world size), final network-average accuracy, total payload bytes of all
ranks, total bytes relative to the D-PSGD row (algorithm ``dpsgd``; without one, relative to
float32 D-PSGD on the same graph and rounds, ``dpsgd_float32_bytes_same_rounds`` of
summary.json), and the training wall time of rank 0.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import read_toml

EXIT_OK = 0
EXIT_FAILED = 1   # at least one method failed
EXIT_USAGE = 2    # the comparison file or the flags are wrong; nothing ran

LAUNCHERS = ("mpi", "inprocess")
COMPARE_KEYS = {
    "ranks": "world size of every run (integer >= 1)",
    "launcher": "mpi (mpiexec -n RANKS python -m gossip train) or inprocess",
    "target_accuracy": "network-average test accuracy to reach (0 < t <= 1)",
    "out": "output directory (optional)",
    "title": "heading of table.md (optional)",
    "base": "settings shared by every method: tables topology, data, model, algorithm, train",
}
DEFAULTS = {"ranks": 4, "launcher": "mpi", "target_accuracy": 0.9}
# train.* keys that compare sets itself, per run
CONTROLLED_TRAIN_KEYS = ("out", "comm", "ranks", "progress")


class CompareError(ValueError):
    """The comparison file or the command line is wrong; nothing has run."""


def _sections() -> tuple[str, ...]:
    from .config import SECTIONS

    return tuple(SECTIONS)


# -- the comparison file ----------------------------------------------------------------------
@dataclass
class Method:
    label: str
    slug: str
    settings: dict          # merged base + method sections, before compare's own train keys

    @property
    def algorithm(self) -> str:
        return str(self.settings.get("algorithm", {}).get("name", "malcom"))


@dataclass
class Comparison:
    source: Path
    ranks: int
    launcher: str
    target: float
    out: Path | None
    title: str
    methods: list[Method] = field(default_factory=list)


def deep_merge(a: dict, b: dict) -> dict:
    """A copy of ``a`` updated by ``b``; nested tables merge, everything else ``b`` wins."""
    out = {k: (deep_merge(v, {}) if isinstance(v, dict) else v) for k, v in a.items()}
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        elif isinstance(v, dict):
            out[k] = deep_merge(v, {})
        else:
            out[k] = v
    return out


def slugify(label: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()
    return s or "method"


def _check_sections(table: Any, where: str, src: str) -> dict:
    sections = _sections()
    if not isinstance(table, dict):
        raise CompareError(f"compare error: {where} in {src} must be a table")
    for name, val in table.items():
        if name not in sections:
            raise CompareError(f"compare error: unknown key {where}.{name} in {src}; "
                               f"accepted sections: {', '.join(sections)}")
        if not isinstance(val, dict):
            raise CompareError(f"compare error: {where}.{name} in {src} must be a table of "
                               f"settings, e.g. {name} = {{ ... }}")
        bad = [k for k in val if name == "train" and k in CONTROLLED_TRAIN_KEYS]
        if bad:
            raise CompareError(f"compare error: {where}.train.{bad[0]} in {src}: set by gossip "
                               f"compare itself (use [compare] ranks / launcher / out or the "
                               f"flags --ranks / --launcher / --out)")
    return table


def load_comparison(path: str | Path, *, ranks: int | None = None, launcher: str | None = None,
                    target: float | None = None, out: str | None = None,
                    rounds: int | None = None, only: list[str] | None = None) -> Comparison:
    """Parse and check a comparison file; keyword arguments override it (the CLI flags)."""
    p, src = Path(path), str(path)
    data = read_toml(src, f"compare error: {src}", CompareError)
    for key in data:
        if key not in ("compare", "method"):
            raise CompareError(f"compare error: unknown key {key!r} at the top of {src}; "
                               f"accepted: [compare] and [[method]] (settings shared by all "
                               f"methods go in [compare] base, e.g. [compare.base.{key}])")
    head = data.get("compare", {})
    if not isinstance(head, dict):
        raise CompareError(f"compare error: compare in {src} must be a table [compare]")
    for key in head:
        if key not in COMPARE_KEYS:
            raise CompareError(
                f"compare error: unknown key compare.{key} in {src}; accepted keys in "
                f"[compare]: {', '.join(COMPARE_KEYS)}")
    settings = {**DEFAULTS, **head}
    if ranks is not None:
        settings["ranks"] = ranks
    if launcher is not None:
        settings["launcher"] = launcher
    if target is not None:
        settings["target_accuracy"] = target
    if out is not None:
        settings["out"] = out

    r = settings["ranks"]
    if isinstance(r, bool) or not isinstance(r, int) or r < 1:
        raise CompareError(f"compare error: compare.ranks = {r!r} in {src}: expected an "
                           f"integer >= 1")
    la = settings["launcher"]
    if la not in LAUNCHERS:
        raise CompareError(f"compare error: compare.launcher = {la!r} in {src}: must be one of "
                           f"{', '.join(LAUNCHERS)}")
    t = settings["target_accuracy"]
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not (0 < t <= 1):
        raise CompareError(f"compare error: compare.target_accuracy = {t!r} in {src}: expected "
                           f"a number in (0, 1]")
    o = settings.get("out")
    if o is not None and not isinstance(o, str):
        raise CompareError(f"compare error: compare.out = {o!r} in {src}: expected a string")
    title = settings.get("title", f"gossip compare: {p.stem}")
    if not isinstance(title, str):
        raise CompareError(f"compare error: compare.title = {title!r} in {src}: expected a string")
    if rounds is not None and rounds < 1:
        raise CompareError(f"compare error: --rounds {rounds}: must be >= 1")
    base = _check_sections(settings.get("base", {}), "compare.base", src)

    raw_methods = data.get("method", [])
    if not isinstance(raw_methods, list) or not raw_methods:
        raise CompareError(f"compare error: {src} lists no methods; add [[method]] tables, each "
                           f"with a label and its sections, e.g. algorithm = {{ name = \"malcom\" }}")
    methods: list[Method] = []
    seen: dict[str, str] = {}
    for i, m in enumerate(raw_methods, 1):
        where = f"method #{i}"
        if not isinstance(m, dict):
            raise CompareError(f"compare error: {where} in {src} must be a table [[method]]")
        label = m.get("label")
        if not isinstance(label, str) or not label.strip():
            raise CompareError(f"compare error: {where} in {src} needs label = \"...\" "
                               f"(the row's name in the table)")
        where = f"method {label!r}"
        for key in m:
            if key != "label" and key not in _sections():
                raise CompareError(
                    f"compare error: unknown key {key!r} in {where} of {src}; accepted keys in "
                    f"[[method]]: label, {', '.join(_sections())}")
        sections = _check_sections({k: v for k, v in m.items() if k != "label"}, where, src)
        slug = slugify(label)
        if slug in seen:
            raise CompareError(f"compare error: labels {seen[slug]!r} and {label!r} in {src} are "
                               f"not distinct (both give the directory name {slug!r})")
        seen[slug] = label
        merged = deep_merge(base, sections)
        if rounds is not None:
            merged.setdefault("train", {})["rounds"] = rounds
        methods.append(Method(label=label, slug=slug, settings=merged))
    if only:
        wanted = []
        for name in only:
            hit = [m for m in methods if name in (m.label, m.slug)]
            if not hit:
                raise CompareError(f"compare error: --only {name!r}: no such method; methods: "
                                   + ", ".join(repr(m.label) for m in methods))
            wanted.extend(h for h in hit if h not in wanted)
        methods = wanted
    return Comparison(source=p, ranks=r, launcher=la, target=float(t),
                      out=Path(o) if o else None, title=title, methods=methods)


def method_config(cmp: Comparison, m: Method) -> dict:
    """The full ``gossip train --config`` settings of one method."""
    cfg = deep_merge(m.settings, {})
    train = cfg.setdefault("train", {})
    train["comm"] = cmp.launcher
    train["ranks"] = cmp.ranks
    train["progress"] = False
    return cfg


# -- reading a run ----------------------------------------------------------------------------
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

    def cum_bytes_per_rank_at(self, rnd: int) -> float:
        """Payload bytes per rank spent in rounds 1..rnd."""
        total = 0
        for r, b in zip(self.rounds, self.bytes_sent):
            if r > rnd:
                break
            total += b
        return total / self.world_size

    def rounds_to(self, target: float) -> int | None:
        for r, a in zip(self.eval_rounds, self.avg_accuracy):
            if not math.isnan(a) and a >= target:
                return r
        return None


MEAN_KEYS = ("loss", "bits_per_entry", "nonzero_fraction", "consensus_distance", "test_accuracy",
             "symbol_entropy_bits")


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


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
    ranks: set[int] = set()
    evals: dict[int, tuple[float, float]] = {}
    with open(d / "metrics.jsonl") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
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
                   summary=summary)


# -- running ----------------------------------------------------------------------------------
def find_mpiexec() -> str | None:
    return (shutil.which("mpiexec", path=str(Path(sys.executable).parent))
            or shutil.which("mpiexec"))


def run_command(cmp: Comparison, config_path: Path, run_dir: Path,
                mpiexec: str | None = None) -> list[str]:
    train = [sys.executable, "-m", "gossip", "train", "--config", str(config_path),
             "--out", str(run_dir)]
    if cmp.launcher == "inprocess":
        return train
    exe = mpiexec or find_mpiexec()
    if exe is None:
        raise CompareError("compare error: mpiexec not found next to this Python or on PATH; "
                           "install an MPI (pip install -e '.[mpich]'), pass --mpiexec PATH, "
                           "or use --launcher inprocess")
    return [exe, "-n", str(cmp.ranks), *train]


def _child_env() -> dict:
    env = dict(os.environ)
    # Open MPI refuses root and oversubscription unless told; MPICH ignores these.
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    env.setdefault("OMPI_MCA_rmaps_base_oversubscribe", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _error_line(log_text: str) -> str:
    """The run's own error message ("gossip: ...") if it printed one, else its last line."""
    lines = [ln.strip() for ln in log_text.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("gossip: "):
            return ln
    return lines[-1] if lines else "no output"


def _launch(cmd: list[str], log_path: Path, timeout: float | None) -> tuple[int, bool]:
    """Run ``cmd`` with stdout+stderr into ``log_path``; (exit code, timed out)."""
    with open(log_path, "w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=_child_env(),
                                start_new_session=True)
        try:
            return proc.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            _kill(proc)
            return proc.wait(), True
        except BaseException:  # KeyboardInterrupt: take the run (and its ranks) down with us
            _kill(proc)
            proc.wait()
            raise


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


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


RESULT_KEYS = ("rounds_to_target", "bytes_per_rank_to_target", "final_accuracy", "total_bytes",
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
              "final_accuracy", "total_bytes", "bytes_vs_dpsgd", "wall_seconds",
              "target_accuracy", "world_size", "rounds", "topology", "mean_bits_per_entry",
              "final_nonzero_fraction", "error")
DASH = "—"


def _fmt_int(v: float | None) -> str:
    return DASH if v is None else f"{round(v):,}"


def _fmt_ratio(v: float | None) -> str:
    if v is None:
        return DASH
    if 0 < v < 1:
        return f"{v:.4f} (1/{1 / v:.0f})" if 1 / v >= 10 else f"{v:.4f} (1/{1 / v:.1f})"
    return f"{v:.4f}"


def markdown_table(rows: list[dict], target: float) -> str:
    t = f"{target:g}"
    head = ["method", "algorithm", f"rounds to {t}", f"bytes/rank to {t}", "final acc",
            "total bytes", "vs D-PSGD", "wall s", "status"]
    align = ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    for r in rows:
        ok = r["status"] == "ok"
        cells = [
            r["label"].replace("|", "\\|"), r["algorithm"],
            DASH if r.get("rounds_to_target") is None else str(r["rounds_to_target"]),
            _fmt_int(r.get("bytes_per_rank_to_target")),
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
         f"bytes: all ranks, all rounds, payload only (size announcements not included)."),
        ratio_note,
        f"{cmp.ranks} ranks, launcher {cmp.launcher}; wall s = training time of rank 0.",
    ]
    for r in rows:
        if r["status"] == "failed":
            out.append(f"FAILED {r['label']}: {r['error']}"
                       + (f" (log: {r['log']})" if r.get("log") else ""))
    return "\n".join(f"- {x}" for x in out) + "\n"


# -- the command --------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``gossip compare`` (for cli.py's subparser and for :func:`main`)."""
    p.add_argument("file", metavar="FILE", help="comparison file (TOML with [compare] and "
                   "[[method]] tables; examples in jobs/configs/compare-*.toml)")
    p.add_argument("--ranks", type=int, help="world size of every run (overrides compare.ranks)")
    p.add_argument("--launcher", choices=LAUNCHERS,
                   help="mpi: mpiexec -n RANKS python -m gossip train; inprocess: all ranks in "
                        "one process (overrides compare.launcher)")
    p.add_argument("--target", type=float, metavar="ACC",
                   help="target network-average test accuracy (overrides compare.target_accuracy)")
    p.add_argument("--out", metavar="DIR", help="output directory, new or empty (overrides "
                   "compare.out; default runs/compare-<file stem>-<timestamp>)")
    p.add_argument("--rounds", type=int, help="train.rounds of every method (overrides the file)")
    p.add_argument("--only", nargs="+", metavar="LABEL",
                   help="run only these methods (label or its directory name; put FILE before "
                        "--only)")
    p.add_argument("--resume", action="store_true",
                   help="reuse an existing --out: methods whose run finished with the same "
                        "settings are not run again (change --target freely)")
    p.add_argument("--timeout", type=float, metavar="S", help="seconds before a run is killed "
                   "and marked failed (default: no limit)")
    p.add_argument("--mpiexec", metavar="PATH", help="MPI launcher (default: mpiexec next to "
                   "this Python, else on PATH)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--dry-run", action="store_true",
                   help="check every method's settings and print the commands; write and run "
                        "nothing")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gossip compare",
        description="Run several methods on one problem (one `gossip train` each) and write a "
                    "table: rounds and payload bytes per rank to reach a target test accuracy "
                    "of the network-average model, final accuracy, total bytes, bytes relative "
                    "to D-PSGD, wall time. Outputs: table.md, table.csv, comparison.json, "
                    "configs/, runs/, logs/, plots/.",
        epilog="Example: gossip compare jobs/configs/compare-malcom-choco-dpsgd-ring.toml")
    add_arguments(p)
    return p


def _say(msg: str = "", end: str = "\n") -> None:
    print(msg, end=end, flush=True)


def _plot(runs: dict[str, Path], out_dir: Path, target: float) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        _say("plots: skipped, matplotlib is not installed (pip install -e '.[plots]', then "
             f"python analysis/plots.py {out_dir.parent})")
        return
    script = Path(__file__).resolve().parent.parent / "analysis" / "plots.py"
    if not script.is_file():
        _say(f"plots: skipped, {script} not found (run analysis/plots.py from a source checkout)")
        return
    import importlib.util

    spec = importlib.util.spec_from_file_location("gossip_analysis_plots", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    try:
        paths = mod.plot_runs(runs, out_dir, target=target)
    except Exception as e:  # noqa: BLE001 - plots must not cost the table
        _say(f"plots: failed ({type(e).__name__}: {e}); the table is complete")
        return
    _say(f"plots: {', '.join(str(p) for p in paths)}")


def run_comparison(cmp: Comparison, *, resume: bool = False, timeout: float | None = None,
                   mpiexec: str | None = None, plots: bool = True, dry_run: bool = False,
                   argv: list[str] | None = None) -> int:
    import tomli_w

    from . import config as gconfig

    out = cmp.out or Path("runs") / f"compare-{cmp.source.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and not out.is_dir():
        raise CompareError(f"compare error: --out {out} is a file")
    if out.exists() and any(out.iterdir()) and not resume and not dry_run:
        raise CompareError(f"compare error: output directory {out} is not empty; choose another "
                           f"--out, or pass --resume to reuse its finished runs")
    if cmp.launcher == "mpi" and not dry_run:
        run_command(cmp, Path("x"), Path("x"), mpiexec)  # fail early without mpiexec
    if dry_run:  # check in a scratch directory: never touch a comparison that --resume may reuse
        import tempfile

        scratch = tempfile.TemporaryDirectory(prefix="gossip-compare-")
        cfg_dir = Path(scratch.name)
    else:
        for sub in ("configs", "runs", "logs"):
            (out / sub).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cmp.source, out / "compare.toml")
        cfg_dir = out / "configs"
    n = len(cmp.methods)
    _say(f"gossip compare {cmp.source}: {n} method{'s' * (n != 1)}, {cmp.ranks} ranks, launcher "
         f"{cmp.launcher}, target accuracy {cmp.target:g}; "
         + (f"dry run for {out}/" if dry_run else f"writing {out}/"))
    rows: list[dict] = []
    width = max(len(m.label) for m in cmp.methods)
    interrupted = False
    for i, m in enumerate(cmp.methods, 1):
        cfg_path = cfg_dir / f"{m.slug}.toml"
        run_dir = out / "runs" / m.slug
        log_path = out / "logs" / f"{m.slug}.log"
        text = tomli_w.dumps(method_config(cmp, m))
        try:
            cmd = run_command(cmp, out / "configs" / f"{m.slug}.toml", run_dir, mpiexec)
        except CompareError:  # only in --dry-run: a real run checked for mpiexec above
            cmd = []
        row = {"label": m.label, "slug": m.slug, "algorithm": m.algorithm, "status": "failed",
               "error": None, "reused": False, "config": str(cfg_path), "run_dir": str(run_dir),
               "log": str(log_path), "command": " ".join(cmd), "exit_code": None,
               "launch_seconds": None, "target_accuracy": cmp.target}
        row.update(dict.fromkeys(RESULT_KEYS))
        rows.append(row)
        _say(f"[{i}/{n}] {m.label:<{width}}  ", end="")
        same = cfg_path.is_file() and cfg_path.read_text() == text
        if resume and same and (run_dir / "summary.json").is_file():
            row.update(result_of(m, cmp, run_dir), status="ok", reused=True)
            _say("reused  " + _status_tail(row, cmp))
            continue
        cfg_path.write_text(text)
        try:
            gconfig.load(str(cfg_path))
        except gconfig.ConfigError as e:
            row["error"] = f"{e} (in {out / 'configs' / cfg_path.name})"
            row["log"] = None
            _say(f"FAILED  {e}")
            continue
        if dry_run:
            row["status"] = "not run"
            _say("config ok; would run: " + (row["command"] or "(mpiexec not found)"))
            continue
        if run_dir.exists():  # a previous, unfinished or differently-configured attempt
            shutil.rmtree(run_dir)
        t0 = time.perf_counter()
        try:
            rc, timed_out = _launch(cmd, log_path, timeout)
        except KeyboardInterrupt:
            row["error"] = "interrupted"
            _say("interrupted")
            interrupted = True
            break
        row["launch_seconds"] = time.perf_counter() - t0
        row["exit_code"] = rc
        if rc == 0 and (run_dir / "summary.json").is_file():
            row.update(result_of(m, cmp, run_dir), status="ok")
            _say(f"ok in {row['launch_seconds']:.1f} s  " + _status_tail(row, cmp))
        else:
            why = (f"timed out after {timeout:g} s" if timed_out
                   else f"exit {rc}: {_error_line(log_path.read_text(errors='replace'))}")
            row["error"] = why
            _say(f"FAILED  {why}  (log: {log_path})")
    if dry_run:
        scratch.cleanup()
        return EXIT_FAILED if any(r["status"] == "failed" for r in rows) else EXIT_OK
    ratio_note = add_dpsgd_ratios(rows)
    md = markdown_table(rows, cmp.target)
    nt = notes(cmp, rows, ratio_note)
    header = f"# {cmp.title}\n\n"
    cmdline = "gossip compare " + " ".join(argv if argv is not None else [str(cmp.source)])
    (out / "table.md").write_text(header + md + "\n" + nt + f"\nCommand: `{cmdline}`\n")
    (out / "table.csv").write_text(csv_text(rows, cmp.target))
    (out / "comparison.json").write_text(json.dumps({
        "source": str(cmp.source), "command": cmdline, "title": cmp.title, "ranks": cmp.ranks,
        "launcher": cmp.launcher, "target_accuracy": cmp.target, "dpsgd_basis": ratio_note,
        "methods": rows}, indent=2) + "\n")
    _say()
    _say(md, end="")
    _say(nt, end="")
    _say(f"wrote {out / 'table.md'}, {out / 'table.csv'}, {out / 'comparison.json'}")
    ok_runs = {r["label"]: Path(r["run_dir"]) for r in rows if r["status"] == "ok"}
    if plots and ok_runs:
        _plot(ok_runs, out / "plots", cmp.target)
    if interrupted:
        return 130
    return EXIT_OK if all(r["status"] == "ok" for r in rows) else EXIT_FAILED


def _status_tail(row: dict, cmp: Comparison) -> str:
    t = f"{cmp.target:g}"
    reach = (f"{t} at round {row['rounds_to_target']} after "
             f"{row['bytes_per_rank_to_target']:,.0f} B/rank"
             if row.get("rounds_to_target") is not None else f"{t} not reached")
    acc = row.get("final_accuracy")
    return (f"final acc {acc:.4f}, " if acc is not None else "") + \
        f"{reach}, total {row['total_bytes']:,} B"


def run_from_args(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    """``gossip compare`` on parsed arguments (cli.py calls this from its subparser)."""
    try:
        cmp = load_comparison(args.file, ranks=args.ranks, launcher=args.launcher,
                              target=args.target, out=args.out, rounds=args.rounds,
                              only=args.only)
        return run_comparison(cmp, resume=args.resume, timeout=args.timeout,
                              mpiexec=args.mpiexec, plots=not args.no_plots,
                              dry_run=args.dry_run, argv=argv)
    except CompareError as e:
        print(f"gossip: {e}", file=sys.stderr, flush=True)
        return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    return run_from_args(args, argv)


if __name__ == "__main__":
    raise SystemExit(main())
