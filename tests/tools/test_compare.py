"""`gossip compare`: tables checked against the runs' own metrics, failures, plots.

In-process launcher, 4 ranks, 60 rounds: two real runs are shared by the module's tests.
"""

import csv
import json
import struct
import textwrap
from pathlib import Path

import pytest

from gossip.tools import compare

TARGET = 0.5
COMPARISON = textwrap.dedent("""\
    [compare]
    ranks = 4
    launcher = "inprocess"
    target_accuracy = {target}
    title = "two malcom variants"
    base = {{ topology = {{ name = "ring" }}, train = {{ rounds = 60, eval_every = 10 }} }}

    [[method]]
    label = "Malcom l2 s=4"
    algorithm = {{ name = "malcom" }}

    [[method]]
    label = "Malcom inf s=2"
    algorithm = {{ name = "malcom", norm = "inf", tau_scaling = false, levels = 2, gamma = 0.3 }}
    {extra}
""")
BAD = textwrap.dedent("""\
    [[method]]
    label = "levels zero"
    algorithm = { name = "malcom", levels = 0 }

    [[method]]
    label = "torus on 4 ranks"
    topology = { name = "torus" }
""")


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text)
    return p


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


def expected_from_metrics(run_dir: Path, target: float, world: int):
    """Rounds to the target and bytes per rank until then, computed here from scratch."""
    recs = metrics(run_dir)
    avg = sorted((r["round"], r["test_accuracy"]) for r in recs if r["rank"] == -1)
    hit = next((t for t, a in avg if a >= target), None)
    if hit is None:
        return None, None
    sent = sum(r["bytes_sent"] for r in recs if r["rank"] >= 0 and r["round"] <= hit)
    return hit, sent / world


def expected_seconds(run_dir: Path, rnd: int) -> float:
    """Training wall seconds at the end of round ``rnd``: the slowest rank's elapsed_s."""
    return max(r["elapsed_s"] for r in metrics(run_dir) if r["rank"] >= 0 and r["round"] == rnd)


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """One comparison: two good methods, one invalid value, one run that fails at launch."""
    tmp = tmp_path_factory.mktemp("cmp")
    src = write(tmp, "two.toml", COMPARISON.format(target=TARGET, extra=BAD))
    out = tmp / "out"
    rc = compare.main([str(src), "--out", str(out)])
    return rc, out, src


def test_table_matches_metrics(done):
    _, out, _ = done
    for name in ("table.md", "table.csv", "comparison.json", "compare.toml"):
        assert (out / name).is_file(), name
    data = json.loads((out / "comparison.json").read_text())
    assert data["target_accuracy"] == TARGET and data["ranks"] == 4
    rows = {m["label"]: m for m in data["methods"]}
    assert [m["label"] for m in data["methods"]] == [
        "Malcom l2 s=4", "Malcom inf s=2", "levels zero", "torus on 4 ranks"]
    reached = 0
    for label in ("Malcom l2 s=4", "Malcom inf s=2"):
        row = rows[label]
        assert row["status"] == "ok", row
        run = out / "runs" / row["slug"]
        summary = json.loads((run / "summary.json").read_text())
        rounds, per_rank = expected_from_metrics(run, TARGET, 4)
        assert row["rounds_to_target"] == rounds
        assert row["bytes_per_rank_to_target"] == per_rank
        if rounds is not None:
            assert row["seconds_to_target"] == expected_seconds(run, rounds)
            assert 0 < row["seconds_to_target"] <= summary["wall_seconds"] + 1e-6
        reached += rounds is not None
        assert row["total_bytes"] == summary["total_bytes_sent"] == sum(
            r["bytes_sent"] for r in metrics(run) if r["rank"] >= 0)
        assert row["final_accuracy"] == summary["final_avg_test_accuracy"]
        # no D-PSGD row: relative to float32 D-PSGD on the same graph and rounds
        assert row["bytes_vs_dpsgd"] == pytest.approx(
            summary["total_bytes_sent"] / summary["dpsgd_float32_bytes_same_rounds"])
        assert 0 < row["bytes_vs_dpsgd"] < 0.2
        # the per-method config is the base deep-merged with the method
        cfg = (out / "configs" / f"{row['slug']}.toml").read_text()
        assert "rounds = 60" in cfg and 'comm = "inprocess"' in cfg
    assert reached == 2, "the target should be reachable in 60 rounds; lower TARGET"
    assert 'levels = 2' in (out / "configs" / "malcom-inf-s-2.toml").read_text()
    # the two variants really differ (inf/s=2 spends more bits per entry than l2/s=4)
    assert rows["Malcom inf s=2"]["total_bytes"] > rows["Malcom l2 s=4"]["total_bytes"]

    with open(out / "table.csv") as f:
        csv_rows = {r["label"]: r for r in csv.DictReader(f)}
    for label in ("Malcom l2 s=4", "Malcom inf s=2"):
        assert int(csv_rows[label]["rounds_to_target"]) == rows[label]["rounds_to_target"]
        assert float(csv_rows[label]["bytes_per_rank_to_target"]) == pytest.approx(
            rows[label]["bytes_per_rank_to_target"])
        assert int(csv_rows[label]["total_bytes"]) == rows[label]["total_bytes"]
    md = (out / "table.md").read_text()
    r0 = rows["Malcom l2 s=4"]
    line = next(x for x in md.splitlines() if x.startswith("| Malcom l2 s=4 |"))
    assert f"| {r0['rounds_to_target']} |" in line
    assert f"{round(r0['bytes_per_rank_to_target']):,}" in line
    assert f"{r0['total_bytes']:,}" in line
    assert f"| {r0['seconds_to_target']:.1f} s |" in line
    assert "| time to 0.5 |" in md
    for label in ("Malcom l2 s=4", "Malcom inf s=2"):
        assert float(csv_rows[label]["seconds_to_target"]) == pytest.approx(
            rows[label]["seconds_to_target"])


