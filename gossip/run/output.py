"""The run directory: which one, whether it may be used, and its config.toml."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from .. import __version__
from ..config import Config, to_toml
from .checkpoint import complete_rounds


def default_out_dir() -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    job = os.environ.get("SLURM_JOB_ID")
    return str(Path("runs") / (f"{stamp}-job{job}" if job else stamp))


def unusable(out: Path, given: bool = True) -> str | None:
    """Why this process cannot write the run directory ``out`` (None: it can).  A given --out
    needs an existing parent; the default one (runs/...) may create its parents.  Nothing is
    left behind: the probe file is removed at once."""
    if out.exists() and not out.is_dir():
        return (f"--out {out} is a file, not a directory: choose a new or empty directory "
                f"(or the run directory to --resume)")
    where = out if out.is_dir() else out.parent
    if not where.is_dir():
        if given:
            return (f"--out {out}: its parent directory {where} does not exist; create it "
                    f"first or choose another --out")
        while not where.is_dir():
            where = where.parent
    for d in [where] + [p for p in (out / "ckpt", out / "rank_models") if p.is_dir()]:
        try:
            fd, probe = tempfile.mkstemp(dir=d, prefix=".gossip-probe-")
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            return (f"--out {out}: cannot create files in {d} ({e.strerror or e}); choose a "
                    f"directory this process may write")
    return None


def verdict(cfg: Config, world: int) -> str:
    """The root's decision on the output directory, as one line every rank can parse:
    ``OK <complete checkpoint rounds, newest first, comma-separated, or -> <dir>`` or
    ``ERR <message>``."""
    out = Path(cfg.train.out or default_out_dir())
    if cfg.train.resume and not cfg.train.out:
        return "ERR --resume needs --out DIR: the run directory to continue"
    why = unusable(out, given=bool(cfg.train.out))
    if why:
        return f"ERR {why}"
    if cfg.train.resume:
        found = complete_rounds(out, world)
        return f"OK {','.join(map(str, found)) or '-'} {out}"
    if out.exists() and any(out.iterdir()):
        return (f"ERR output directory {out} is not empty; choose another --out, remove it, or "
                f"continue its run with --resume")
    return f"OK - {out}"


def write_config(out: Path, cfg: Config, topo, comm, d: int) -> None:
    import tomli_w

    run_info = {
        "gossip_version": __version__,
        "world_size": comm.size,
        "communicator": comm.name,
        "spectral_gap": float(topo.spectral_gap),
        "model_entries": d,
        "config_digest": cfg.digest(),
        "topology_digest": topo.digest(),
    }
    text = to_toml(cfg)
    text += "\n# Informational: recorded at start, ignored when loaded with --config.\n"
    text += tomli_w.dumps({"run": run_info})
    (out / "config.toml").write_text(text)
