"""The one exception type raised by the ``topologies`` package."""

from __future__ import annotations

__all__ = ["TopologyError"]


class TopologyError(ValueError):
    """A graph, mixing matrix or topology request is invalid.

    The message always says what is wrong and how to fix it.  Subclasses
    :class:`ValueError` so generic callers can catch it as bad input.
    """
