"""Codec benchmark (issue 5): VSC against the entropy bound, general-purpose compressors and a
near-optimal entropy coder, on symbols from real training runs and on synthetic symbols.

``python -m gossip.bench_codec [--out DIR] [--rounds R] [--large] ...`` prints one Markdown
table per input and the targets of issue 5 with PASS/MISS, and writes ``results.json`` and
``codec_bench.png`` into ``--out`` (default ``runs/bench-codec-<timestamp>``).

Rows (codecs) per input, all lossless except the two analytic rows:

* ``vsc``: :func:`gossip.codecs.vsc.encode` / ``decode``; bits are the whole message (13-ish
  header bytes with the CRC32 included, padding included).
* ``entropy bound``: d·Ĥ of the empirical histogram plus the symbol-table cost (VSC's own
  Elias-γ table: K, the symbols, the counts but the first).  Not a codec: bits only.
* ``closed form``: :func:`gossip.codecs.vsc.expected_bits` (ALGORITHMS.md §2.5; header included,
  padding not).  Bits only.
* ``zstd-3``, ``zstd-19``: python-zstandard, one thread, on the int8 (or int16) symbol bytes;
  the frame header is included.
* ``lzma``: LZMA2 preset 6 as a raw stream (no .xz container, which would add ~60 bytes).
* ``raw bitpack``: fixed width ⌈log2(2s+1)⌉ bits per entry, s = max |z| (the quantizer's level
  count for training inputs); no header.
* ``ans``: constriction's ANS coder (``constriction.stream.stack.AnsCoder``) with a categorical
  model of the empirical histogram; its bits are the compressed 32-bit words **plus** the same
  symbol-table cost as the bound (the receiver needs the model).

Measured per lossless codec: bits per entry, bytes, encode and decode throughput (million
entries per second, best of a few repeats, one thread, garbage collector off while timed), and
the peak extra memory of one encode and one decode: ``tracemalloc`` peak (allocations made
through Python and numpy; C libraries' internal buffers, e.g. zstd's window, are invisible to
it) and, where the platform allows, the growth of the resident set measured in a forked child
(``/proc/self/clear_refs`` + ``VmHWM``), which does see those buffers.
"""

from __future__ import annotations

import argparse
import gc
import json
import lzma
import math
import os
import platform
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .codecs import vsc

#: Issue-5 targets.
TARGET_BOUND_RATIO = 1.05  # VSC bits / (d·Ĥ + table) for d >= 10**5
TARGET_BOUND_MIN_D = 10**5
TARGET_TIME_RATIO = 2.0  # (VSC encode + decode) / (zstd-3 encode + decode)
TARGET_CLOSED_FORM = 0.02  # |closed form - measured| / measured
T_BOUND = "vsc <= 1.05 x (d·Ĥ + table), d >= 1e5"
T_RIVALS = "vsc < zstd-19 and lzma where the bound allows"
T_TIME = "vsc encode+decode <= 2 x zstd-3's"
T_CLOSED = "closed form within 2% of measured vsc"
TARGET_NAMES = (T_BOUND, T_RIVALS, T_TIME, T_CLOSED)

DEFAULT_SIZES = (10**4, 10**5, 10**6)
LARGE_SIZE = 10**7
DEFAULT_FRACTIONS = (0.001, 0.01, 0.1, 0.5)
#: Malcom-PSGD variants dumped from real runs: (label, algorithm overrides).
TRAINING_VARIANTS = (
    ("malcom default (l2+tau, s=4)", {}),
    ("malcom --norm inf --levels 2", {"norm": "inf", "tau_scaling": False, "levels": 2,
                                      "gamma": 0.3}),
    ("choco QSGD-16 (gamma 0.34)", {"name": "choco"}),
)

BOUND, CLOSED = "entropy bound", "closed form"
CODEC_ORDER = ("vsc", BOUND, CLOSED, "zstd-3", "zstd-19", "lzma", "raw bitpack", "ans")

MiB = 1024.0 * 1024.0
#: Rows that need a package from the ``bench`` extra (``pip install -e ".[bench]"``).
OPTIONAL_ROWS = {"zstd-3": "zstandard", "zstd-19": "zstandard", "ans": "constriction"}


