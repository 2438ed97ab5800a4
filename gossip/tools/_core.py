"""The one place where the tools import the training core.

Everything the tools need from ``gossip.run``, ``gossip.config``, the communicators, the
compressors and the codecs is re-exported here, so a move in the core changes only this file.
Heavy modules (torch via ``gossip.run``) are imported on first use, so ``gossip compare
--help`` and the codec fuzzer stay light.
"""

from __future__ import annotations

from typing import Any

# light: no torch
from ..codecs import DecodeError, qframe, vsc
from ..codecs.bitio import BitWriter, write_varint
from ..codecs import QuantizedCodec, RawCodec, SparseCodec
from ..compressors import DitheredQuantizer
from ..messages import Dense, Quantized, Sparse
from ..config import ALGORITHM_DEFAULTS, SECTIONS, ConfigError, read_toml
from ..config import load as load_config

_LAZY = {
    # name: (module, attribute); module imported on first access (it imports torch)
    "Run": ("gossip.run.loop", "Run"),
    "build_topology": ("gossip.run.build", "build_topology"),
    "read_metrics": ("gossip.run.metrics", "read_metrics"),
    "InProcessCommunicator": ("gossip.comm", "InProcessCommunicator"),
    "checkpoint_round_dir": ("gossip.run.checkpoint", "round_dir"),
    "save_set": ("gossip.run.resume", "save_set"),
    "load_set": ("gossip.run.resume", "load_set"),
    "numpy_rng": ("gossip.rng", "numpy_rng"),
}

__all__ = ["DecodeError", "qframe", "vsc", "BitWriter", "write_varint", "QuantizedCodec", "RawCodec",
           "SparseCodec", "DitheredQuantizer", "Quantized", "Dense", "Sparse", "SECTIONS",
           "ALGORITHM_DEFAULTS",
           "ConfigError", "read_toml", "load_config", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(mod), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
