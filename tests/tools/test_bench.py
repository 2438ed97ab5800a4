"""The in-process benchmarks run (tiny sizes, no timing assertions); one mpiexec lookup."""

from __future__ import annotations

import re

from gossip.tools import mpiexec
from gossip.tools.bench import checkpoint, default, dither


def test_dither_bench_runs(capsys):
    assert dither.main(["--rounds", "3", "--draws", "4"]) == 0
    out = capsys.readouterr().out
    assert "residual at round 3" in out
    rows = [ln for ln in out.splitlines() if re.match(r"^(l2|inf)", ln)]
    assert len(rows) == 3
    for ln in rows:  # two finite, positive relative errors per quantizer
        a, b = (float(x) for x in ln.split()[-2:])
        assert a > 0 and b > 0


def test_checkpoint_bench_runs(capsys):
    assert checkpoint.main(["--rounds", "2", "--hidden", "8", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "checkpoint set" in out and "write (all ranks" in out and "load (all ranks)" in out


def test_one_mpiexec_lookup(monkeypatch):
    from gossip.tools.compare import launch, spec

    # bench default and compare both use gossip.tools.mpiexec.find_mpiexec
    assert default.find_mpiexec is mpiexec.find_mpiexec is launch.find_mpiexec
    monkeypatch.setattr(default, "find_mpiexec", lambda: "/opt/mpi/bin/mpiexec")
    assert default.mpiexec() == "/opt/mpi/bin/mpiexec"

    cmp = spec.Comparison(source=None, ranks=3, launcher="mpi", target=0.5, out=None, title="t")
    monkeypatch.setattr(launch, "find_mpiexec", lambda: "/opt/mpi/bin/mpiexec")
    cmd = launch.run_command(cmp, "c.toml", "r")
    assert cmd[:3] == ["/opt/mpi/bin/mpiexec", "-n", "3"]


def test_default_bench_options():
    opts, extra = default.build_parser().parse_known_args(["--ranks", "2", "--rounds", "5"])
    assert opts.ranks == 2 and extra == ["--rounds", "5"]


def test_bench_options_refused_with_one_line(capsys):
    """Bad options of the benches: one argparse error naming the value, exit 2, before
    anything is launched or written (before: tracebacks, a one-rank run, a straggler run
    that hung, "no violations in -5 messages")."""
    import pytest

    from gossip.tools.bench import codec, exchange, fuzz, rounds, straggler

    for fn, argv, word in ((default.main, ["--ranks", "1"], "--ranks 1"),
                           (exchange.main, ["--sizes", "abc"], "'abc'"),
                           (exchange.main, ["--sizes", "1K,0"], "'0'"),
                           (straggler.main, ["--factors", "0"], "--factors 0"),
                           (straggler.main, ["--ranks", "4", "--slow-rank", "4"], "--slow-rank 4"),
                           (fuzz.main, ["--count", "0"], "--count 0"),
                           (codec.main, ["--sizes", "0"], "--sizes 0"),
                           (rounds.main, ["--skip", "0"], "--skip 0"),
                           (rounds.main, ["--ranks", "1"], "--ranks 1"),
                           (rounds.main, ["--hidden", "0"], "'0'")):
        with pytest.raises(SystemExit) as e:
            fn(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.count("error:") == 1 and word in err, err
    assert exchange.build_parser().parse_args(["--sizes", "1K,64K,6M"]).sizes == [
        1024, 65536, 6 << 20]


def test_rounds_bench_times_each_method_under_mpiexec(capsys):
    """Two real 4-rank runs of 30 rounds: a row per method with its split and ratio."""
    from gossip.tools.bench import rounds

    assert rounds.main(["--hidden", "16", "--rounds", "30", "--skip", "10", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert set(rows) == {"malcom", "dpsgd"} and rows["dpsgd"][-1] == "1.00x"
    assert rows["malcom"][1] == "1,210"  # d = 75 * 16 + 10
    assert all(float(rows[m][2]) > 0 for m in rows)
