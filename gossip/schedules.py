"""Learning-rate schedules: η_t for round t = 1..T, a pure function of t (docs/algorithms.md §10).

``REGISTRY`` maps each ``--lr-schedule`` name to a factory ``(lr, train_config) -> (t -> η_t)``;
its meta ``depends_on_rounds`` says whether η_t changes with the total ``--rounds`` T (then a
resumed run with another T would follow another trajectory).  Every algorithm reads the rate
of the round it is in (``Algorithm.eta``), including the prox threshold η_t·μ.  Because η_t
depends on t only, a resumed run recomputes it: nothing needs checkpointing.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .registry import Registry

REGISTRY = Registry("learning-rate schedule")

Rate = Callable[[int], float]


def _constant(lr: float, tc) -> Rate:
    return lambda t: lr


def _inverse_time(lr: float, tc) -> Rate:
    b = float(tc.lr_b)
    a = float(tc.lr_a) if tc.lr_a is not None else lr * (1.0 + b)  # η₁ = --lr
    return lambda t: a / (t + b)


def _step(lr: float, tc) -> Rate:
    every, factor = int(tc.lr_step_every), float(tc.lr_step_factor)
    return lambda t: lr * factor ** ((t - 1) // every)


def _cosine(lr: float, tc) -> Rate:
    low, T, tw = float(tc.lr_min), int(tc.rounds), int(tc.lr_warmup)
    span = max(1, T - tw)
    return lambda t: low + 0.5 * (lr - low) * (1.0 + math.cos(math.pi * min(1.0, max(0, t - tw) / span)))


REGISTRY.register("constant", _constant, depends_on_rounds=False,
                  help="eta_t = --lr (the default; the papers' deep-learning runs)")
REGISTRY.register("inverse-time", _inverse_time, depends_on_rounds=False,
                  help="eta_t = a/(t + b), a = --lr-a or --lr*(1 + --lr-b) so eta_1 = --lr: "
                  "convex problems and the l1 prox (CHOCO's convex runs), converges to the optimum")
REGISTRY.register("step", _step, depends_on_rounds=False,
                  help="eta_t = --lr * --lr-step-factor^floor((t-1)/--lr-step-every): the "
                  "deep-learning recipe (SASG CIFAR, CHOCO ResNet)")
REGISTRY.register("cosine", _cosine, depends_on_rounds=True,
                  help="--lr-min + (--lr - --lr-min)(1 + cos(pi (t - warm-up)/(T - warm-up)))/2 "
                  "over T = --rounds: a fixed-length run; depends on --rounds")


def depends_on_rounds(name: str) -> bool:
    """True when the schedule's η_t changes with the total number of rounds (``--rounds``)."""
    return bool(REGISTRY[name].meta["depends_on_rounds"])


def make(lr: float, tc) -> Rate | None:
    """η_t for the train config ``tc`` (its ``lr_*`` fields), with a linear warm-up over the
    first ``tc.lr_warmup`` rounds; None for the constant schedule without warm-up (the
    algorithms then use ``lr`` itself, bit for bit)."""
    lr, warm = float(lr), int(tc.lr_warmup)
    if tc.lr_schedule == "constant" and warm == 0:
        return None
    rate = REGISTRY.build(tc.lr_schedule, lr, tc)
    if warm == 0:
        return rate
    return lambda t: rate(t) * min(1.0, t / warm)
