"""How this process was launched: by an MPI launcher or not, its world, its local rank."""

from __future__ import annotations

import os

LAUNCHER_VARS = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS",
                 "HYDRA_CONTROL_FD", "PMI_FD")
LOCAL_RANK_VARS = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID",
                   "PMI_LOCAL_RANK", "MV2_COMM_WORLD_LOCAL_RANK")


def launched_by_mpi() -> bool:
    """True when an MPI launcher (mpiexec/mpirun/srun) started this process."""
    return any(k in os.environ for k in LAUNCHER_VARS)


def world():
    """MPI.COMM_WORLD (imports mpi4py, which initialises MPI)."""
    from mpi4py import MPI

    return MPI.COMM_WORLD


def local_rank(rank: int, under_mpi: bool) -> int:
    """This rank's index among the ranks on its node (launcher variables, else ``rank``)."""
    if under_mpi:
        for key in LOCAL_RANK_VARS:
            if key in os.environ:
                return int(os.environ[key])
    return rank
