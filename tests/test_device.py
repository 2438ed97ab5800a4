"""Device choice: local rank i takes GPU i mod count; clear errors without CUDA."""

import pytest
import torch

from gossip.comm import InProcessCommunicator
from gossip.train import RunError, pick_device


class FakeMPI(InProcessCommunicator):
    name = "mpi"


def test_cpu_and_auto_without_cuda(monkeypatch):
    comm = InProcessCommunicator([(1,), (0,)])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("cpu", 0, comm) == "cpu"
    assert pick_device("auto", 1, comm) == "cpu"
    with pytest.raises(RunError, match="no CUDA device"):
        pick_device("cuda", 0, comm)


def test_local_rank_round_robin(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    comm = InProcessCommunicator([(1, 2), (0, 2), (0, 1)])
    assert [pick_device("auto", r, comm) for r in range(3)] == ["cuda:0", "cuda:1", "cuda:0"]
    # under MPI the launcher's node-local rank decides, not the world rank
    mpi = FakeMPI([(1,), (0,)])
    monkeypatch.setenv("MPI_LOCALRANKID", "3")
    assert pick_device("cuda", 7, mpi) == "cuda:1"
    monkeypatch.delenv("MPI_LOCALRANKID")
    monkeypatch.setenv("SLURM_LOCALID", "2")
    assert pick_device("cuda", 9, mpi) == "cuda:0"
