"""The one place where the tools import the training core.

Everything the tools need from ``gossip.train``, ``gossip.config``, the communicators, the
compressors and the codecs is re-exported here, so a move in the core changes only this file.
Heavy modules (torch via ``gossip.train``) are imported on first use, so ``gossip compare
--help`` and the codec fuzzer stay light.
"""

from __future__ import annotations

from typing import Any

# light: no torch
from ..codecs import DecodeError, qframe, vsc
from ..codecs.bitio import BitWriter
from ..codecs.frames import QuantizedCodec, RawCodec, SparseCodec
from ..compressors.dithered import DitheredQuantizer, Quantized
from ..compressors.sparse import Dense, Sparse
from ..config import SECTIONS, ConfigError, read_toml
from ..config import load as load_config

_LAZY = {
    # name: (module, attribute); module imported on first access (it imports torch)
    "Run": ("gossip.train", "Run"),
    "build_topology": ("gossip.train", "build_topology"),
    "read_metrics": ("gossip.train", "read_metrics"),
    "InProcessCommunicator": ("gossip.comm", "InProcessCommunicator"),
    "checkpoint_round_dir": ("gossip.checkpoint", "round_dir"),
    "numpy_rng": ("gossip.rng", "numpy_rng"),
}

__all__ = ["DecodeError", "qframe", "vsc", "BitWriter", "QuantizedCodec", "RawCodec",
           "SparseCodec", "DitheredQuantizer", "Quantized", "Dense", "Sparse", "SECTIONS",
           "ConfigError", "read_toml", "load_config", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(mod), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
