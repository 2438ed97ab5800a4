"""`gossip bench wallclock`: input checks, the report from synthetic metrics, one real run.

The real run needs a network namespace and tc; where they are missing the test checks the
one-line error (exit 2) instead, so nothing is skipped.
"""

import json
import math
import stat

import pytest

from gossip.tools import wallclock
from gossip.tools.wallclock import netns, report
from gossip.run.metrics import FIELDS


# -- input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text,name,bps", [
    ("100mbit", "100mbit", 100_000_000), ("1gbit", "1gbit", 10**9), ("2.5MBIT", "2.5mbit",
                                                                      2_500_000),
    ("64kbit", "64kbit", 64_000), ("unthrottled", "unthrottled", None), ("none", "unthrottled",
                                                                         None)])
def test_rates_parse(text, name, bps):
    assert wallclock.parse_rate(text) == (name, bps)


@pytest.mark.parametrize("text,needle", [
    ("100mbps", "100mbit"), ("1gbps", "1gbit"), ("fast", "kbit, mbit or gbit"),
    ("100", "kbit, mbit or gbit"), ("1kbit", "at least 8kbit"), ("-5mbit", "kbit")])
def test_bad_rates(text, needle):
    with pytest.raises(wallclock.UsageError, match=needle):
        wallclock.parse_rate(text)


def test_rate_and_method_lists():
    assert wallclock.parse_rates("unthrottled, 1gbit,100mbit,1gbit") == [
        ("unthrottled", None), ("1gbit", 10**9), ("100mbit", 10**8)]
    assert wallclock.parse_methods("malcom,DPSGD,malcom,choco") == ["malcom", "dpsgd", "choco"]
    with pytest.raises(wallclock.UsageError, match="unknown method 'sgd'; choose from malcom"):
        wallclock.parse_methods("malcom,sgd")
    with pytest.raises(wallclock.UsageError, match="at least one"):
        wallclock.parse_methods(" , ")


@pytest.mark.parametrize("argv,needle", [
    (["--methods", "foo"], "unknown method 'foo'"),
    (["--rates", "100mbps"], "write bits, e.g. 100mbit"),
    (["--rates", "1gbit,fast"], "rate 'fast'"),
    (["--ranks", "1"], "--ranks: must be at least 2"),
    (["--topology", "moon"], "unknown topology 'moon'; choose from ring"),
    (["--target", "95"], "--target: an accuracy in (0, 1]"),
    (["--rounds", "x"], "--rounds: expected an integer"),
    (["--", "--rounds", "5"], "--rounds after --: the benchmark sets it; use --rounds before --"),
    (["--", "--algorithm=choco"], "use --methods"),
])
def test_bad_input_exits_2_with_one_line(argv, needle, capsys):
    assert wallclock.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and err.startswith("gossip bench wallclock: ")


def test_help_explains(capsys):
    assert wallclock.main(["--help"]) == 0
    out = capsys.readouterr().out
    for words in ("tc tbf", "loopback", "wire", "codec", "vs dpsgd", "unthrottled", "--target"):
        assert words in out


def _fake_unshare(tmp_path, monkeypatch, message):
    exe = tmp_path / "unshare"
    exe.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit 1\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(netns, "UNSHARE", str(exe))