def _importable(module: str) -> bool:
    import importlib.util

    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def available_codecs() -> list[str]:
    """The rows this installation can produce, in table order (the ``bench`` extra adds
    zstd and ans; the PNG needs matplotlib)."""
    return [n for n in CODEC_ORDER if n not in OPTIONAL_ROWS or _importable(OPTIONAL_ROWS[n])]


# ------------------------------------------------------------------------------- inputs


@dataclass
class BenchInput:
    name: str
    z: np.ndarray  # int8 / int16 symbols
    levels: int  # s: symbols lie in -s..s
    kind: str  # "training" or "synthetic"
    meta: dict = field(default_factory=dict)

    @property
    def d(self) -> int:
        return int(self.z.size)


def geometric_symbols(d: int, nonzero: float, *, theta: float = 0.5, seed: int = 0) -> np.ndarray:
    """Two-sided geometric (Laplace-like) i.i.d. symbols: 0 with probability 1 − ``nonzero``,
    else ±m with a fair sign and P(m) = (1 − θ)·θ^(m−1), m ≥ 1, clipped to 127 (int8)."""
    rng = np.random.default_rng([seed, d, int(round(nonzero * 1e6))])
    z = np.zeros(d, dtype=np.int8)
    hit = np.flatnonzero(rng.random(d) < nonzero)
    mag = np.minimum(rng.geometric(1.0 - theta, hit.size), 127).astype(np.int8)
    z[hit] = np.where(rng.random(hit.size) < 0.5, -mag, mag)
    return z


def synthetic_inputs(sizes, fractions, *, theta: float = 0.5, seed: int = 0) -> list[BenchInput]:
    out = []
    for d in sizes:
        for f in fractions:
            z = geometric_symbols(int(d), float(f), theta=theta, seed=seed)
            out.append(BenchInput(f"synthetic d={int(d):.0e} nz={f:g}", z,
                                  int(np.abs(z.astype(np.int16)).max(initial=0)), "synthetic",
                                  {"d": int(d), "nonzero_target": float(f), "theta": theta,
                                   "seed": seed}))
    return out


def training_inputs(rounds: int = 200, hidden: int = 2000, ranks: int = 4, seed: int = 0,
                    early: int = 1, variants=TRAINING_VARIANTS, log=print) -> list[BenchInput]:
    """Run each quantizing variant (Malcom-PSGD, CHOCO-SGD with QSGD) in-process on digits and
    dump the symbols rank 0 sent in round
    ``early`` and in the last round, for each variant.

    The symbols are captured by wrapping ``run.algorithm.compose`` (the message bytes it
    returns are decoded with :mod:`gossip.codecs.qframe`), so the training is untouched."""
    import torch

    from . import config, train
    from .codecs import qframe
    from .comm import InProcessCommunicator

    threads = torch.get_num_threads()
    out = []
    try:
        for label, algo in variants:
            ov: dict[str, dict[str, Any]] = {
                "model": {"hidden": hidden},
                "train": {"rounds": rounds, "comm": "inprocess", "ranks": ranks,
                          "progress": False, "seed": seed}}
            if algo:
                ov["algorithm"] = dict(algo)
            cfg = config.load(None, ov)
            topo = train.build_topology(cfg, ranks)
            comm = InProcessCommunicator(list(topo.neighbours))
            with tempfile.TemporaryDirectory() as tmp:
                run = train.Run(cfg, comm, topo, Path(tmp))
                captured: dict[int, bytes] = {}
                inner = run.algorithm.compose

                def compose(state, x, grad, _inner=inner, _cap=captured):
                    msg, info = _inner(state, x, grad)
                    _cap[state.rank] = bytes(msg)
                    return msg, info

                run.algorithm.compose = compose
                want = sorted({min(early, rounds), rounds})
                t0 = time.perf_counter()
                for t in range(1, rounds + 1):
                    captured.clear()
                    run.round(t)
                    if t in want:
                        msg = captured[0]
                        q = qframe.decode(msg, levels=cfg.algorithm.levels,
                                          block_sizes=run.block_sizes)
                        z = np.asarray(q.symbols)
                        phase = "early" if t == want[0] and t != rounds else "late"
                        out.append(BenchInput(
                            f"{label}, round {t} ({phase})", z, cfg.algorithm.levels, "training",
                            {"variant": label, "algorithm_overrides": algo, "round": t,
                             "rounds": rounds, "phase": phase, "rank": 0, "hidden": hidden,
                             "ranks": ranks, "seed": seed, "d": int(z.size),
                             "block_sizes": [int(b) for b in run.block_sizes],
                             "qframe_message_bytes": len(msg),
                             "mean_loss": float(np.mean([w.loss for w in run.workers]))}))
                log(f"  trained {label}: {rounds} rounds, d={run.d:,}, "
                    f"{time.perf_counter() - t0:.1f} s")
    finally:
        torch.set_num_threads(threads)
    return out