def test_failed_methods_reported_others_run(done):
    rc, out, _ = done
    assert rc == compare.EXIT_FAILED
    rows = {m["label"]: m for m in json.loads((out / "comparison.json").read_text())["methods"]}
    bad = rows["levels zero"]
    assert bad["status"] == "failed" and bad["rounds_to_target"] is None
    assert "algorithm.levels = 0" in bad["error"] and ">= 1" in bad["error"]
    assert not (out / "runs" / bad["slug"]).exists()  # invalid settings are never launched
    torus = rows["torus on 4 ranks"]
    assert torus["status"] == "failed" and torus["exit_code"] == 2
    assert "torus" in torus["error"] and torus["error"].startswith("exit 2: gossip: ")
    assert (out / "logs" / f"{torus['slug']}.log").read_text().strip()
    md = (out / "table.md").read_text()
    assert "| levels zero | malcom | — |" in md
    assert md.count("| FAILED |") == 2 and md.count("| ok |") == 2
    assert "FAILED levels zero: config error: algorithm.levels = 0" in md
    with open(out / "table.csv") as f:
        statuses = {r["label"]: r["status"] for r in csv.DictReader(f)}
    assert statuses == {"Malcom l2 s=4": "ok", "Malcom inf s=2": "ok", "levels zero": "failed",
                        "torus on 4 ranks": "failed"}


def test_resume_reuses_runs_and_recomputes_for_a_new_target(done, capsys):
    _, out, src = done
    before = (out / "runs" / "malcom-l2-s-4" / "summary.json").stat().st_mtime_ns
    rc = compare.main([str(src), "--out", str(out), "--resume", "--target", "0.999",
                       "--only", "Malcom l2 s=4", "--no-plots"])
    assert rc == 0
    assert "reused" in capsys.readouterr().out
    assert (out / "runs" / "malcom-l2-s-4" / "summary.json").stat().st_mtime_ns == before
    data = json.loads((out / "comparison.json").read_text())
    assert [m["label"] for m in data["methods"]] == ["Malcom l2 s=4"]
    row = data["methods"][0]
    assert row["rounds_to_target"] is None and row["bytes_per_rank_to_target"] is None
    assert "| — | — |" in (out / "table.md").read_text()
    # a directory in use is refused without --resume
    assert compare.main([str(src), "--out", str(out)]) == compare.EXIT_USAGE


def test_dpsgd_row_is_the_reference():
    rows = [
        {"label": "A", "status": "ok", "algorithm": "malcom", "total_bytes": 50,
         "dpsgd_float32_bytes_same_rounds": 1000},
        {"label": "B", "status": "ok", "algorithm": "dpsgd", "total_bytes": 400,
         "dpsgd_float32_bytes_same_rounds": 1000},
        {"label": "C", "status": "failed", "algorithm": "choco"},
    ]
    note = compare.add_dpsgd_ratios(rows)
    assert [r["bytes_vs_dpsgd"] for r in rows] == [0.125, 1.0, None]
    assert "'B'" in note
    rows[1]["status"] = "failed"  # no successful D-PSGD row: the float32 estimate
    compare.add_dpsgd_ratios(rows)
    assert rows[0]["bytes_vs_dpsgd"] == 0.05 and rows[1]["bytes_vs_dpsgd"] is None


