"""``gossip compare``: run several methods on one problem and tabulate what each one paid.

A comparison file (TOML) names the problem once and the methods that attack it::

    [compare]
    ranks = 8                      # world size of every run
    launcher = "mpi"               # "mpi" (mpiexec -n RANKS) or "inprocess" (one process)
    target_accuracy = 0.9          # of the network-average model
    out = "runs/compare-ring"      # optional; default runs/compare-<file stem>-<timestamp>
    title = "..."                  # optional heading of table.md
    base = { topology = { name = "ring" }, train = { rounds = 1000, eval_every = 25 } }

    [[method]]
    label = "Malcom-PSGD"
    algorithm = { name = "malcom" }

    [[method]]
    label = "D-PSGD"
    algorithm = { name = "dpsgd" }

Each method's settings are ``base`` deep-merged with the method's own sections (the sections of
``gossip train --config``: topology, data, model, algorithm, train; the method wins).  The merged
settings are written to ``OUT/configs/<method>.toml`` and run with ``gossip train --config``
(``train.comm``, ``train.ranks`` and ``train.progress`` are filled in by compare; ``train.out`` is
``OUT/runs/<method>``).  A method whose settings do not validate, or whose run fails, is marked
failed and the others still run; the exit code is then 1.

Outputs in OUT: ``table.md``, ``table.csv``, ``comparison.json`` (the same rows with more
fields), ``configs/``, ``runs/``, ``logs/`` (each run's stdout and stderr) and ``plots/`` (PNG,
when matplotlib is installed).

Columns: rounds until the network-average test accuracy (``rank = -1`` lines of metrics.jsonl)
first reaches the target (evaluated every ``train.eval_every`` rounds, so this is a multiple of
it), payload bytes per rank spent until then (``bytes_sent`` of every rank summed over rounds
1..R, divided by the world size), final network-average accuracy, total payload bytes of all
ranks, total bytes relative to the D-PSGD row (algorithm ``dpsgd``; without one, relative to
float32 D-PSGD on the same graph and rounds, ``dpsgd_float32_bytes_same_rounds`` of
summary.json), and the training wall time of rank 0.  Beside the rounds and bytes to the
target, the wall time to it: ``elapsed_s`` of metrics.jsonl (training wall seconds since the
run started) at round R, of the slowest rank.
"""

from .command import add_arguments, build_parser, main, run_comparison, run_from_args
from .launch import run_command
from .spec import (EXIT_FAILED, EXIT_OK, EXIT_USAGE, LAUNCHERS, Comparison, CompareError, Method,
                   deep_merge, load_comparison, method_config, slugify)
from .tables import add_dpsgd_ratios, csv_text, markdown_table, notes, result_of
from ..runs import RunData, read_run

__all__ = ["add_arguments", "build_parser", "main", "run_comparison", "run_from_args",
           "run_command", "EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "LAUNCHERS", "Comparison",
           "CompareError", "Method", "deep_merge", "load_comparison", "method_config", "slugify",
           "add_dpsgd_ratios", "csv_text", "markdown_table", "notes", "result_of", "RunData",
           "read_run"]
