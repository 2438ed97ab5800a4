"""The run directory: which one, whether it may be used, and its config.toml."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .. import __version__
from ..config import Config, to_toml
from .checkpoint import latest_complete


def default_out_dir() -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    job = os.environ.get("SLURM_JOB_ID")
    return str(Path("runs") / (f"{stamp}-job{job}" if job else stamp))


def verdict(cfg: Config, world: int) -> str:
    """The root's decision on the output directory, as one line every rank can parse:
    ``OK <resume round or -> <dir>`` or ``ERR <message>``."""
    out = Path(cfg.train.out or default_out_dir())
    if cfg.train.resume and not cfg.train.out:
        return "ERR --resume needs --out DIR: the run directory to continue"
    if cfg.train.resume:
        found = latest_complete(out, world)
        return f"OK {found if found is not None else '-'} {out}"
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
