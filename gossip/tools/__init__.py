"""Tools built on top of the training core; nothing in the core imports them.

* :mod:`gossip.tools.compare`: ``gossip compare``, several methods on one problem, a table of
  rounds, bytes and wall time to a target accuracy, and plots.
* :mod:`gossip.tools.bench`: ``gossip bench default|codec|fuzz`` and the in-process benchmarks
  ``dither`` and ``checkpoint`` (``python -m gossip.tools.bench.<name>``).
* :mod:`gossip.tools.plots`: PNG plots of run directories and comparisons (``analysis/plots.py``
  is a thin script around it).
* :mod:`gossip.tools.runs`: one run's outputs (metrics.jsonl, summary.json) aggregated over ranks.
* :mod:`gossip.tools.mpiexec`: where to find the MPI launcher.
* :mod:`gossip.tools.wallclock`: ``gossip bench wallclock``, wall-clock time to accuracy per
  method, with the link unthrottled and shaped (a private network namespace, ``tc``).

Every import from the core goes through :mod:`gossip.tools._core`.
"""
