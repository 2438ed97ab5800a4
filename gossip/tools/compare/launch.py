"""Launching one method's ``gossip train`` (under mpiexec or in one process), its log, its
timeout, and taking it down with its ranks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ..mpiexec import INSTALL_HINT, find_mpiexec
from .spec import Comparison, CompareError


def run_command(cmp: Comparison, config_path: Path, run_dir: Path,
                mpiexec: str | None = None) -> list[str]:
    train = [sys.executable, "-m", "gossip", "train", "--config", str(config_path),
             "--out", str(run_dir)]
    if cmp.launcher == "inprocess":
        return train
    exe = mpiexec or find_mpiexec()
    if exe is None:
        raise CompareError("compare error: mpiexec not found next to this Python or on PATH; "
                           f"{INSTALL_HINT}, pass --mpiexec PATH, "
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
