"""``gossip bench default``: the default job under real MPI (``mpiexec -n 4 gossip train``), then
its figures: network-average test accuracy, bytes against float32 D-PSGD in the same rounds,
mean bits per entry, exact-zero fraction, wall time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..mpiexec import INSTALL_HINT, find_mpiexec


def mpiexec() -> str:
    exe = find_mpiexec()
    if not exe:
        raise SystemExit(f"gossip bench: mpiexec not found; {INSTALL_HINT}")
    return exe


def bench_default(ranks: int = 4, extra: list[str] | None = None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [mpiexec(), "-n", str(ranks), sys.executable, "-m", "gossip", "train",
               "--out", str(out), "--no-progress", *(extra or [])]
        print("$ " + " ".join(cmd), flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        launch = time.perf_counter() - t0
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr, sep="\n")
            return proc.returncode
        s = json.loads((out / "summary.json").read_text())
    rows = [
        ("network-average test accuracy", f"{s['final_avg_test_accuracy']:.4f}"),
        ("per-rank test accuracy", " ".join(f"{a:.3f}" for a in s["final_rank_test_accuracy"])),
        ("rounds", f"{s['rounds']}"),
        ("model entries d", f"{s['model_entries']:,}"),
        ("total payload bytes sent (all ranks)", f"{s['total_bytes_sent']:,}"),
        ("float32 D-PSGD bytes, same rounds", f"{s['dpsgd_float32_bytes_same_rounds']:,}"),
        ("bytes / D-PSGD bytes", f"{s['bytes_vs_dpsgd']:.4f} (1/{1 / s['bytes_vs_dpsgd']:.1f})"
         if s["bytes_vs_dpsgd"] else "n/a (no neighbours)"),
        ("mean bits per entry per message", f"{s['mean_bits_per_entry']:.4f}"
         if s["mean_bits_per_entry"] is not None else "n/a (no messages)"),
        ("length announcements (int64 per payload > 64 KiB)", f"{s['total_control_bytes_sent']:,}"),
        ("exact zeros in the final models", f"{1 - s['final_nonzero_fraction']:.2%}"),
        ("training wall time (rank 0)", f"{s['wall_seconds']:.2f} s"),
        ("whole launch incl. imports", f"{launch:.2f} s"),
    ]
    w = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{w}}  {v}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gossip bench default",
                                description=__doc__.split("\n\n")[0].replace("``", ""))
    p.add_argument("--ranks", type=int, default=4,
                   help="ranks (mpiexec -n) for the bench run, at least 2 (default 4)")
    return p


def main(argv: list[str] | None = None) -> int:
    """``--ranks N``; every other option goes to ``gossip train``."""
    parser = build_parser()
    opts, extra = parser.parse_known_args(argv)
    if opts.ranks < 2:
        parser.error(f"--ranks {opts.ranks}: the default job gossips between ranks; use 2 or more")
    return bench_default(ranks=opts.ranks, extra=extra)


if __name__ == "__main__":
    raise SystemExit(main())
