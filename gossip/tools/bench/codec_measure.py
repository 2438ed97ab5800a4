"""Measuring the codec rows of one input: best-of-N timings with the garbage collector off,
``tracemalloc`` peaks and, where the platform allows, resident-set growth in a forked child."""

from __future__ import annotations

import gc
import json
import math
import os
import time
import tracemalloc
from typing import Any, Callable

import numpy as np

from .._core import vsc
from .codec_inputs import BenchInput
from .codec_rows import BOUND, CLOSED, CODEC_ORDER, histogram, make_codecs, table_bits


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
                    "note": "docs/algorithms.md §3.5 closed form, header included, padding not"}
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
