"""Where the tools find the MPI launcher: ``mpiexec`` next to this Python (a virtual
environment with an MPI installed into it, e.g. ``pip install -e '.[mpich]'``), else on PATH."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

INSTALL_HINT = "install an MPI (pip install -e '.[mpich]')"


def find_mpiexec() -> str | None:
    """The path of ``mpiexec``, or None when there is none."""
    return (shutil.which("mpiexec", path=str(Path(sys.executable).parent))
            or shutil.which("mpiexec"))
