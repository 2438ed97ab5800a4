"""PNG plots of gossip runs and comparisons; the code is :mod:`gossip.tools.plots`.

    python analysis/plots.py RUN_DIR [RUN_DIR ...] --out DIR [--target 0.9]
    python analysis/plots.py COMPARE_DIR                 # a `gossip compare` output directory

Figures: accuracy against cumulative bytes and against wall time, accuracy against rounds,
loss, bits per entry, nonzero fraction, consensus distance (``python analysis/plots.py -h``).
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from gossip.tools.plots import main, plot_runs  # noqa: F401 - plot_runs for importers
except ImportError:  # running from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from gossip.tools.plots import main, plot_runs  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:], prog="analysis/plots.py"))
