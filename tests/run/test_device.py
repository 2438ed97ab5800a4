"""Device choice: local rank i takes GPU i mod count; clear errors without CUDA."""

import pytest
import torch

from gossip.comm import InProcessCommunicator
from gossip.run import RunError
from gossip.run.build import pick_device


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


def test_device_code_path_gives_identical_training(tmp_path, monkeypatch):
    """The GPU layout (parameters in a device buffer, algorithms on a host copy, sync before
    every forward) exercised on the CPU: the run must be bit-identical to the plain one."""
    import numpy as np

    from gossip import config
    from gossip.models import flat
    from gossip.run import Run, build_topology

    def run(host_copy):
        orig = flat.FlatModel.__init__

        def init(self, module, device="cpu", host_copy_=None):
            orig(self, module, device, host_copy=host_copy)

        monkeypatch.setattr(flat.FlatModel, "__init__", init)
        cfg = config.load(None, {"train": {"comm": "inprocess", "ranks": 3, "progress": False,
                                           "rounds": 15, "eval_every": 5}})
        topo = build_topology(cfg, 3)
        r = Run(cfg, InProcessCommunicator(list(topo.neighbours)), topo, tmp_path / str(host_copy))
        s = r.execute()
        monkeypatch.setattr(flat.FlatModel, "__init__", orig)
        return [w.model.x.copy() for w in r.workers], s, r

    a, sa, ra = run(False)
    b, sb, rb = run(True)
    assert rb.workers[0].model.on_device and not ra.workers[0].model.on_device
    assert rb.workers[0].model.x is not rb.workers[0].model.dev_flat  # separate host copy
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    assert sa["total_bytes_sent"] == sb["total_bytes_sent"]
    assert sa["final_avg_test_accuracy"] == sb["final_avg_test_accuracy"]