# ------------------------------------------------------------------------------- codecs


def _gamma_len(m: int) -> int:
    return 2 * (int(m).bit_length() - 1) + 1


def _zigzag(a: int) -> int:
    return 2 * a if a >= 0 else -2 * a - 1


def histogram(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct symbols sorted by count descending, ties by value, and their counts."""
    vals, cnts = np.unique(z.astype(np.int64), return_counts=True)
    order = np.lexsort((vals, -cnts))
    return vals[order], cnts[order].astype(np.int64)


def table_bits(z: np.ndarray) -> int:
    """Bits of VSC's symbol table: γ(K+1), γ(zigzag(a_k)+1) for every k, γ(n_k) for k ≥ 2."""
    vals, cnts = histogram(z)
    bits = _gamma_len(vals.size + 1)
    bits += sum(_gamma_len(_zigzag(int(a)) + 1) for a in vals)
    bits += sum(_gamma_len(int(n)) for n in cnts[1:])
    return bits


@dataclass
class Codec:
    name: str
    encode: Callable[[np.ndarray], Any]
    decode: Callable[[Any], np.ndarray]
    nbits: Callable[[Any], int]
    note: str = ""


def _bytes_codec(name, comp, decomp, note, dtype) -> Codec:
    def enc(z):
        return comp(np.ascontiguousarray(z, dtype=dtype).tobytes())

    def dec(blob):
        return np.frombuffer(decomp(blob), dtype=dtype)

    return Codec(name, enc, dec, lambda b: 8 * len(b), note)


def make_codecs(inp: BenchInput, *, with_ans: bool = True) -> list[Codec]:
    """The lossless codecs of the table, set up for one input (dtype, level count)."""
    z = inp.z
    d = z.size
    dtype = np.int8 if inp.levels <= 127 else np.int16
    codecs = [Codec("vsc", vsc.encode, lambda b: vsc.decode(b, expected_size=d),
                    lambda b: 8 * len(b), "whole message: header, CRC32, padding")]
    try:
        import zstandard
    except ImportError:  # pragma: no cover - the bench extra installs it
        zstandard = None
    if zstandard is not None:
        for level in (3, 19):
            cctx = zstandard.ZstdCompressor(level=level, threads=0)
            dctx = zstandard.ZstdDecompressor()
            codecs.append(_bytes_codec(f"zstd-{level}", cctx.compress, dctx.decompress,
                                       f"python-zstandard {zstandard.__version__}, level {level}, "
                                       f"frame header included, {np.dtype(dtype).name} input",
                                       dtype))
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 6}]
    codecs.append(_bytes_codec(
        "lzma", lambda b: lzma.compress(b, format=lzma.FORMAT_RAW, filters=filters),
        lambda b: lzma.decompress(b, format=lzma.FORMAT_RAW, filters=filters),
        f"LZMA2 preset 6, raw stream (no container), {np.dtype(dtype).name} input", dtype))
    codecs.append(_raw_bitpack(inp.levels, d))
    if with_ans:
        ans = _ans_codec(z, d)
        if ans is not None:
            codecs.append(ans)
    return codecs


