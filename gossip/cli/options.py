"""Command-line flags generated from the config dataclasses (one source of truth: each field's
metadata carries its flag, help text and accepted values)."""

from __future__ import annotations

import argparse
import dataclasses

from ..config import SECTIONS


def _help_for(section: str, f: dataclasses.Field) -> str:
    m = f.metadata
    text = m["help"]
    if m.get("choices"):
        text += f" ({'|'.join(map(str, m['choices']))})"
    if m.get("assumption"):
        text += " [A: our choice, the paper does not fix it]"
    default = f.default
    if default is not None:
        text += f"; default {default!r}"
    elif section == "algorithm":
        text += "; default: per algorithm"
    return (text + f"; TOML [{section}] {f.name}").replace("%", "%%")


def add_config_flags(p: argparse.ArgumentParser) -> None:
    for section, cls in SECTIONS.items():
        g = p.add_argument_group(f"[{section}]")
        for f in dataclasses.fields(cls):
            flag = f.metadata.get("flag")
            if not flag:
                continue
            dest = f"{section}.{f.name}"
            tp = f.type.replace(" | None", "").strip() if isinstance(f.type, str) else f.type
            kw = dict(dest=dest, default=argparse.SUPPRESS, help=_help_for(section, f))
            if tp == "bool":
                g.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
            else:
                conv = {"int": _int, "float": _float, "str": str}[tp]
                g.add_argument(flag, type=conv, metavar=f.name.upper(), **kw)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def overrides_from(args: argparse.Namespace) -> dict:
    """{section: {key: value}} of the flags given on the command line."""
    out: dict = {}
    for key, value in vars(args).items():
        if "." in key:
            section, name = key.split(".", 1)
            out.setdefault(section, {})[name] = value
    return out
