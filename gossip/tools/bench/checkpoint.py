"""Time to write and to load a checkpoint set of the default run (4 in-process ranks).

``python -m gossip.tools.bench.checkpoint [--rounds 100] [--hidden 64] [--repeats 5]``: trains
``rounds`` rounds, then writes the checkpoint set of every rank (fsync + rename) and loads it
back ``repeats`` times; prints the best and median of each.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from .. import _core


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gossip.tools.bench.checkpoint",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=100)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--repeats", type=int, default=5)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.rounds < 1 or args.repeats < 1:
        raise SystemExit("checkpoint: --rounds and --repeats must be >= 1")
    cfg = _core.load_config(None, {"model": {"hidden": args.hidden},
                                   "train": {"comm": "inprocess", "progress": False}})
    topo = _core.build_topology(cfg, cfg.train.ranks)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        run = _core.Run(cfg, _core.InProcessCommunicator(list(topo.neighbours)), topo, out)
        for t in range(1, args.rounds + 1):
            run.round(t)
        saves, loads = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            _core.save_set(run, args.rounds, 0.0, 0.0, [])
            saves.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            _core.load_set(run, args.rounds)
            loads.append(time.perf_counter() - t0)
        size = sum(p.stat().st_size
                   for p in _core.checkpoint_round_dir(out, args.rounds).iterdir())
    med = len(saves) // 2
    print(f"d = {run.d:,} entries, {cfg.train.ranks} ranks, checkpoint set {size:,} bytes")
    print(f"write (all ranks, fsync + rename): best {min(saves) * 1e3:.1f} ms, "
          f"median {sorted(saves)[med] * 1e3:.1f} ms")
    print(f"load (all ranks):                  best {min(loads) * 1e3:.1f} ms, "
          f"median {sorted(loads)[med] * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
