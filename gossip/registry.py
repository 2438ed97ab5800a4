"""One small registry type: name → factory, for every pluggable piece.

Compressors, codecs, algorithms, models, data sets, topologies and CLI subcommands each keep
one ``Registry``; configuration choices, ``--help`` texts and error messages are read from it,
so a name is written once, where its factory is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Entry:
    name: str
    factory: Callable[..., Any]
    help: str = ""
    meta: dict = field(default_factory=dict)  # what else callers need to know (e.g. a kind)


class Registry:
    """An ordered mapping of names to :class:`Entry`; ``register`` works as a decorator."""

    def __init__(self, what: str):
        self.what = what
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, factory: Callable | None = None, *, help: str = "", **meta):
        def add(f: Callable) -> Callable:
            if name in self._entries:
                raise ValueError(f"{self.what} {name!r} is registered twice")
            self._entries[name] = Entry(name, f, help, meta)
            return f

        return add(factory) if factory is not None else add

    def __getitem__(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.what} {name!r}; accepted: {', '.join(self)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def build(self, name: str, *args, **kwargs) -> Any:
        return self[name].factory(*args, **kwargs)
