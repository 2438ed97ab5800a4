"""Time to write and to load a checkpoint set of the default run (4 in-process ranks).

python analysis/checkpoint_timing.py [--rounds 100] [--hidden 64]
"""

import argparse
import tempfile
import time
from pathlib import Path

from gossip import checkpoint, config
from gossip.comm import InProcessCommunicator
from gossip.train import Run, build_topology


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=64)
    args = ap.parse_args()
    cfg = config.load(None, {"model": {"hidden": args.hidden},
                             "train": {"comm": "inprocess", "progress": False}})
    topo = build_topology(cfg, cfg.train.ranks)
    out = Path(tempfile.mkdtemp())
    run = Run(cfg, InProcessCommunicator(list(topo.neighbours)), topo, out)
    for t in range(1, args.rounds + 1):
        run.round(t)
    saves, loads = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        run.save_checkpoint(args.rounds, 0.0, 0.0, [])
        saves.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run.load_checkpoint(args.rounds)
        loads.append(time.perf_counter() - t0)
    size = sum(p.stat().st_size for p in checkpoint.round_dir(out, args.rounds).iterdir())
    print(f"d = {run.d:,} entries, {cfg.train.ranks} ranks, checkpoint set {size:,} bytes")
    print(f"write (all ranks, fsync + rename): best {min(saves) * 1e3:.1f} ms, "
          f"median {sorted(saves)[2] * 1e3:.1f} ms")
    print(f"load (all ranks):                  best {min(loads) * 1e3:.1f} ms, "
          f"median {sorted(loads)[2] * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
