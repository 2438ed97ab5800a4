"""Decoder fuzzer: hostile bytes into every decoder of :mod:`gossip.codecs`.

``gossip bench fuzz [--count N] [--seed S] [--target T ...] [--out DIR]`` (or ``python -m
gossip.tools.bench.fuzz``) feeds ``--count`` messages (default 100,000) to **each** decoder:
``vsc`` (``vsc.decode``), ``qframe`` (``qframe.decode``, VSC symbols), ``raw``
(``RawCodec.decode``), ``sparse`` (``SparseCodec.decode``) and ``packed``
(``QuantizedCodec('packed', ...).decode``: a quantized frame with fixed-width symbols).  The
messages are valid messages from the encoders (seeds) mutated (bit flips, byte overwrites,
insertions, deletions), truncated, extended, spliced, purely random, and CRC-*re-sealed*
forgeries whose payload bits, header fields, lengths, counts, indices or values were mutated
and whose checksum was then recomputed, so the mutation reaches the payload parser instead of
stopping at the CRC.

Rules checked for every message (a broken rule is a *violation*; any violation makes the
exit status 1):

* the only exception a decoder may raise is :class:`~gossip.codecs.DecodeError`
  (``exception``); a DecodeError produced by ``vsc.decode``'s last-resort safety net (a
  ``ValueError``/``IndexError``/... caught and re-raised) is reported as ``safety_net``;
* a decode that returns must return a well-formed result (``bad_output``): the declared size,
  int64 for VSC, a VSC result that re-encodes and decodes to itself, |z| <= levels and finite
  non-negative scales for a quantized frame, the model's size and finite float32 values for
  raw, strictly increasing in-range int64 indices and finite float32 values for sparse;
* no decode may take longer than ``--slow`` seconds (``slow``, default 1 s); a decode still
  running after ``--hard-timeout`` seconds is interrupted with SIGALRM (``timeout``);
* no decode may allocate (``tracemalloc`` peak above the memory in use before the call) more
  than ``1 MiB + 256 B x d_ok + 256 B x len(message)`` (``memory``), where ``d_ok`` is the
  declared size only when the receiver permits it (the expected size, or at most
  ``max_entries``) and 0 otherwise (for the frames: the receiver's model size): a size the
  decoder must refuse must be refused before any allocation.  (A valid dense message needs about 110 B per entry: d = 10^7 at 50% nonzero
  peaks at 1.06 GiB in ``vsc.decode``.)

``--kernels compiled`` fuzzes the compiled VSC decoder (:mod:`gossip.kernels.vsc`) in the
``vsc`` and ``qframe`` targets instead of the numpy reference: its result may be any int dtype
(int8 by default for quantizer symbols), and it must agree with the reference on every
message: refuse what the reference refuses, accept with the same values what it accepts
(``bad_output`` otherwise; the reference runs after the measured call).

Entry points: :func:`main` (argv), :func:`fuzz` (returns a :class:`FuzzReport`).  The parts:
:mod:`.fuzz_seeds` (envelopes, seeds), :mod:`.fuzz_mutators` (mutations, VSC and frame
generators), :mod:`.fuzz_frames` (raw, sparse and packed targets), :mod:`.fuzz_checks`,
:mod:`.fuzz_report`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import tracemalloc
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from .._core import DecodeError, QuantizedCodec, RawCodec, SparseCodec, qframe, vsc
from .fuzz_checks import _check_qframe_output, _check_vsc_output, check_raw, check_sparse
from .fuzz_frames import (FrameSeed, gen_packed, gen_raw, gen_sparse,
                          packed_seeds, raw_seeds, sparse_seeds)
from .fuzz_mutators import Mutator, forge_table, forge_vsc, gen_qframe, gen_vsc
from .fuzz_report import VIOLATIONS, FuzzReport, _reason, format_report
from .fuzz_seeds import (QSeed, VscSeed, leb128, qframe_head, qframe_seeds, read_leb128, seal,
                         seal_qframe, split_qframe, split_vsc, vsc_seeds)

__all__ = ["fuzz", "main", "build_parser", "format_report", "FuzzReport", "TARGETS",
           "VIOLATIONS", "Mutator", "forge_table", "forge_vsc", "gen_qframe", "gen_vsc",
           "gen_raw", "gen_sparse", "gen_packed", "QSeed", "VscSeed", "FrameSeed", "leb128",
           "qframe_head", "read_leb128", "seal", "seal_qframe", "split_qframe", "split_vsc",
           "vsc_seeds", "qframe_seeds", "raw_seeds", "sparse_seeds", "packed_seeds"]

#: Memory allowance: BASE + PER_ENTRY * permitted declared size + PER_BYTE * message length.
MEM_BASE = 1 << 20
MEM_PER_ENTRY = 256
MEM_PER_BYTE = 256
#: ``max_entries`` passed to vsc.decode when no expected size is given.
DEFAULT_MAX_ENTRIES = 1 << 20
TARGETS = ("vsc", "qframe", "raw", "sparse", "packed")

# ----------------------------------------------------------------------------- running


class _Timeout(BaseException):
    """Raised from the SIGALRM handler; a BaseException so no decoder can swallow it."""


def _on_alarm(signum, frame):  # pragma: no cover - only on a hang
    raise _Timeout()


def _is_safety_net(exc: DecodeError) -> bool:
    c = exc.__cause__
    while c is not None:
        if not isinstance(c, DecodeError):
            return True
        c = c.__cause__
    return False



class _Pools:
    """The seeds of every target (built once per run) and the VSC decoder under test."""

    def __init__(self, seed: int, kernels: str = "numpy"):
        self.vsc, self.qframe = vsc_seeds(seed), qframe_seeds(seed)
        self.raw, self.sparse, self.packed = raw_seeds(seed), sparse_seeds(seed), packed_seeds(seed)
        self.kernels = kernels
        if kernels == "numpy":  # looked up per call: the tests patch vsc.decode
            self.vsc_decode = lambda msg, **kw: vsc.decode(msg, **kw)
        else:
            from ...kernels import select
            self.vsc_decode = select(kernels).vsc_decode


def _agree(call_ref, accepted: bool, out) -> str | None:
    """The compiled decoder against the reference on one message: same verdict, same values."""
    try:
        ref = call_ref()
    except DecodeError:
        return "compiled decoder accepted a message the reference refuses" if accepted else None
    if not accepted:
        return "compiled decoder refused a message the reference accepts"
    a, b = (out, ref) if isinstance(out, np.ndarray) else (out.symbols, ref.symbols)
    if not np.array_equal(a, b) or (not isinstance(out, np.ndarray)
                                     and not np.array_equal(out.scales, ref.scales)):
        return "compiled decoder returned other values than the reference"
    return None


def _case(target: str, m: Mutator, pools: _Pools, max_entries: int):
    """One hostile message for ``target``: (generator, message, seed, permitted size d_ok,
    the decode call, the check of its result, the reference call for :func:`_agree` or
    None)."""
    if target == "vsc":
        gen, msg, s = gen_vsc(m, pools.vsc)
        try:
            d_decl = vsc.message_info(msg)["d"]
        except DecodeError:
            d_decl = None
        # the receiver's expectation: the seed's size, the (possibly forged)
        # declared size, so forgeries reach the payload parser, or none at all
        roll = m.r.random()
        if roll < 0.5 or d_decl is None:
            expected = s.d if roll < 0.8 else None
        else:
            expected = d_decl if roll < 0.8 and d_decl <= max_entries else None
        cap = expected if expected is not None else max_entries
        d_ok = d_decl if d_decl is not None and (
            d_decl == expected if expected is not None else d_decl <= cap) else 0
        kw = {"max_entries": max_entries} if expected is None else {"expected_size": expected}
        narrow = pools.kernels != "numpy"
        return (gen, msg, s, d_ok, lambda: pools.vsc_decode(msg, **kw),
                lambda out: _check_vsc_output(out, d_decl, expected, narrow),
                (lambda: vsc.decode(msg, **kw)) if narrow else None)
    if target in ("qframe", "packed"):
        ref = None
        if target == "qframe":
            gen, msg, s = gen_qframe(m, pools.qframe, pools.vsc)

            def call(msg=msg, s=s, dec=None):
                return qframe.decode(msg, levels=s.levels, block_sizes=s.block_sizes,
                                     vsc_decode=dec or pools.vsc_decode)
            if pools.kernels != "numpy":
                ref = partial(call, dec=vsc.decode)
        else:
            gen, msg, s = gen_packed(m, pools.packed, pools.vsc)

            def call(msg=msg, s=s):
                return QuantizedCodec("packed", s.levels, s.block_sizes).decode(msg)
        return (gen, msg, s, int(np.sum(s.block_sizes)), call,
                lambda out: _check_qframe_output(out, s), ref)
    if target == "raw":
        gen, msg, s = gen_raw(m, pools.raw)
        return (gen, msg, s, s.size, lambda: RawCodec(s.size).decode(msg),
                lambda out: check_raw(out, s.size), None)
    if target == "sparse":
        gen, msg, s = gen_sparse(m, pools.sparse)
        return (gen, msg, s, s.size, lambda: SparseCodec(s.size).decode(msg),
                lambda out: check_sparse(out, s.size), None)
    raise ValueError(f"unknown fuzz target {target!r}; targets: {', '.join(TARGETS)}")


def _warm_up(pools: _Pools, seed: int, targets) -> None:
    """Decode every seed and a few hundred hostile messages once, untimed and unmeasured, so
    first-call costs (lazy imports, numpy's internal caches) are not charged to message 1."""
    vseeds, qseeds = pools.vsc, pools.qframe
    m = Mutator(seed + 7_777_777)
    dec = pools.vsc_decode
    for s in vseeds + qseeds:
        try:
            if isinstance(s, VscSeed):
                dec(s.msg, expected_size=s.d)
            else:
                qframe.decode(s.msg, levels=s.levels, block_sizes=s.block_sizes, vsc_decode=dec)
        except Exception:  # noqa: BLE001 - the measured run reports problems
            pass
    for _ in range(300):
        for msg, call in ((gen_vsc(m, vseeds)[1], lambda b: dec(b, max_entries=1 << 16)),
                          (gen_qframe(m, qseeds, vseeds)[1], None)):
            try:
                if call is not None:
                    call(msg)
                else:
                    s = qseeds[0]
                    qframe.decode(msg, levels=s.levels, block_sizes=s.block_sizes, vsc_decode=dec)
            except Exception:  # noqa: BLE001 - the measured run reports these
                pass
    m = Mutator(seed + 8_888_888)
    for target in ("raw", "sparse", "packed"):
        if target not in targets:
            continue
        for _ in range(100):
            call = _case(target, m, pools, 1 << 16)[4]
            try:
                call()
            except Exception:  # noqa: BLE001 - the measured run reports these
                pass


def fuzz(count: int = 100_000, *, seed: int = 0, targets=TARGETS, slow: float = 1.0,
         hard_timeout: float = 10.0, max_entries: int = DEFAULT_MAX_ENTRIES,
         memory: bool = True, progress: Callable[[str], None] | None = None,
         keep_violations: int = 50, kernels: str = "numpy") -> FuzzReport:
    """Feed ``count`` hostile messages to each decoder in ``targets``; returns the report.
    ``kernels``: the VSC decoder of the vsc and qframe targets ("numpy" or "compiled").

    Safe to call from tests: the previous SIGALRM handler and timer are restored."""
    rep = FuzzReport(settings={"count_per_decoder": count, "seed": seed, "kernels": kernels,
                               "slow_s": slow,
                               "hard_timeout_s": hard_timeout, "max_entries": max_entries,
                               "memory_check": memory, "mem_base": MEM_BASE,
                               "mem_per_entry": MEM_PER_ENTRY, "mem_per_byte": MEM_PER_BYTE})
    for t in targets:
        if t not in TARGETS:
            raise ValueError(f"unknown fuzz target {t!r}; targets: {', '.join(TARGETS)}")
    if kernels not in ("numpy", "compiled"):
        raise ValueError(f"kernels must be 'numpy' or 'compiled', got {kernels!r}")
    pools = _Pools(seed, kernels)
    use_alarm = hard_timeout > 0 and hasattr(signal, "setitimer")
    old_handler = None
    try:
        if use_alarm:
            old_handler = signal.signal(signal.SIGALRM, _on_alarm)
            if old_handler is None:  # installed outside Python: put the default back after
                old_handler = signal.SIG_DFL
    except ValueError:  # not the main thread: no hard guard, the slow check still applies
        use_alarm = False
    old_timer = signal.getitimer(signal.ITIMER_REAL) if use_alarm else (0.0, 0.0)
    if use_alarm:
        signal.setitimer(signal.ITIMER_REAL, 0)
    started_tm = False
    if memory and not tracemalloc.is_tracing():
        tracemalloc.start()
        started_tm = True
    t_start = time.perf_counter()
    _warm_up(pools, seed, targets)
    try:
        for ti, target in enumerate(targets):
            m = Mutator(seed * 1000 + ti)
            outcomes, reasons = Counter(), Counter()
            by_gen: dict[str, Counter] = {}
            slowest = {"seconds": 0.0}
            maxmem = {"ratio": 0.0}
            t_tgt = time.perf_counter()
            for i in range(count):
                gen, msg, s, d_ok, call, check, ref = _case(target, m, pools, max_entries)
                family = gen.split(":")[0]
                allowance = MEM_BASE + MEM_PER_ENTRY * d_ok + MEM_PER_BYTE * len(msg)
                outcome, detail, out = None, "", None
                if memory:
                    base = tracemalloc.get_traced_memory()[0]
                    tracemalloc.reset_peak()
                t0 = time.perf_counter()
                if use_alarm:
                    signal.setitimer(signal.ITIMER_REAL, hard_timeout)
                try:
                    out = call()
                    outcome = "accepted"
                except DecodeError as exc:
                    if _is_safety_net(exc):
                        outcome, detail = "safety_net", f"{exc!r} <- {exc.__cause__!r}"
                    else:
                        outcome = "rejected"
                        reasons[_reason(exc)] += 1
                except _Timeout:
                    outcome, detail = "timeout", f"still running after {hard_timeout} s"
                except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
                    outcome, detail = "exception", f"{type(exc).__name__}: {exc}"
                finally:
                    if use_alarm:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                dt = time.perf_counter() - t0
                peak = tracemalloc.get_traced_memory()[1] - base if memory else 0
                if outcome == "accepted":
                    try:
                        bad = check(out)
                    except Exception as exc:  # noqa: BLE001 - e.g. the round trip failing
                        bad = f"checking the result raised {type(exc).__name__}: {exc}"
                    if bad:
                        outcome, detail = "bad_output", bad
                if ref is not None and outcome in ("accepted", "rejected"):
                    bad = _agree(ref, outcome == "accepted", out)
                    if bad:
                        outcome, detail = "bad_output", bad
                out = None
                kinds = [outcome] if outcome in VIOLATIONS else []
                if dt > slow and outcome != "timeout":
                    kinds.append("slow")
                    detail += f" took {dt:.3f} s"
                if memory and peak > allowance:
                    kinds.append("memory")
                    detail += f" allocated {peak:,} B > allowance {allowance:,} B"
                # slow and memory are counted on top of the outcome (accepted or rejected)
                gen_counts = by_gen.setdefault(family, Counter())
                for k in dict.fromkeys([outcome, *kinds]):
                    outcomes[k] += 1
                    gen_counts[k] += 1
                if dt > slowest["seconds"]:
                    slowest = {"seconds": dt, "generator": gen, "bytes": len(msg),
                               "outcome": outcome}
                if memory and allowance and peak / allowance > maxmem["ratio"]:
                    maxmem = {"ratio": peak / allowance, "bytes": int(peak),
                              "allowance": allowance, "generator": gen, "message_bytes": len(msg),
                              "d_permitted": d_ok}
                if kinds:
                    v = {"target": target, "kinds": kinds, "generator": gen, "index": i,
                         "seed_label": s.label, "detail": detail.strip(), "bytes": len(msg)}
                    if len(rep.violations) < keep_violations:
                        v["hex"] = msg[:4096].hex()
                    rep.violations.append(v)
                if progress and (i + 1) % 20000 == 0:
                    progress(f"  {target}: {i + 1:,}/{count:,} "
                             f"({time.perf_counter() - t_tgt:.0f} s, "
                             f"{sum(outcomes[k] for k in VIOLATIONS)} violations)")
            rep.count[target] = count
            rep.outcomes[target] = outcomes
            rep.by_generator[target] = by_gen
            rep.reasons[target] = reasons
            rep.slowest[target] = slowest
            rep.max_memory[target] = maxmem
    finally:
        if started_tm:
            tracemalloc.stop()
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
            if old_timer[0] > 0:
                elapsed = time.perf_counter() - t_start
                signal.setitimer(signal.ITIMER_REAL, max(old_timer[0] - elapsed, 1e-3),
                                 old_timer[1])
    rep.seconds = time.perf_counter() - t_start
    return rep



def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gossip bench fuzz", description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=100_000, help="messages per decoder (default 100000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", choices=TARGETS, action="append",
                   help="decoder to fuzz (repeatable; default all)")
    p.add_argument("--slow", type=float, default=1.0,
                   help="a decode slower than this many seconds is a violation (default 1)")
    p.add_argument("--hard-timeout", type=float, default=10.0,
                   help="interrupt a decode after this many seconds (SIGALRM; 0 = never)")
    p.add_argument("--max-entries", type=int, default=DEFAULT_MAX_ENTRIES,
                   help="max_entries for vsc.decode calls without an expected size")
    p.add_argument("--no-memory", action="store_true", help="skip the tracemalloc check (faster)")
    p.add_argument("--kernels", choices=("numpy", "compiled"), default="numpy",
                   help="VSC decoder of the vsc and qframe targets: the numpy reference "
                        "(default) or the compiled one, checked against the reference")
    p.add_argument("--out", default=None, help="write report.json here (and the violations)")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error(f"--count {args.count}: fuzz at least 1 message per decoder")
    if args.slow <= 0 or args.hard_timeout < 0 or args.max_entries < 1:
        parser.error("--slow must be > 0, --hard-timeout >= 0 (0 = never) and --max-entries >= 1")
    targets = tuple(dict.fromkeys(args.target)) if args.target else TARGETS
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    log(f"fuzzing {', '.join(targets)}: {args.count:,} messages each, seed {args.seed}, "
        f"{args.kernels} VSC decoder")
    rep = fuzz(args.count, seed=args.seed, targets=targets, slow=args.slow,
               hard_timeout=args.hard_timeout, max_entries=args.max_entries,
               memory=not args.no_memory, progress=log, kernels=args.kernels)
    print(format_report(rep), flush=True)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(rep.to_json(), indent=2, default=str) + "\n")
        print(f"wrote {out / 'report.json'}")
    return 1 if rep.n_violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
