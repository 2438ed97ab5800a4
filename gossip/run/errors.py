"""The two ways a run ends early on purpose."""

from __future__ import annotations


class RunError(RuntimeError):
    """A run cannot start or continue; the message says why and what to do."""


class Preempted(Exception):
    """Every rank checkpointed round ``round`` after a stop request and the run must exit."""

    def __init__(self, round_: int):
        super().__init__(f"stopped after round {round_}")
        self.round = round_