@pytest.mark.parametrize("message,needle", [
    ("unshare: unshare failed: Operation not permitted", "run as root, or allow unprivileged"),
    ("RTNETLINK answers: Operation not permitted", "modprobe sch_tbf"),
])
def test_no_namespace_is_one_clear_error(tmp_path, monkeypatch, capsys, message, needle):
    _fake_unshare(tmp_path, monkeypatch, message)
    assert wallclock.main(["--rounds", "2", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Operation not permitted" in err
    assert not (tmp_path / "out").exists()


# -- the report, from metrics written in the real format -------------------------------------
def _write_run(path, *, ranks=2, rounds=10, eval_every=2, step=0.1, eval_cost=0.5, acc=None,
               compute=0.01, codec=0.02, wire=0.07, sent=1000):
    """metrics.jsonl as gossip train writes it: FIELDS order, NaN fields left out, rank -1
    rows after each evaluation round's rank rows."""
    path.mkdir(parents=True)
    acc = acc or {}
    lines, clock = [], 0.0
    for t in range(1, rounds + 1):
        is_eval = t % eval_every == 0 or t == rounds
        clock += step + (eval_cost if is_eval else 0.0)
        for r in range(ranks):
            vals = dict(round=t, rank=r, loss=1.0 / t, bytes_sent=sent, bytes_received=sent,
                        control_bytes_sent=16 * t, bits_per_entry=32.0, symbol_entropy_bits=math.nan,
                        nonzero_fraction=1.0, kept_entries=0, skipped=0,
                        test_accuracy=acc.get(t, 0.0) if is_eval else math.nan,
                        consensus_distance=0.1 if is_eval else math.nan,
                        elapsed_s=clock - 0.001 * r, compute_s=compute * t, codec_s=codec * t,
                        wire_s=wire * t)
            lines.append(json.dumps({k: vals[k] for k in FIELDS if not (
                isinstance(vals[k], float) and math.isnan(vals[k]))}))
        if is_eval:
            lines.append(json.dumps({"round": t, "rank": -1, "test_accuracy": acc.get(t, 0.0),
                                     "test_loss": 1.0}))
    (path / "metrics.jsonl").write_text("\n".join(lines) + "\n")


def _timed_and_replay(path, acc, **kw):
    """A timed run (evaluated after its last round only) and its in-process replay
    (evaluated every 2 rounds, no evaluation cost on the timed clock)."""
    rounds = kw.pop("rounds", 10)
    _write_run(path / "timed", acc=acc, rounds=rounds, eval_every=rounds, eval_cost=0.0, **kw)
    _write_run(path / "replay", acc=acc, rounds=rounds, eval_every=2, step=1.0, eval_cost=9.0)
    return path / "timed", path / "replay"


def test_analyse_synthetic(tmp_path):
    acc = {2: 0.5, 4: 0.8, 6: 0.96, 8: 0.94, 10: 0.97}
    timed, replay = _timed_and_replay(tmp_path / "a", acc, step=0.12)
    f = report.analyse(timed, 0.95, replay)
    assert f["ranks"] == 2 and f["rounds"] == 10
    assert f["s_per_round"] == pytest.approx(0.12)
    assert f["target_round"] == 6  # from the replay's curve
    assert f["time_to_target_s"] == pytest.approx(6 * 0.12)  # the timed run's clock, max over ranks
    assert f["time_to_target_busy_s"] == pytest.approx(6 * 0.1)  # the phases alone
    # payload of rounds 1..6 plus the cumulative control bytes at round 6, of both ranks
    assert f["bytes_to_target"] == 6 * 2 * 1000 + 2 * 16 * 6
    assert f["bytes_total"] == 10 * 2 * 1000 + 2 * 16 * 10
    assert f["final_accuracy"] == 0.97 and f["best_accuracy"] == 0.97
    assert f["split"] == pytest.approx({"compute": 0.1, "codec": 0.2, "wire": 0.7})
    assert f["other_share"] == pytest.approx(0.2 / 1.2)
    assert [c["round"] for c in f["curve"]] == [2, 4, 6, 8, 10]
    assert f["curve"][2]["time_s"] == pytest.approx(0.72)
    g = report.analyse(timed, 0.99, replay)
    assert g["target_round"] is None and g["time_to_target_s"] is None
    assert g["bytes_to_target"] is None


def test_analyse_refuses_a_replay_of_another_trajectory(tmp_path):
    timed, replay = _timed_and_replay(tmp_path / "a", {10: 0.97})
    _write_run(tmp_path / "other", acc={10: 0.96}, eval_every=2)
    report.analyse(timed, 0.95, replay)
    with pytest.raises(ValueError, match="differs from the in-process replay"):
        report.analyse(timed, 0.95, tmp_path / "other")


def test_table_ratio_and_outputs(tmp_path):
    acc_slow = {2: 0.5, 4: 0.96, 6: 0.97, 8: 0.97, 10: 0.98}
    runs = []
    for method, name, kw in (("dpsgd", "d", dict(step=0.4, wire=0.37, compute=0.02, codec=0.01)),
                             ("malcom", "m", dict(step=0.06, wire=0.02, compute=0.02, codec=0.02)),
                             ("choco", "c", {})):
        timed, replay = _timed_and_replay(tmp_path / name, acc_slow if name != "c" else {10: 0.9},
                                          **kw)
        runs.append({"method": method, "rate": "100mbit", "figures": report.analyse(
            timed, 0.95, replay), "launch_to_first_round_s": 3.0, "startup_s": 2.9})
    runs.append({"method": "dpsgd", "rate": "1gbit", "figures": None})
    rows = []
    for rate in ("100mbit", "1gbit"):
        for method in ("dpsgd", "malcom", "choco"):
            reps = [r for r in runs if r["rate"] == rate and r["method"] == method]
            if reps:
                rows.append({"method": method, "rate": rate, **report.combine(reps)})
    report.add_ratios(rows)
    by = {(r["method"], r["rate"]): r for r in rows}
    assert by["dpsgd", "100mbit"]["ratio_vs_dpsgd"] == pytest.approx(1.0)
    assert by["malcom", "100mbit"]["ratio_vs_dpsgd"] == pytest.approx(0.06 / 0.4)
    assert by["choco", "100mbit"]["ratio_vs_dpsgd"] is None
    assert by["dpsgd", "1gbit"]["failed"]
    text = report.table(rows, 0.95)
    lines = text.splitlines()
    assert lines[0].split()[:6] == ["method", "rate", "s/round", "to", "0.95", "run"]
    assert "400.0 ms" in lines[2] and lines[2].split()[4:9] == ["1.6", "s", "4.0", "s", "4"] and "1.00x" in lines[2]
    assert "8.1 kB" in lines[2]  # 4 rounds x 2 ranks x 1016 bytes
    assert "0.15x" in lines[3] and "33/33/33" in lines[3]
    assert "not reached" in lines[4] and "failed" in lines[5]
    report.write_json(tmp_path / "w.json", {"rows": rows, "nan": float("nan")})
    assert json.loads((tmp_path / "w.json").read_text())["nan"] is None
    report.plot(tmp_path / "w.png", runs, 0.95)
    assert (tmp_path / "w.png").stat().st_size > 1000


def test_combine_repeats_takes_medians(tmp_path):
    reps = []
    for i, step in enumerate((0.1, 0.3, 0.2)):
        timed, replay = _timed_and_replay(tmp_path / f"r{i}", {4: 0.96}, step=step)
        reps.append({"figures": report.analyse(timed, 0.95, replay),
                     "launch_to_first_round_s": float(i), "startup_s": 0.0})
    row = report.combine(reps)
    assert row["reached"] and row["s_per_round"] == pytest.approx(0.2)
    assert row["time_to_target_s"] == pytest.approx(4 * 0.2)  # median of 0.4, 1.2, 0.8
    assert row["time_to_target_busy_s"] == pytest.approx(4 * 0.1)  # phases, not step
    assert row["launch_to_first_round_s"] == 1.0
    reps[1]["figures"]["target_round"] = None
    assert not report.combine(reps)["reached"]


# -- one real run in a shaped namespace -----------------------------------------------------
@pytest.mark.mpi
def test_end_to_end_in_a_shaped_namespace(tmp_path, capsys):
    out = tmp_path / "wc"
    argv = ["--rounds", "20", "--hidden", "16", "--rates", "100mbit", "--methods", "dpsgd",
            "--target", "0.3", "--out", str(out)]
    try:
        netns.check()
        available = True
    except netns.NamespaceUnavailable:
        available = False
    rc = wallclock.main(argv)
    captured = capsys.readouterr()
    if not available:  # the machine has no namespaces: the benchmark must say so, clearly
        assert rc == 2
        assert captured.err.count("\n") == 1 and "namespace" in captured.err
        return
    assert rc == 0, captured.out + captured.err
    assert (out / "wallclock.png").stat().st_size > 1000
    doc = json.loads((out / "wallclock.json").read_text())
    (row,) = doc["table"]
    assert row["method"] == "dpsgd" and row["rate"] == "100mbit" and not row["failed"]
    assert row["s_per_round"] > 0 and row["launch_to_first_round_s"] > row["startup_s"] > 0
    assert all(v >= 0 for v in row["split"].values())
    assert sum(row["split"].values()) == pytest.approx(1.0)
    (run,) = doc["runs"]
    assert run["command"][:2] == ["unshare", "-n"] or run["command"][:3] == ["unshare", "-r", "-n"]
    assert "mpiexec" in run["command_shell"] and "--algorithm dpsgd" in run["command_shell"]
    assert "--eval-every 20" in run["command_shell"]  # timed: evaluated after its last round only
    assert (out / "replay" / "dpsgd" / "metrics.jsonl").is_file()  # the accuracy curve
    assert run["env"]["FI_PROVIDER"] == "tcp"
    assert "rate 100Mbit" in run["shaper"]  # the shaper was there and passed the traffic
    assert run["link_bytes"] >= run["summary"]["total_bytes_sent"] > 0
    assert run["figures"]["elapsed_s"] > 0 and run["figures"]["bytes_total"] > 0
    assert doc["versions"]["gossip"] and doc["settings"]["rates"] == [
        {"rate": "100mbit", "bits_per_second": 100_000_000}]
    assert "dpsgd @ 100mbit" in captured.out and "s/round" in captured.out
