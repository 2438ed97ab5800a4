"""Every algorithm's short run still gives the recorded metrics and model tensors, bit for bit
(see golden.py; ``python tests/golden/golden.py check --mpi`` adds the mpiexec runs)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import golden  # noqa: E402


def test_every_algorithm_matches_its_recorded_digests(capsys):
    assert golden.main(["check"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert f"{len(golden.CASES)} of {len(golden.CASES)} runs byte-identical" in out
