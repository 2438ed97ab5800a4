"""Codec benchmark of issue 5 (thin wrapper around :mod:`gossip.bench_codec`).

    python analysis/codec_bench.py [--out DIR] [--large] [--rounds R] ...

or, from Python: ``from gossip.bench_codec import main, run_bench, bench_input``.
"""

from __future__ import annotations

import sys

from gossip.bench_codec import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