@pytest.mark.parametrize("text, needle", [
    ('[compare]\nranks = 4\nrankz = 3\n[[method]]\nlabel = "a"\n', "compare.rankz"),
    ('[compare]\nranks = 4\n[[method]]\nlabel = "a"\nalgoritm = { name = "malcom" }\n',
     "'algoritm'"),
    ('[compare]\nbase = { optimizer = { lr = 1 } }\n[[method]]\nlabel = "a"\n',
     "compare.base.optimizer"),
    ('[topology]\nname = "ring"\n[[method]]\nlabel = "a"\n', "'topology'"),
    ('[compare]\nlauncher = "slurm"\n[[method]]\nlabel = "a"\n', "compare.launcher = 'slurm'"),
    ('[[method]]\nlabel = "a"\ntrain = { out = "x" }\n', "train.out"),
    ('[[method]]\nlabel = "a b"\n[[method]]\nlabel = "a-b"\n', "not distinct"),
    ('[compare]\nranks = 4\n', "no methods"),
])
def test_bad_comparison_file_clear_error(tmp_path, capsys, text, needle):
    src = write(tmp_path, "bad.toml", text)
    rc = compare.main([str(src), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == compare.EXIT_USAGE
    assert needle in err, err
    assert err.startswith("gossip: compare error:")
    assert not (tmp_path / "out").exists()  # nothing ran, nothing written


def test_dry_run_checks_and_writes_nothing(tmp_path, capsys):
    src = write(tmp_path, "two.toml", COMPARISON.format(target=TARGET, extra=BAD))
    rc = compare.main([str(src), "--dry-run", "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert rc == compare.EXIT_FAILED  # levels = 0 does not validate
    assert "algorithm.levels = 0" in out
    assert out.count("would run: ") == 3 and "--config " in out
    assert not (tmp_path / "o").exists()


def test_only_unknown_label(tmp_path, capsys):
    src = write(tmp_path, "two.toml", COMPARISON.format(target=TARGET, extra=""))
    assert compare.main([str(src), "--only", "nope", "--out", str(tmp_path / "o")]) == 2
    assert "'Malcom l2 s=4'" in capsys.readouterr().err


def test_deep_merge():
    base = {"train": {"rounds": 10, "eval_every": 5}, "algorithm": {"lr": 0.1}}
    merged = compare.deep_merge(base, {"train": {"rounds": 20}, "model": {"name": "logreg"}})
    assert merged == {"train": {"rounds": 20, "eval_every": 5}, "algorithm": {"lr": 0.1},
                      "model": {"name": "logreg"}}
    assert base["train"]["rounds"] == 10  # inputs untouched


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def test_plots(done, tmp_path):
    _, out, _ = done
    names = {"accuracy_vs_bytes.png", "accuracy_vs_time.png", "accuracy_vs_rounds.png", "loss_vs_rounds.png",
             "bits_per_entry.png", "nonzero_fraction.png", "consensus_distance.png"}
    # compare.main drew them for the successful methods
    assert {p.name for p in (out / "plots").glob("*.png")} >= names
    # and the analysis script draws them for any run directories
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "plots", Path(__file__).resolve().parents[2] / "analysis" / "plots.py")
    plots = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plots)
    runs = {"a": out / "runs" / "malcom-l2-s-4", "b": out / "runs" / "malcom-inf-s-2"}
    paths = plots.plot_runs(runs, tmp_path / "png", target=TARGET)
    assert {p.name for p in paths} == names
    for p in paths:
        w, h = _png_size(p)
        assert w >= 600 and h >= 400 and p.stat().st_size > 10_000, p
    assert plots.main([str(out), "--out", str(tmp_path / "cli")]) == 0
    assert {p.name for p in (tmp_path / "cli").glob("*.png")} == names


def test_no_module_under_gossip_imports_analysis():
    """The plots live in the package; analysis/ holds scripts that call it, never the reverse."""
    root = Path(__file__).resolve().parents[2] / "gossip"
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert "import analysis" not in text and "from analysis" not in text, path
        assert "spec_from_file_location" not in text, path


def test_time_to_target_without_elapsed(tmp_path):
    """A run written before metrics carried elapsed_s: the time column is a dash."""
    run = tmp_path / "old"
    run.mkdir()
    lines = [{"round": 1, "rank": 0, "bytes_sent": 10}, {"round": 1, "rank": 1, "bytes_sent": 30},
             {"round": 1, "rank": -1, "test_accuracy": 0.7}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"rou')
    rd = compare.read_run(run)  # the torn last line is skipped
    assert rd.rounds_to(0.5) == 1 and rd.cum_bytes_per_rank_at(1) == 20
    assert rd.elapsed_s is None and rd.elapsed_at(1) is None
    row = {"label": "old", "algorithm": "malcom", "status": "ok", "rounds_to_target": 1,
           "bytes_per_rank_to_target": 20.0, "seconds_to_target": None, "final_accuracy": 0.7,
           "total_bytes": 40, "bytes_vs_dpsgd": None, "wall_seconds": 1.0}
    assert "| 1 | 20 | — | 0.7000 |" in compare.markdown_table([row], 0.5)

