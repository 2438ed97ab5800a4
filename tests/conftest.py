"""Shared test setup: ``tests/`` on sys.path for :mod:`support`, and its helpers as fixtures.

Layout mirrors the package: codecs/, compressors/, algorithms/, run/, data/, topologies/,
tools/; mpi/ holds the tests that launch mpiexec; golden/ the behaviour-preservation digests.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import support  # noqa: E402


@pytest.fixture
def mpiexec() -> str:
    return support.MPIEXEC


@pytest.fixture
def run_factory(tmp_path):
    """``run_factory(ranks=4, comm_cls=None, **sections)`` → (run, topology, communicator)."""
    return lambda **kw: support.make_run(tmp_path, **kw)