def _raw_bitpack(s: int, d: int) -> Codec:
    w = max(1, math.ceil(math.log2(2 * s + 1)))
    if w > 16:
        raise ValueError(f"raw bitpack supports |z| <= 32767, got s={s}")
    if w <= 8:
        def enc(z):
            u = (z.astype(np.int16) + s).astype(np.uint8)
            return np.packbits(np.unpackbits(u[:, None], axis=1)[:, 8 - w:]).tobytes()

        def dec(blob):
            bits = np.unpackbits(np.frombuffer(blob, np.uint8), count=d * w).reshape(d, w)
            full = np.zeros((d, 8), np.uint8)
            full[:, 8 - w:] = bits
            return np.packbits(full, axis=1).reshape(-1).astype(np.int16) - s
    else:
        def enc(z):
            u = (z.astype(np.int32) + s).astype(">u2")
            bits = np.unpackbits(u.view(np.uint8).reshape(-1, 2), axis=1)[:, 16 - w:]
            return np.packbits(bits).tobytes()

        def dec(blob):
            bits = np.unpackbits(np.frombuffer(blob, np.uint8), count=d * w).reshape(d, w)
            full = np.zeros((d, 16), np.uint8)
            full[:, 16 - w:] = bits
            return np.packbits(full, axis=1).view(">u2").reshape(-1).astype(np.int32) - s
    return Codec("raw bitpack", enc, dec, lambda b: d * w,
                 f"fixed width {w} bits = ceil(log2(2s+1)), s={s}; no header")


def _ans_codec(z: np.ndarray, d: int) -> Codec | None:
    try:
        import constriction
    except ImportError:  # pragma: no cover - the bench extra installs it
        return None
    tbits = table_bits(z)

    def model_from(counts: np.ndarray):
        return constriction.stream.model.Categorical(counts.astype(np.float64), perfect=False)

    def enc(z):
        z32 = z.astype(np.int32)
        lo = int(z32.min())
        counts = np.bincount(z32 - lo)
        coder = constriction.stream.stack.AnsCoder()
        coder.encode_reverse((z32 - lo).astype(np.int32), model_from(counts))
        return lo, counts, coder.get_compressed()

    def dec(blob):
        lo, counts, words = blob  # the receiver rebuilds the model from the sent table
        coder = constriction.stream.stack.AnsCoder(words)
        return coder.decode(model_from(counts), d) + lo

    return Codec("ans", enc, dec, lambda b: 32 * b[2].size + tbits,
                 "constriction AnsCoder, categorical model of the empirical histogram; "
                 "bits = 32-bit words + the symbol-table cost (model included)")


# ------------------------------------------------------------------------------ measuring


def _best_time(fn, arg, repeats: int) -> tuple[float, Any]:
    """Best wall time of ``repeats`` calls (the caller keeps the garbage collector off)."""
    out = None
    best = math.inf
    for _ in range(repeats):
        out = None
        t0 = time.perf_counter()
        out = fn(arg)
        best = min(best, time.perf_counter() - t0)
    return best, out


def _repeats_for(seconds: float, max_repeats: int) -> int:
    """Further timed calls after a first one that took ``seconds``."""
    if seconds < 0.1:
        return max(0, max_repeats - 1)
    if seconds < 0.3:
        return max(0, min(2, max_repeats - 1))
    if seconds < 1.0:
        return max(0, min(1, max_repeats - 1))
    return 0


def _tracemalloc_peak(fn, arg) -> int:
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = fn(arg)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del out
    return max(0, peak - base)


def _proc_status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _rss_supported() -> bool:
    if not hasattr(os, "fork") or not os.path.exists("/proc/self/clear_refs"):
        return False
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        _proc_status("VmHWM")
        return True
    except OSError:
        return False


