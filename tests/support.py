"""Helpers shared by the test modules: launching gossip (in-process or under mpiexec) and
building an in-process Run.  (Fixtures that wrap them live in conftest.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gossip.tools.mpiexec import find_mpiexec

ROOT = Path(__file__).resolve().parent.parent
MPIEXEC = find_mpiexec()
# Open MPI refuses root without these; one BLAS thread per rank on an oversubscribed machine.
ENV = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
       "OMP_NUM_THREADS": "1"}


def mpirun(n: int, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``mpiexec -n N python ARGS...``."""
    if MPIEXEC is None:  # pragma: no cover - the test extra installs an MPI
        raise RuntimeError("mpiexec not found: install with pip install -e '.[mpich,test]'")
    cmd = [MPIEXEC, "-n", str(n), sys.executable, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV)


def gossip(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``python -m gossip ARGS...`` (no MPI launcher: the in-process communicator)."""
    return subprocess.run([sys.executable, "-m", "gossip", *args], capture_output=True,
                          text=True, timeout=timeout, env=ENV)


def train(*args: str) -> subprocess.CompletedProcess:
    """``gossip train --comm inprocess --no-progress ARGS...`` run in this process through
    :func:`gossip.cli.main` (exit code, stdout and stderr as a subprocess would give them),
    without an interpreter start per run."""
    import contextlib
    import io

    from gossip.cli import main

    argv = ["train", "--comm", "inprocess", "--no-progress", *args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return subprocess.CompletedProcess(argv, rc, out.getvalue(), err.getvalue())


def gossip_inprocess(n: int, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return gossip("train", "--comm", "inprocess", "--ranks", str(n), *args, timeout=timeout)


def make_run(tmp_path, ranks: int = 4, comm_cls=None, **sections):
    """An in-process Run of ``ranks`` ranks (30 rounds, eval every 10 unless overridden);
    returns (run, topology, communicator)."""
    from gossip import config
    from gossip.comm import InProcessCommunicator
    from gossip.run import Run, build_topology

    ov = {"train": {"progress": False, "comm": "inprocess", "ranks": ranks, "rounds": 30,
                    "eval_every": 10, **sections.pop("train", {})}}
    ov.update(sections)
    cfg = config.load(None, ov)
    topo = build_topology(cfg, ranks)
    comm = (comm_cls or InProcessCommunicator)(list(topo.neighbours))
    return Run(cfg, comm, topo, tmp_path), topo, comm


def spy_communicator():
    """An InProcessCommunicator class that records every outbox it moves (``.log``)."""
    from gossip.comm import InProcessCommunicator

    class SpyCommunicator(InProcessCommunicator):
        def __init__(self, neighbours):
            super().__init__(neighbours)
            self.log = []

        def exchange(self, outbox, label="the neighbour exchange"):
            self.log.append({r: dict(m) for r, m in outbox.items()})
            return super().exchange(outbox, label)

    return SpyCommunicator


def stop_rank_and_wait(proc, pids: dict[int, int], rank: int, timeout: float = 60):
    """SIGSTOP ``rank`` (alive but stuck), wait for the launcher to end; kill every rank after.
    Returns (stderr, seconds from the stop to the end)."""
    import signal
    import time

    os.kill(pids[rank], signal.SIGSTOP)
    t0 = time.time()
    try:
        _, err = proc.communicate(timeout=timeout)
    finally:
        for p in pids.values():
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return err, time.time() - t0
