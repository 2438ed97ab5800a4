"""Time of one neighbour exchange: ``MPICommunicator.exchange`` against raw MPI.

``python -m gossip.tools.bench.exchange [--ranks 4] [--sizes 1K,64K,1M,6M,64M] [--repeats 7]
[--mpi-wait yield|block|sleep]``
launches itself under ``mpiexec -n RANKS`` on a ring.  For each message size it times, in
turns (interleaved, after a barrier each), ``MPICommunicator.exchange`` and plain mpi4py
``Isend``/``Irecv`` + ``Waitall`` of the same bytes to the same peers; a sample runs enough
exchanges back to back to last ``SAMPLE_S`` (the same count on every rank and for both kinds),
and its time per exchange is the slowest rank's.  Prints the median and best of each and their
ratios.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np

UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    text = text.strip().upper()
    mult = UNITS.get(text[-1:], 1)
    return int(float(text[:-1] if text[-1:] in UNITS else text) * mult)


def _sizes(text: str) -> list[int]:
    """``--sizes``: comma-separated sizes of at least one byte; a bad one is named."""
    out = []
    for part in [t for t in text.split(",") if t.strip()] or [""]:
        try:
            n = parse_size(part)
        except ValueError:
            n = 0
        if n < 1:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r}: want a size of at least 1 byte, e.g. 1K, 64K, 6M")
        out.append(n)
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gossip bench exchange", description=__doc__.split("\n\n")[0])
    p.add_argument("--ranks", type=int, default=4, help="MPI ranks on a ring (default 4)")
    p.add_argument("--sizes", default="1K,64K,1M,6M,64M", type=_sizes,
                   help="message sizes in bytes (K, M, G suffixes), comma-separated")
    p.add_argument("--repeats", type=int, default=7,
                   help="timed samples of each kind per size (a sample: exchanges lasting "
                        "20 ms at least)")
    p.add_argument("--mpi-wait", default="yield", choices=("yield", "block", "sleep"),
                   help="how MPICommunicator waits, as gossip train --mpi-wait (default yield)")
    return p


def _launch(argv: list[str], ranks: int) -> int:
    from ..mpiexec import INSTALL_HINT, find_mpiexec

    mpiexec = find_mpiexec()
    if mpiexec is None:
        print(f"bench exchange: mpiexec not found; {INSTALL_HINT}", file=sys.stderr)
        return 2
    cmd = [mpiexec, "-n", str(ranks), sys.executable, "-m", "gossip.tools.bench.exchange", *argv]
    return subprocess.run(cmd).returncode


def _slowest(world, seconds: float) -> float:
    from mpi4py import MPI

    out = np.zeros(1)
    world.Allreduce(np.array([seconds]), out, op=MPI.MAX)
    return float(out[0])


SAMPLE_S = 20e-3  # a timing sample lasts this long at least (small messages: many exchanges;
# 5 ms, about one scheduler tick, let one preemption swing a sample by 20 %)


def _raw(graph, peers: list[int], msg: np.ndarray) -> None:
    """Plain mpi4py: receive buffers of the known size, Isend/Irecv, Waitall."""
    from mpi4py import MPI

    bufs = [np.empty(msg.size, dtype=np.uint8) for _ in peers]
    reqs = [graph.Irecv([b, MPI.BYTE], source=j, tag=5) for b, j in zip(bufs, peers)]
    reqs += [graph.Isend([msg, MPI.BYTE], dest=j, tag=5) for j in peers]
    MPI.Request.Waitall(reqs)


def _measure(args) -> int:
    from ...comm.mpi import MPICommunicator, world

    w = world()
    n, me = w.Get_size(), w.Get_rank()
    ring = [tuple(sorted({(r - 1) % n, (r + 1) % n} - {r})) for r in range(n)]
    comm = MPICommunicator(ring, wait_mode=args.mpi_wait)
    peers = list(comm.neighbours[me])
    graph = comm.graph
    rows = []
    for size in args.sizes:
        payload = np.random.default_rng(me).integers(0, 256, size, dtype=np.uint8).tobytes()
        msg = np.frombuffer(payload, dtype=np.uint8)
        outbox = {me: {j: payload for j in peers}}
        ours, raw = [], []
        w.Barrier()
        t0 = time.perf_counter()
        _raw(graph, peers, msg)  # warm-up, and the calibration of the sample's length
        loops = max(1, int(SAMPLE_S / max(_slowest(w, time.perf_counter() - t0), 1e-7)))
        for k in range(args.repeats + 1):  # the first of each: warm-up, not counted
            for kind in ((0, 1) if k % 2 else (1, 0)):
                w.Barrier()
                t0 = time.perf_counter()
                for _ in range(loops):
                    if kind == 0:
                        comm.exchange(outbox)
                    else:
                        _raw(graph, peers, msg)
                took = _slowest(w, time.perf_counter() - t0) / loops
                if k:
                    (ours if kind == 0 else raw).append(took)
        rows.append((size, np.median(ours), min(ours), np.median(raw), min(raw)))
    if me == 0:
        print(f"{n} ranks on a ring, {args.repeats} samples of each kind per size "
              f"(interleaved; a time per exchange is the slowest rank's; "
              f"--mpi-wait {args.mpi_wait})")
        print(f"{'size':>10} {'exchange med':>13} {'best':>9} {'raw med':>9} {'best':>9} "
              f"{'ratio med':>9} {'best':>6}")
        for size, om, ob, rm, rb in rows:
            print(f"{size:>10,} {om * 1e3:>10.3f} ms {ob * 1e3:>6.3f} ms {rm * 1e3:>6.3f} ms "
                  f"{rb * 1e3:>6.3f} ms {om / rm:>9.2f} {ob / rb:>6.2f}")
        c = comm.counters[me]
        print(f"rank 0 counted {c.sent:,} payload bytes sent, {c.control_sent:,} control bytes")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.ranks < 2 or args.repeats < 1:
        print("bench exchange: --ranks must be >= 2 and --repeats >= 1", file=sys.stderr)
        return 2
    from ...comm.launch import launched_by_mpi

    if not launched_by_mpi():
        return _launch(argv, args.ranks)
    return _measure(args)


if __name__ == "__main__":
    raise SystemExit(main())
