"""Defaults < ``--config FILE`` (TOML) < command-line flags; and a config back to TOML."""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from .checks import check
from .fields import ConfigError, coerce
from .sections import SECTIONS, Config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _apply(cfg: Config, section: str, values: dict, source: str) -> None:
    if section not in SECTIONS:
        raise ConfigError(f"config error: unknown section [{section}] in {source}; "
                          f"accepted sections: {', '.join(SECTIONS)}")
    if not isinstance(values, dict):
        raise ConfigError(f"config error: [{section}] in {source} must be a table of settings")
    obj = getattr(cfg, section)
    known = {f.name: f for f in fields(obj)}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"config error: unknown key {section}.{key} in {source}; "
                              f"accepted keys in [{section}]: {', '.join(known)}")
        setattr(obj, key, coerce(section, known[key], value))


def read_toml(path: str, what: str, error: type[Exception] = ConfigError) -> dict:
    """A TOML file as a dict; a missing or malformed file is ``error`` naming ``what``."""
    p = Path(path)
    if not p.is_file():
        raise error(f"{what}: no such file")
    try:
        return tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise error(f"{what} is not valid TOML: {e}") from None


def load(path: str | None = None, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Defaults, then the TOML file at ``path``, then ``overrides`` ({section: {key: value}}).

    Raises ConfigError for anything wrong; then runs cross-field checks.
    """
    cfg = Config()
    if path is not None:
        data = read_toml(path, f"config error: --config {path}")
        for section, values in data.items():
            if section == "run":  # informational block written into runs/*/config.toml
                continue
            _apply(cfg, section, values, path)
    for section, values in (overrides or {}).items():
        _apply(cfg, section, values, "the command line")
    check(cfg)
    return cfg


def to_toml(cfg: Config) -> str:
    import tomli_w

    d = cfg.to_dict()
    # TOML has no null: leave unset optional values out (they load back as their default None).
    clean = {s: {k: v for k, v in vals.items() if v is not None} for s, vals in d.items()}
    return tomli_w.dumps(clean)
