"""The ``gossip compare`` command: its options, the loop over methods, the outputs.

File format and columns: see :mod:`gossip.tools.compare`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from .. import _core
from .launch import _error_line, _launch, run_command
from .spec import EXIT_FAILED, EXIT_OK, EXIT_USAGE, LAUNCHERS, Comparison, CompareError, \
    load_comparison, method_config
from .tables import RESULT_KEYS, add_dpsgd_ratios, csv_text, markdown_table, notes, result_of


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
                    "of the network-average model and the wall time to reach it, final accuracy, "
                    "total bytes, bytes relative to D-PSGD, wall time. Outputs: table.md, "
                    "table.csv, comparison.json, configs/, runs/, logs/, plots/.",
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
    from ..plots import plot_runs

    try:
        paths = plot_runs(runs, out_dir, target=target)
    except Exception as e:  # noqa: BLE001 - plots must not cost the table
        _say(f"plots: failed ({type(e).__name__}: {e}); the table is complete")
        return
    _say(f"plots: {', '.join(str(p) for p in paths)}")


def run_comparison(cmp: Comparison, *, resume: bool = False, timeout: float | None = None,
                   mpiexec: str | None = None, plots: bool = True, dry_run: bool = False,
                   argv: list[str] | None = None) -> int:
    import tomli_w

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
            _core.load_config(str(cfg_path))
        except _core.ConfigError as e:
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
             + (f" and {row['seconds_to_target']:.1f} s"
                if row.get("seconds_to_target") is not None else "")
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
