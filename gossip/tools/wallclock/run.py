"""Launch one ``mpiexec -n R python -m gossip train`` inside a shaped namespace and time it.

Launch-to-first-round (``launch_to_first_round_s``): seconds from starting the launcher
(``unshare``, which runs ``mpiexec``) to rank 0 writing round 1's line of ``metrics.jsonl``,
taken from the file's modification time (polled every 10 ms; when more rounds were already
written at the first look, the rank-0 ``elapsed_s`` between round 1 and the last round seen is
subtracted). It is the namespace, mpiexec, Python imports, MPI init, data and model set-up,
then round 1 itself. ``startup_s`` is the same less round 1's own ``elapsed_s`` on rank 0: the
time before training starts.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import netns


def mpiexec_path() -> str | None:
    return (shutil.which("mpiexec", path=str(Path(sys.executable).parent))
            or shutil.which("mpiexec"))


def train_command(mpiexec: str, ranks: int, method: str, out: Path, *, topology: str,
                  hidden: int, rounds: int, eval_every: int, extra: list[str]) -> list[str]:
    """The timed run: under mpiexec, evaluated only after its last round (``eval_every`` =
    ``rounds``), so nothing but training is on its clock."""
    return [mpiexec, "-n", str(ranks), sys.executable, "-m", "gossip", "train",
            "--algorithm", method, "--topology", topology, "--hidden", str(hidden),
            "--rounds", str(rounds), "--eval-every", str(eval_every), "--out", str(out),
            "--no-progress", *extra]


def replay_command(ranks: int, method: str, out: Path, *, topology: str, hidden: int,
                   rounds: int, eval_every: int, extra: list[str]) -> list[str]:
    """The same run in-process (bit-identical to the mpiexec one), evaluated every
    ``eval_every`` rounds: it gives the accuracy curve, off the timed run's clock."""
    return [sys.executable, "-m", "gossip", "train", "--comm", "inprocess", "--ranks",
            str(ranks), "--algorithm", method, "--topology", topology, "--hidden", str(hidden),
            "--rounds", str(rounds), "--eval-every", str(eval_every), "--out", str(out),
            "--no-progress", *extra]


class _Watcher(threading.Thread):
    """Polls metrics.jsonl: when its first line appeared, and the last round written."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path = path
        self.first_line_at: float | None = None
        self.last_round = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self._look()
            self.done.wait(0.01)
        self._look()

    def _look(self) -> None:
        try:
            st = self.path.stat()
            if st.st_size == 0:
                return
            text = self.path.read_text()
        except OSError:
            return
        rows = []
        for line in text.splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                break  # a line being written
        r0 = [r for r in rows if r.get("rank") == 0 and "elapsed_s" in r]
        if not r0:
            return
        self.last_round = r0[-1]["round"]
        if self.first_line_at is None:
            # the file's mtime is the last write: step back to round 1's write
            self.first_line_at = st.st_mtime_ns / 1e9 - (r0[-1]["elapsed_s"] - r0[0]["elapsed_s"])


def launch(label: str, argv: list[str], bits_per_second: int | None, run_dir: Path,
           train_dir: Path, *,
           rounds: int, timeout: float | None, progress_every: float = 15.0,
           say=print) -> dict:
    """Run ``argv`` (an mpiexec command writing into ``train_dir``) in a namespace of the rate.

    Returns the launch record: the exact command and environment, return code, launcher wall
    time and launch-to-first-round time. stdout/stderr go to ``run_dir/train.log``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    stats = run_dir / "tc-stats.txt"
    cmd = netns.wrap(argv, bits_per_second, str(stats))
    log = open(run_dir / "train.log", "w")
    watcher = _Watcher(train_dir / "metrics.jsonl")
    watcher.start()
    t_launch = time.time()
    p0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=netns.env(),
                            start_new_session=True)
    timed_out = False
    next_note = p0 + progress_every
    try:
        while True:
            try:
                proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.perf_counter()
            if timeout is not None and now - p0 > timeout:
                timed_out = True
                _kill(proc)
                break
            if now >= next_note:
                say(f"    {label}: round {watcher.last_round}/{rounds}, {now - p0:.0f} s")
                next_note = now + progress_every
    except BaseException:  # Ctrl-C: take the whole launch down with us
        _kill(proc)
        raise
    finally:
        wall = time.perf_counter() - p0
        watcher.done.set()
        watcher.join()
        log.close()
    shaper = stats.read_text().strip() if stats.exists() else None
    m = re.search(r"Sent (\d+) bytes", shaper or "")
    rec = {
        "command": cmd,
        "command_shell": shlex.join(cmd),
        "train_command": argv,
        "env": dict(netns.MPI_TCP_ENV),
        "returncode": proc.returncode,
        "timed_out": timed_out,
        "launcher_wall_s": wall,
        "launch_to_first_round_s": (None if watcher.first_line_at is None
                                    else watcher.first_line_at - t_launch),
        "shaper": shaper,
        # bytes the shaper passed: MPI payload, the evaluations' allreduces, TCP/IP headers
        "link_bytes": int(m.group(1)) if m and bits_per_second is not None else None,
        "log": str(run_dir / "train.log"),
    }
    return rec


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