def _rss_measure_all(jobs: list[tuple[str, Callable, Any]]) -> dict[str, int | None]:
    """Peak resident-set growth of each ``fn(arg)`` in ``jobs``, in one forked child:
    malloc_trim, reset VmHWM, run, VmHWM − VmRSS before."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        res: dict[str, int | None] = {}
        try:
            import ctypes

            try:
                trim = ctypes.CDLL("libc.so.6").malloc_trim
            except OSError:
                trim = None
            for key, fn, arg in jobs:
                if trim is not None:
                    trim(0)
                with open("/proc/self/clear_refs", "w") as f:
                    f.write("5")
                base = _proc_status("VmRSS")
                out = fn(arg)
                res[key] = max(0, _proc_status("VmHWM") - base)
                del out
            payload = json.dumps(res).encode()
        except BaseException as exc:  # noqa: BLE001 - report and leave the child
            payload = json.dumps({"__error__": repr(exc)}).encode()
        try:
            os.write(w, payload)
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 1 << 16)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    os.waitpid(pid, 0)
    try:
        res = json.loads(b"".join(chunks) or b"{}")
    except ValueError:
        res = {}
    if "__error__" in res:
        return {key: None for key, _, _ in jobs}
    return {key: res.get(key) for key, _, _ in jobs}


def bench_input(inp: BenchInput, *, max_repeats: int = 5, memory: bool = True,
                rss: bool | None = None, with_ans: bool = True) -> dict:
    """Every codec row for one input (a dict, JSON-ready).  Raises AssertionError if a
    codec fails to reproduce the symbols."""
    # One collection up front, then none while measuring: a full collection costs ~0.1 s
    # once torch is imported, far more than most of the calls timed here.
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _bench_input(inp, max_repeats=max_repeats, memory=memory, rss=rss,
                            with_ans=with_ans)
    finally:
        if was_enabled:
            gc.enable()


def _bench_input(inp: BenchInput, *, max_repeats: int, memory: bool, rss: bool | None,
                 with_ans: bool) -> dict:
    z = inp.z
    d = inp.d
    H_bits = vsc.entropy_bits(z)
    tbits = table_bits(z)
    bound = H_bits + tbits
    vals, cnts = histogram(z)
    rows: dict[str, dict] = {}
    rows[BOUND] = {"bits": bound, "entropy_bits": H_bits, "table_bits": tbits,
                   "note": "d·Ĥ + symbol table (VSC's Elias-γ table); not a codec"}
    rows[CLOSED] = {"bits": vsc.expected_bits(z),
                    "note": "ALGORITHMS.md §2.5 closed form, header included, padding not"}
    codecs = make_codecs(inp, with_ans=with_ans)
    blobs = {}
    for c in codecs:
        t_enc, blob = _best_time(c.encode, z, 1)
        more = _repeats_for(t_enc, max_repeats)
        if more:
            t_enc = min(t_enc, _best_time(c.encode, z, more)[0])
        reps = 1 + more
        t_dec, back = _best_time(c.decode, blob, 1)
        more = _repeats_for(t_dec, max_repeats)
        if more:
            t_dec = min(t_dec, _best_time(c.decode, blob, more)[0])
        back = np.asarray(back).reshape(-1)
        lossless = back.size == d and bool(np.array_equal(back.astype(np.int64), z.astype(np.int64)))
        if not lossless:
            raise AssertionError(f"{c.name} did not reproduce the symbols of {inp.name}")
        nbits = int(c.nbits(blob))
        rows[c.name] = {"bits": float(nbits), "bytes": math.ceil(nbits / 8),
                        "encode_s": t_enc, "decode_s": t_dec, "encode_repeats": reps,
                        "encode_Meps": d / t_enc / 1e6 if t_enc > 0 else None,
                        "decode_Meps": d / t_dec / 1e6 if t_dec > 0 else None,
                        "lossless": lossless, "note": c.note}
        if c.name == "vsc":
            info = vsc.message_info(blob)
            rows[c.name].update(payload_bits=info["nbits"], header_bytes=info["header_bytes"],
                                kind=info["kind_name"])
        blobs[c.name] = blob
    if memory:
        for c in codecs:
            rows[c.name]["tracemalloc_encode_bytes"] = _tracemalloc_peak(c.encode, z)
            rows[c.name]["tracemalloc_decode_bytes"] = _tracemalloc_peak(c.decode, blobs[c.name])
        if rss is None:
            rss = _rss_supported()
        if rss:
            jobs = []
            for c in codecs:
                jobs.append((f"{c.name}|enc", c.encode, z))
                jobs.append((f"{c.name}|dec", c.decode, blobs[c.name]))
            got = _rss_measure_all(jobs)
            for c in codecs:
                rows[c.name]["rss_encode_bytes"] = got.get(f"{c.name}|enc")
                rows[c.name]["rss_decode_bytes"] = got.get(f"{c.name}|dec")
    for name, row in rows.items():
        row["codec"] = name
        row["bits_per_entry"] = row["bits"] / d if d else 0.0
        row["vs_bound"] = row["bits"] / bound if bound > 0 else None
    ordered = [rows[n] for n in CODEC_ORDER if n in rows]
    return {"name": inp.name, "kind": inp.kind, "d": d, "levels": inp.levels,
            "dtype": str(z.dtype), "nonzero_fraction": float(np.count_nonzero(z)) / d if d else 0.0,
            "distinct_symbols": int(vals.size), "entropy_bits_per_entry": H_bits / d if d else 0.0,
            "histogram": {str(int(v)): int(n) for v, n in zip(vals, cnts)},
            "meta": inp.meta, "rows": ordered}


# ------------------------------------------------------------------------------- targets


def _row(res: dict, name: str) -> dict | None:
    return next((r for r in res["rows"] if r["codec"] == name), None)


def _verdict(value: float, target: float) -> tuple[str, str]:
    """PASS when ``value <= target``; a MISS says by how much (percent, or a factor when the
    value is more than twice the limit)."""
    if value <= target:
        return "PASS", ""
    over = value / target
    return "MISS", (f"missed by {(over - 1) * 100:.1f}%" if over < 2
                    else f"missed by a factor {over:.1f} over the limit")


def evaluate_targets(results: list[dict]) -> list[dict]:
    """One record per (target, input): target, input, value, limit, verdict, detail."""
    out = []
    for res in results:
        vrow, brow, crow = _row(res, "vsc"), _row(res, BOUND), _row(res, CLOSED)
        z3, z19, lz = _row(res, "zstd-3"), _row(res, "zstd-19"), _row(res, "lzma")
        if vrow is None or brow is None:
            continue
        if res["d"] >= TARGET_BOUND_MIN_D:
            ratio = vrow["bits"] / brow["bits"]
            payload = vrow["payload_bits"] / brow["bits"]
            v, how = _verdict(ratio, TARGET_BOUND_RATIO)
            out.append({"target": T_BOUND, "input": res["name"],
                        "value": ratio, "limit": TARGET_BOUND_RATIO, "verdict": v,
                        "detail": f"{ratio:.4f}x bound {how}".strip()
                        + f"; payload alone {payload:.4f}x; header {vrow['header_bytes']} B"})
        if z19 is not None:
            rivals = [r for r in (z19, lz) if r is not None]
            best_rival = min(r["bits"] for r in rivals)
            vz, bz = vrow["bits"] / z19["bits"], brow["bits"] / z19["bits"]
            lz_txt = f", vsc/lzma {vrow['bits'] / lz['bits']:.3f}" if lz else ""
            if brow["bits"] < best_rival:
                v = "PASS" if vrow["bits"] < best_rival else "MISS"
                how = "" if v == "PASS" else f" by {(vrow['bits'] / best_rival - 1) * 100:.1f}%"
            else:
                v, how = "n/a", " (the bound itself is not below zstd-19/lzma)"
            out.append({"target": T_RIVALS,
                        "input": res["name"], "value": vz, "limit": bz, "verdict": v,
                        "detail": f"vsc/zstd-19 {vz:.3f} vs bound/zstd-19 {bz:.3f}{lz_txt}{how}"})
        if z3 is not None:
            tv = vrow["encode_s"] + vrow["decode_s"]
            tz = z3["encode_s"] + z3["decode_s"]
            ratio = tv / tz
            v, how = _verdict(ratio, TARGET_TIME_RATIO)
            out.append({"target": T_TIME, "input": res["name"],
                        "value": ratio, "limit": TARGET_TIME_RATIO, "verdict": v,
                        "detail": f"{tv * 1e3:.2f} ms vs zstd-3 {tz * 1e3:.2f} ms = {ratio:.1f}x "
                                  f"{how}".strip()})
        if crow is not None:
            err = abs(crow["bits"] - vrow["bits"]) / vrow["bits"]
            v, how = _verdict(err, TARGET_CLOSED_FORM)
            out.append({"target": T_CLOSED, "input": res["name"],
                        "value": err, "limit": TARGET_CLOSED_FORM, "verdict": v,
                        "detail": f"closed {crow['bits']:.0f} vs measured {vrow['bits']:.0f} bits "
                                  f"({(crow['bits'] / vrow['bits'] - 1) * 100:+.2f}%) {how}".strip()})
    return out


# ------------------------------------------------------------------------------- output


def _fmt(x, spec: str, none: str = "") -> str:
    return none if x is None else format(x, spec)


def _mib(x) -> str:
    return "" if x is None else f"{x / MiB:.2f}"


def markdown_table(res: dict) -> str:
    """One input's table (Markdown)."""
    head = (f"### {res['name']}\n\nd = {res['d']:,}, dtype {res['dtype']}, s = {res['levels']}, "
            f"nonzero {res['nonzero_fraction']:.4%}, K = {res['distinct_symbols']}, "
            f"Ĥ = {res['entropy_bits_per_entry']:.4f} bits/entry\n\n")
    cols = ("codec", "bits/entry", "bytes", "x bound", "enc Me/s", "dec Me/s", "enc+dec ms",
            "tm enc MiB", "tm dec MiB", "rss enc MiB", "rss dec MiB")
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(["---"] + ["---:"] * (len(cols) - 1)) + "|"]
    for r in res["rows"]:
        timed = "encode_s" in r
        cells = [
            r["codec"], f"{r['bits_per_entry']:.4f}",
            f"{r['bytes']:,}" if "bytes" in r else f"({r['bits'] / 8:,.0f})",
            _fmt(r["vs_bound"], ".4f"),
            _fmt(r.get("encode_Meps"), ".1f"), _fmt(r.get("decode_Meps"), ".1f"),
            f"{(r['encode_s'] + r['decode_s']) * 1e3:.2f}" if timed else "",
            _mib(r.get("tracemalloc_encode_bytes")), _mib(r.get("tracemalloc_decode_bytes")),
            _mib(r.get("rss_encode_bytes")), _mib(r.get("rss_decode_bytes")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def targets_text(targets: list[dict]) -> str:
    lines = ["## Targets (issue 5)", ""]
    for name in TARGET_NAMES:
        group = [t for t in targets if t["target"] == name]
        n_pass = sum(t["verdict"] == "PASS" for t in group)
        n_miss = sum(t["verdict"] == "MISS" for t in group)
        lines.append(f"**{name}**: {n_pass} PASS, {n_miss} MISS"
                     + (f", {len(group) - n_pass - n_miss} n/a" if len(group) > n_pass + n_miss else ""))
        for t in group:
            lines.append(f"- {t['verdict']:4s} {t['input']}: {t['detail']}")
        lines.append("")
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    synth = [r for r in results if r["kind"] == "synthetic"]
    sizes = sorted({r["d"] for r in synth})
    d_plot = max(sizes) if sizes else None
    markers = dict(zip(CODEC_ORDER, "os^v<>Dx"))
    if d_plot:
        pts = sorted((r for r in synth if r["d"] == d_plot), key=lambda r: r["nonzero_fraction"])
        for name in CODEC_ORDER:
            if name == "raw bitpack":  # 2-300x the bound: it would flatten everything else
                continue
            xs, ys = [], []
            for r in pts:
                row = _row(r, name)
                if row is not None and row["vs_bound"] is not None:
                    xs.append(r["nonzero_fraction"])
                    ys.append(row["vs_bound"])
            if xs:
                ax1.plot(xs, ys, marker=markers.get(name, "o"), label=name)
        ax1.set_xscale("log")
        ax1.axhline(TARGET_BOUND_RATIO, color="grey", ls=":", lw=1)
        ax1.set_xlabel("nonzero fraction   (dotted: the 1.05x target; raw bitpack, far above, "
                       "not drawn)", fontsize=9)
        ax1.set_ylabel("bits / (d·Ĥ + table)")
        ax1.set_title(f"rate vs the entropy bound, synthetic i.i.d., d = {d_plot:.0e}")
        ax1.legend(fontsize=8)
    real = [r for r in results if r["kind"] == "training"]
    pick = next((r for r in real if r["meta"].get("phase") == "late"), None) or (
        real[0] if real else (synth[-1] if synth else None))
    if pick is not None:
        timed = [r for r in pick["rows"] if "encode_Meps" in r]
        x = np.arange(len(timed))
        ax2.bar(x - 0.2, [r["encode_Meps"] for r in timed], 0.4, label="encode")
        ax2.bar(x + 0.2, [r["decode_Meps"] for r in timed], 0.4, label="decode")
        ax2.set_yscale("log")
        ax2.set_xticks(x, [f"{r['codec']}\n{r['bits_per_entry']:.3f} b/e" for r in timed],
                       fontsize=8)
        ax2.set_ylabel("million entries / s (one thread)")
        ax2.set_title(pick["name"], fontsize=9)
        ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _versions() -> dict:
    v = {"python": platform.python_version(), "numpy": np.__version__,
         "platform": platform.platform(), "cpu_count": os.cpu_count()}
    for mod in ("zstandard", "constriction", "matplotlib"):
        try:
            m = __import__(mod)
            v[mod] = getattr(m, "__version__", "?")
        except ImportError:
            v[mod] = None
    return v


# ------------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gossip bench codec", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=None,
                   help="output directory (default runs/bench-codec-<timestamp>)")
    p.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES),
                   help="synthetic vector sizes d (default 1e4 1e5 1e6)")
    p.add_argument("--large", action="store_true", help="also run synthetic d = 1e7")
    p.add_argument("--fractions", type=float, nargs="+", default=list(DEFAULT_FRACTIONS),
                   help="synthetic nonzero fractions (default 0.001 0.01 0.1 0.5)")
    p.add_argument("--theta", type=float, default=0.5,
                   help="synthetic magnitude ratio P(m+1)/P(m) of the two-sided geometric")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=200,
                   help="Malcom-PSGD rounds per training variant (late input = last round)")
    p.add_argument("--early", type=int, default=1, help="the early round to dump")
    p.add_argument("--hidden", type=int, default=2000,
                   help="MLP hidden width for the training inputs (2000: d = 150,010)")
    p.add_argument("--no-train", action="store_true", help="skip the training-run inputs")
    p.add_argument("--no-synthetic", action="store_true", help="skip the synthetic inputs")
    p.add_argument("--repeats", type=int, default=5, help="most timing repeats (best is kept)")
    p.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    return p


