"""The comparison file of ``gossip compare``: parse, check, merge each method's settings.

See :mod:`gossip.tools.compare` for the file format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _core

EXIT_OK = 0
EXIT_FAILED = 1   # at least one method failed
EXIT_USAGE = 2    # the comparison file or the flags are wrong; nothing ran

LAUNCHERS = ("mpi", "inprocess")
COMPARE_KEYS = {
    "ranks": "world size of every run (integer >= 1)",
    "launcher": "mpi (mpiexec -n RANKS python -m gossip train) or inprocess",
    "target_accuracy": "network-average test accuracy to reach (0 < t <= 1)",
    "out": "output directory (optional)",
    "title": "heading of table.md (optional)",
    "base": "settings shared by every method: tables topology, data, model, algorithm, train",
}
DEFAULTS = {"ranks": 4, "launcher": "mpi", "target_accuracy": 0.9}
# train.* keys that compare sets itself, per run
CONTROLLED_TRAIN_KEYS = ("out", "comm", "ranks", "progress")


class CompareError(ValueError):
    """The comparison file or the command line is wrong; nothing has run."""


def _sections() -> tuple[str, ...]:
    return tuple(_core.SECTIONS)


# -- the comparison file ----------------------------------------------------------------------
@dataclass
class Method:
    label: str
    slug: str
    settings: dict          # merged base + method sections, before compare's own train keys

    @property
    def algorithm(self) -> str:
        return str(self.settings.get("algorithm", {}).get("name", "malcom"))


@dataclass
class Comparison:
    source: Path
    ranks: int
    launcher: str
    target: float
    out: Path | None
    title: str
    methods: list[Method] = field(default_factory=list)


def deep_merge(a: dict, b: dict) -> dict:
    """A copy of ``a`` updated by ``b``; nested tables merge, everything else ``b`` wins."""
    out = {k: (deep_merge(v, {}) if isinstance(v, dict) else v) for k, v in a.items()}
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        elif isinstance(v, dict):
            out[k] = deep_merge(v, {})
        else:
            out[k] = v
    return out


def slugify(label: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()
    return s or "method"


def _check_sections(table: Any, where: str, src: str) -> dict:
    sections = _sections()
    if not isinstance(table, dict):
        raise CompareError(f"compare error: {where} in {src} must be a table")
    for name, val in table.items():
        if name not in sections:
            raise CompareError(f"compare error: unknown key {where}.{name} in {src}; "
                               f"accepted sections: {', '.join(sections)}")
        if not isinstance(val, dict):
            raise CompareError(f"compare error: {where}.{name} in {src} must be a table of "
                               f"settings, e.g. {name} = {{ ... }}")
        bad = [k for k in val if name == "train" and k in CONTROLLED_TRAIN_KEYS]
        if bad:
            raise CompareError(f"compare error: {where}.train.{bad[0]} in {src}: set by gossip "
                               f"compare itself (use [compare] ranks / launcher / out or the "
                               f"flags --ranks / --launcher / --out)")
    return table


def load_comparison(path: str | Path, *, ranks: int | None = None, launcher: str | None = None,
                    target: float | None = None, out: str | None = None,
                    rounds: int | None = None, only: list[str] | None = None) -> Comparison:
    """Parse and check a comparison file; keyword arguments override it (the CLI flags)."""
    p, src = Path(path), str(path)
    data = _core.read_toml(src, f"compare error: {src}", CompareError)
    for key in data:
        if key not in ("compare", "method"):
            raise CompareError(f"compare error: unknown key {key!r} at the top of {src}; "
                               f"accepted: [compare] and [[method]] (settings shared by all "
                               f"methods go in [compare] base, e.g. [compare.base.{key}])")
    head = data.get("compare", {})
    if not isinstance(head, dict):
        raise CompareError(f"compare error: compare in {src} must be a table [compare]")
    for key in head:
        if key not in COMPARE_KEYS:
            raise CompareError(
                f"compare error: unknown key compare.{key} in {src}; accepted keys in "
                f"[compare]: {', '.join(COMPARE_KEYS)}")
    settings = {**DEFAULTS, **head}
    if ranks is not None:
        settings["ranks"] = ranks
    if launcher is not None:
        settings["launcher"] = launcher
    if target is not None:
        settings["target_accuracy"] = target
    if out is not None:
        settings["out"] = out

    r = settings["ranks"]
    if isinstance(r, bool) or not isinstance(r, int) or r < 1:
        raise CompareError(f"compare error: compare.ranks = {r!r} in {src}: expected an "
                           f"integer >= 1")
    la = settings["launcher"]
    if la not in LAUNCHERS:
        raise CompareError(f"compare error: compare.launcher = {la!r} in {src}: must be one of "
                           f"{', '.join(LAUNCHERS)}")
    t = settings["target_accuracy"]
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not (0 < t <= 1):
        raise CompareError(f"compare error: compare.target_accuracy = {t!r} in {src}: expected "
                           f"a number in (0, 1]")
    o = settings.get("out")
    if o is not None and not isinstance(o, str):
        raise CompareError(f"compare error: compare.out = {o!r} in {src}: expected a string")
    title = settings.get("title", f"gossip compare: {p.stem}")
    if not isinstance(title, str):
        raise CompareError(f"compare error: compare.title = {title!r} in {src}: expected a string")
    if rounds is not None and rounds < 1:
        raise CompareError(f"compare error: --rounds {rounds}: must be >= 1")
    base = _check_sections(settings.get("base", {}), "compare.base", src)

    raw_methods = data.get("method", [])
    if not isinstance(raw_methods, list) or not raw_methods:
        raise CompareError(f"compare error: {src} lists no methods; add [[method]] tables, each "
                           f"with a label and its sections, e.g. algorithm = {{ name = \"malcom\" }}")
    methods: list[Method] = []
    seen: dict[str, str] = {}
    for i, m in enumerate(raw_methods, 1):
        where = f"method #{i}"
        if not isinstance(m, dict):
            raise CompareError(f"compare error: {where} in {src} must be a table [[method]]")
        label = m.get("label")
        if not isinstance(label, str) or not label.strip():
            raise CompareError(f"compare error: {where} in {src} needs label = \"...\" "
                               f"(the row's name in the table)")
        where = f"method {label!r}"
        for key in m:
            if key != "label" and key not in _sections():
                raise CompareError(
                    f"compare error: unknown key {key!r} in {where} of {src}; accepted keys in "
                    f"[[method]]: label, {', '.join(_sections())}")
        sections = _check_sections({k: v for k, v in m.items() if k != "label"}, where, src)
        slug = slugify(label)
        if slug in seen:
            raise CompareError(f"compare error: labels {seen[slug]!r} and {label!r} in {src} are "
                               f"not distinct (both give the directory name {slug!r})")
        seen[slug] = label
        merged = deep_merge(base, sections)
        if rounds is not None:
            merged.setdefault("train", {})["rounds"] = rounds
        methods.append(Method(label=label, slug=slug, settings=merged))
    if only:
        wanted = []
        for name in only:
            hit = [m for m in methods if name in (m.label, m.slug)]
            if not hit:
                raise CompareError(f"compare error: --only {name!r}: no such method; methods: "
                                   + ", ".join(repr(m.label) for m in methods))
            wanted.extend(h for h in hit if h not in wanted)
        methods = wanted
    return Comparison(source=p, ranks=r, launcher=la, target=float(t),
                      out=Path(o) if o else None, title=title, methods=methods)


def method_config(cmp: Comparison, m: Method) -> dict:
    """The full ``gossip train --config`` settings of one method."""
    cfg = deep_merge(m.settings, {})
    train = cfg.setdefault("train", {})
    train["comm"] = cmp.launcher
    train["ranks"] = cmp.ranks
    train["progress"] = False
    return cfg
