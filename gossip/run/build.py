"""Building a run's pieces from its configuration: topology, communicator, algorithm, device."""

from __future__ import annotations

import time

from dataclasses import dataclass

import topologies

from ..algorithms import REGISTRY as ALGORITHMS
from ..algorithms import Algorithm
from ..comm import Communicator
from ..comm.launch import launched_by_mpi, local_rank
from .. import schedules
from ..config import AlgorithmConfig, Config
from .errors import RunError


def communicator_kind(cfg: Config) -> tuple[str, int]:
    """Which communicator to use ("mpi" or "inprocess") and the world size it implies."""
    kind = cfg.train.comm
    if kind == "auto":
        kind = "mpi" if launched_by_mpi() else "inprocess"
    if kind == "mpi":
        from ..comm.launch import world

        return "mpi", world().Get_size()
    return "inprocess", cfg.train.ranks


def build_topology(cfg: Config, n: int) -> topologies.TopologyInfo:
    t = cfg.topology
    # A file fixes its own node count; validation then compares it with the world size.
    nodes = None if t.name == "file" else n
    return topologies.make_topology(t.name, nodes, rule=t.mixing, world_size=n, seed=cfg.train.seed,
                                    p=t.edge_prob, degree=t.degree, path=t.file, rows=t.rows,
                                    mixing_file=t.mixing_file)


def build_communicator(cfg: Config, kind: str, topo: topologies.TopologyInfo) -> Communicator:
    if kind == "mpi":
        from ..comm.mpi import MPICommunicator

        return MPICommunicator(list(topo.neighbours), timeout=cfg.train.exchange_timeout,
                               wait_mode=cfg.train.mpi_wait)
    from ..comm import InProcessCommunicator

    return InProcessCommunicator(list(topo.neighbours))


@dataclass
class Setup:
    """What an algorithm builder may read (see gossip.algorithms.REGISTRY)."""

    a: AlgorithmConfig
    topo: topologies.TopologyInfo
    block_sizes: list[int]
    local_ranks: list[int]
    seed: int
    rounds: int
    time_varying: str
    drop_prob: float
    mode: str = "sync"
    kernels: str = "numpy"  # VSC codec implementation (gossip.kernels.select)


def build_algorithm(cfg: Config, topo: topologies.TopologyInfo, block_sizes: list[int],
                    local_ranks: list[int]) -> Algorithm:
    if cfg.algorithm.name not in ALGORITHMS:
        raise RunError(f"algorithm {cfg.algorithm.name!r} is not available")
    t = cfg.topology
    algorithm = ALGORITHMS.build(cfg.algorithm.name, Setup(
        cfg.algorithm, topo, list(block_sizes), list(local_ranks), cfg.train.seed,
        cfg.train.rounds, t.time_varying, t.drop_prob, cfg.train.mode, cfg.train.kernels))
    algorithm.lr_at = schedules.make(cfg.algorithm.lr, cfg.train)
    return algorithm


def pick_device(choice: str, rank: int, comm: Communicator) -> str:
    """``cpu``, ``cuda`` (local rank i takes GPU i mod count) or ``auto`` (cuda when present)."""
    import torch

    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return "cpu"
    if not torch.cuda.is_available():
        raise RunError("--device cuda: no CUDA device is visible to this process (check "
                       "CUDA_VISIBLE_DEVICES and the torch build: torch.cuda.is_available() is "
                       "False); use --device cpu or auto")
    return f"cuda:{local_rank(rank, comm.name == 'mpi') % torch.cuda.device_count()}"


def slow_factor(cfg, rank: int, world: int) -> float:
    """How many times slower this rank's local step is made (``--slowdown RANK:FACTOR``)."""
    from ..config.mode import parse_slowdown

    if cfg.train.slowdown is None:
        return 1.0
    r, f = parse_slowdown(cfg.train.slowdown)
    if r >= world:
        raise RunError(f"train.slowdown = {cfg.train.slowdown!r}: rank {r} does not exist in a "
                       f"world of {world} ranks; use a rank from 0 to {world - 1}")
    return f if r == rank else 1.0


def straggle(factor: float, cpu0: float) -> None:
    """The straggler experiment: sleep ``factor − 1`` times the CPU time this thread spent since
    ``time.thread_time()`` was ``cpu0``.  CPU time, not wall time: waiting ranks that compete
    for the cores must not stretch the emulated slowdown (sync and async alike)."""
    if factor > 1:
        time.sleep((factor - 1.0) * (time.thread_time() - cpu0))
