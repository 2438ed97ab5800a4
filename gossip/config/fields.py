"""One config field = one ``opt()``: its default, help text, flag, accepted values and range;
``coerce`` checks a value against it."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import field
from typing import Any


class ConfigError(ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range."""


def opt(default: Any, help: str, *, flag: str | None = None, choices: tuple | None = None,
        lo: float | None = None, hi: float | None = None, lo_open: bool = False,
        hi_open: bool = False, nullable: bool = False, assumption: bool = False) -> Any:
    """A config field with its documentation and constraints.

    ``assumption=True`` marks a choice the papers do not pin down (tag [A] in
    docs/algorithms.md); ``--help`` says so.
    """
    meta = dict(help=help, flag=flag, choices=choices, lo=lo, hi=hi, lo_open=lo_open,
                hi_open=hi_open, nullable=nullable, assumption=assumption)
    return field(default=default, metadata=meta)


def _type_name(tp: Any) -> str:
    return {"int": "an integer", "float": "a number", "str": "a string",
            "bool": "true or false"}.get(tp, str(tp))


def _base_type(f: dataclasses.Field) -> str:
    t = f.type if isinstance(f.type, str) else f.type.__name__
    return t.replace(" | None", "").strip()


def coerce(section: str, f: dataclasses.Field, value: Any) -> Any:
    """Check one value against its field; return it in the field's type or raise ConfigError."""
    m = f.metadata
    where = f"{section}.{f.name} = {value!r}"
    fix = f"; set [{section}] {f.name} in the TOML file" + (f" or {m['flag']}" if m.get("flag") else "")
    if value is None:
        if m.get("nullable"):
            return None
        raise ConfigError(f"config error: {section}.{f.name} must be set{fix}")
    tp = _base_type(f)
    if tp == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"config error: {where}: expected true or false{fix}")
    elif tp == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ConfigError(f"config error: {where}: expected an integer{fix}")
    elif tp == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config error: {where}: expected a number{fix}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"config error: {where}: expected a finite number{fix}")
    elif tp == "str":
        if not isinstance(value, str):
            raise ConfigError(f"config error: {where}: expected a string{fix}")
    choices = m.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"config error: {where}: must be one of {', '.join(map(str, choices))}{fix}")
    lo, hi = m.get("lo"), m.get("hi")
    if lo is not None and (value < lo or (m.get("lo_open") and value == lo)):
        rel = ">" if m.get("lo_open") else ">="
        raise ConfigError(f"config error: {where}: must be {rel} {lo}{fix}")
    if hi is not None and (value > hi or (m.get("hi_open") and value == hi)):
        rel = "<" if m.get("hi_open") else "<="
        raise ConfigError(f"config error: {where}: must be {rel} {hi}{fix}")
    return value