def run_bench(args: argparse.Namespace, log=print) -> dict:
    """Collect inputs, measure every codec, evaluate the targets; returns the JSON report."""
    inputs: list[BenchInput] = []
    t0 = time.perf_counter()
    if not args.no_train:
        log(f"dumping symbols from Malcom-PSGD runs ({args.rounds} rounds, hidden {args.hidden})")
        inputs += training_inputs(rounds=args.rounds, hidden=args.hidden, seed=args.seed,
                                  early=args.early, log=log)
    if not args.no_synthetic:
        sizes = list(args.sizes) + ([LARGE_SIZE] if args.large and LARGE_SIZE not in args.sizes
                                    else [])
        inputs += synthetic_inputs(sizes, args.fractions, theta=args.theta, seed=args.seed)
    results = []
    for inp in inputs:
        t1 = time.perf_counter()
        results.append(bench_input(inp, max_repeats=args.repeats, memory=not args.no_memory))
        log(f"  benched {inp.name} ({time.perf_counter() - t1:.1f} s)")
    targets = evaluate_targets(results)
    return {"args": {k: v for k, v in vars(args).items()}, "versions": _versions(),
            "targets_spec": {"bound_ratio": TARGET_BOUND_RATIO, "bound_min_d": TARGET_BOUND_MIN_D,
                             "time_ratio_vs_zstd3": TARGET_TIME_RATIO,
                             "closed_form_rel_err": TARGET_CLOSED_FORM},
            "inputs": results, "targets": targets, "wall_seconds": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out or Path("runs") / f"bench-codec-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    report = run_bench(args, log=log)
    for res in report["inputs"]:
        print(markdown_table(res), flush=True)
    print(targets_text(report["targets"]), flush=True)
    (out / "results.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    wrote = [out / "results.json"]
    if not args.no_plot:
        if _importable("matplotlib"):
            plot(report["inputs"], out / "codec_bench.png")
            wrote.append(out / "codec_bench.png")
        else:
            print("no PNG: matplotlib is missing (pip install -e '.[bench]')")
    missing = [n for n in CODEC_ORDER if n not in available_codecs()]
    if missing:
        print(f"rows left out, their package is missing: {', '.join(missing)} "
              f"(pip install -e '.[bench]')")
    print(f"wrote {' and '.join(map(str, wrote))} ({report['wall_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
