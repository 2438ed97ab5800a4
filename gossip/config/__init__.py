"""Typed run configuration: dataclasses, TOML loading, command-line overrides, validation.

- :mod:`.fields`: ``opt()`` (a field with its help, flag and constraints) and ``coerce``
- :mod:`.sections`: the sections ``[topology] [data] [model] [algorithm] [train]``, ``Config``
- :mod:`.checks` / :mod:`.mode`: cross-field checks
- :mod:`.loading`: defaults < TOML < flags, and back to TOML

One source of truth: every option is a dataclass field whose metadata carries its help text,
its command-line flag and its accepted values.  The CLI's ``--help``, the TOML loader and the
validator are all generated from those fields, so they cannot drift apart.

Precedence: built-in defaults < ``--config FILE`` (TOML) < command-line flags.
"""

from __future__ import annotations

from .checks import check, resolve
from .fields import ConfigError, coerce, opt
from .loading import load, read_toml, to_toml
from .sections import (ALGORITHM_DEFAULTS, SECTIONS, AlgorithmConfig, Config, DataConfig,
                       ModelConfig, TopologyConfig, TrainConfig)

__all__ = ["ALGORITHM_DEFAULTS", "SECTIONS", "AlgorithmConfig", "Config", "ConfigError",
           "DataConfig", "ModelConfig", "TopologyConfig", "TrainConfig", "check", "coerce",
           "load", "opt", "read_toml", "resolve", "to_toml"]
