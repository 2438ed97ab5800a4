"""Configuration: TOML + flags into typed dataclasses, every bad value a clear error."""

import subprocess
import sys

import pytest

from gossip import config
from gossip.cli import build_parser
from gossip.cli.options import overrides_from
from gossip.config import ConfigError


def test_defaults_and_overrides(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[algorithm]\ngamma = 0.5\nlevels = 8\n[train]\nrounds = 10\n')
    cfg = config.load(str(p), {"algorithm": {"gamma": 0.2}})
    assert cfg.algorithm.gamma == 0.2  # flag beats file
    assert cfg.algorithm.levels == 8 and cfg.train.rounds == 10
    assert cfg.topology.name == "ring" and cfg.algorithm.name == "malcom"


def test_round_trip_through_written_toml(tmp_path):
    cfg = config.load(None, {"algorithm": {"lr": 0.07}, "topology": {"name": "complete"}})
    text = config.to_toml(cfg) + '\n[run]\nworld_size = 4\n'
    (tmp_path / "c.toml").write_text(text)
    again = config.load(str(tmp_path / "c.toml"))
    assert again == cfg and again.digest() == cfg.digest()


@pytest.mark.parametrize("text, needles", [
    ("[algorithm]\ngama = 0.3\n", ["algorithm.gama", "accepted keys", "gamma"]),
    ("[algo]\ngamma = 0.3\n", ["[algo]", "accepted sections"]),
    ("[algorithm]\ngamma = 'high'\n", ["algorithm.gamma", "'high'", "expected a number"]),
    ("[algorithm]\ngamma = 1.5\n", ["algorithm.gamma = 1.5", "<= 1", "--gamma"]),
    ("[algorithm]\ngamma = 0\n", ["algorithm.gamma = 0", "> 0"]),
    ("[train]\nrounds = 2.5\n", ["train.rounds = 2.5", "integer"]),
    ("[train]\nrounds = true\n", ["train.rounds", "integer"]),
    ("[topology]\nname = 'moebius'\n", ["topology.name", "moebius", "ring", "torus"]),
    ("[topology]\nname = 'file'\n", ["topology.file", "--topology-file"]),
    ("[train]\nprogress = 1\n", ["train.progress", "true or false"]),
    ("[algorithm\n", ["not valid TOML"]),
])
def test_bad_values_name_field_value_and_fix(tmp_path, text, needles):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        config.load(str(p))
    for n in needles:
        assert n in str(e.value), (n, str(e.value))


def test_missing_config_file():
    with pytest.raises(ConfigError, match="no such file"):
        config.load("/nonexistent/x.toml")


def test_flags_parse_into_overrides():
    args = build_parser().parse_args(["train", "--gamma", "0.4", "--levels", "8", "--no-progress",
                                      "--topology", "torus"])
    ov = overrides_from(args)
    assert ov == {"algorithm": {"gamma": 0.4, "levels": 8}, "train": {"progress": False},
                  "topology": {"name": "torus"}}


def test_help_explains_every_option():
    out = subprocess.run([sys.executable, "-m", "gossip", "train", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for flag in ["--algorithm", "--topology", "--rounds", "--lr", "--gamma", "--l1", "--levels",
                 "--model", "--partition", "--seed", "--out", "--norm", "--config"]:
        assert flag in out
    assert "[A: our choice" in out  # assumptions are marked


def test_cli_bad_flag_value_exits_2_with_one_message(tmp_path):
    r = subprocess.run([sys.executable, "-m", "gossip", "train", "--gamma", "3",
                        "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.count("algorithm.gamma = 3.0") == 1
    assert not (tmp_path / "o").exists()  # nothing written for a rejected config


def test_options_of_other_algorithms_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="algorithm.gamma = 0.5 does not apply to dpsgd"):
        config.load(None, {"algorithm": {"name": "dpsgd", "gamma": 0.5}})
    with pytest.raises(ConfigError, match="algorithm.l1 = 0.001 does not apply to sasg"):
        config.load(None, {"algorithm": {"name": "sasg", "l1": 1e-3}})
    cfg = config.load(None, {"algorithm": {"name": "dpsgd"}})  # its own resolved file reloads
    (tmp_path / "c.toml").write_text(config.to_toml(cfg))
    assert config.load(str(tmp_path / "c.toml")) == cfg


def test_topk_scope_only_for_adaptive_topk_and_topk_ef():
    for name in ("sasg", "gdsec", "malcom", "choco", "dpsgd"):
        with pytest.raises(ConfigError, match=f"algorithm.topk_scope = 'tensor' does not apply "
                                              f"to {name} .only adaptive-topk and topk-ef"):
            config.load(None, {"algorithm": {"name": name, "topk_scope": "tensor"}})
    assert config.load(None, {"algorithm": {"name": "adaptive-topk"}}).algorithm.topk_scope == "model"
    assert config.load(None, {"algorithm": {"name": "topk-ef"}}).algorithm.topk_scope == "tensor"
    cfg = config.load(None, {"algorithm": {"name": "topk-ef", "topk_scope": "model"}})
    assert cfg.algorithm.topk_scope == "model"
    with pytest.raises(ConfigError, match="must be one of model, tensor"):
        config.load(None, {"algorithm": {"name": "topk-ef", "topk_scope": "layer"}})
