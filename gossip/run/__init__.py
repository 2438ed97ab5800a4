"""Running a training job: build the pieces, run the rounds, log, checkpoint, summarise.

- :mod:`.build`: topology, communicator choice, algorithm (from the registry), devices
- :mod:`.worker`: one rank's model, data sampler and algorithm state (the gradient oracle)
- :mod:`.loop`: :class:`~gossip.run.loop.Run`, the rounds and the evaluation
- :mod:`.metrics`: the metrics schema, its writer and reader, the summary
- :mod:`.checkpoint` / :mod:`.resume`: the file format, and what a rank saves and restores
- :mod:`.output`: the output directory and its config.toml
- :mod:`.stop`: the stop request set by signals (light: imported before anything heavy)
- :mod:`.errors`: RunError, Preempted

This package's ``__init__`` imports nothing eagerly, so ``gossip.run.stop`` stays cheap to
import; ``from gossip.run import Run, build_topology, ...`` loads what it names.
"""

from __future__ import annotations

import importlib

_EXPORTS = {"Run": "loop", "evaluate": "loop", "build_topology": "build",
            "build_algorithm": "build", "build_communicator": "build",
            "communicator_kind": "build", "RunError": "errors", "Preempted": "errors",
            "read_metrics": "metrics", "format_summary": "metrics", "FIELDS": "metrics",
            "CheckpointError": "checkpoint", "Worker": "worker"}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_EXPORTS)
