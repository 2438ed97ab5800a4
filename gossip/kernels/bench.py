"""Benchmark of the compiled kernels against numpy (and zstd-3 for the codec).

``python -m gossip.kernels.bench [--sizes 1e5,1e6,1e7] [--fractions 0.01,0.1,0.5]
[--repeats 5] [--quant-d 1.5e6]`` prints, for int8 symbols as the dithered quantizer with
s = 4 makes them (a fraction nonzero, +-1 mostly, +-2 for a tenth of them):

* VSC encode+decode time, compiled (also encode and decode apart) vs numpy vs zstd-3
  (compress + decompress of the same int8 buffer), best of ``--repeats`` interleaved samples
  (numpy: one above 1e6), a sample looping a call for at least 5 ms; ``c/zstd`` = compiled
  encode+decode / zstd-3;
* message bytes and whether they equal numpy's bytes;
* the peak extra memory per entry of one compiled encode+decode (the decoded int8 output
  included), by tracemalloc (numba's own O(K) allocations are not traced);

then the quantizer / dequantizer / consensus-prox kernels against numpy at ``--quant-d``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def symbols(d: int, frac: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = np.zeros(d, np.int8)
    hit = np.flatnonzero(rng.random(d) < frac)
    m = np.ones(hit.size, np.int8)
    m[rng.random(hit.size) < 0.1] = 2
    z[hit] = np.where(rng.random(hit.size) < 0.5, -m, m)
    return z


SAMPLE_S = 5e-3  # a timing sample runs a call this long at least (timeit-style loops)


def _best(fns: dict, repeats: dict) -> dict:
    """Best per-call time of each function over ``repeats[k]`` samples, interleaved; a
    sample repeats a call enough times to last ``SAMPLE_S`` (one call for the slow ones), so
    sub-millisecond calls are not timed below the clock's and the scheduler's resolution."""
    loops = {}
    for k, f in fns.items():  # calibration, also the warm-up
        t = time.perf_counter()
        f()
        loops[k] = max(1, int(SAMPLE_S / max(time.perf_counter() - t, 1e-7)))
    best = {k: float("inf") for k in fns}
    for r in range(max(repeats.values())):
        for k, f in fns.items():  # interleaved
            if r < repeats[k]:
                n = loops[k]
                t = time.perf_counter()
                for _ in range(n):
                    f()
                best[k] = min(best[k], (time.perf_counter() - t) / n)
    return best


def peak_bytes_per_entry(z: np.ndarray) -> float:
    """tracemalloc peak per entry of one compiled encode+decode of ``z``, the decoded int8
    output included.  numpy buffers (messages, outputs, the payload words) are traced;
    numba's own allocations are not, and in these kernels they are only O(K) arrays and the
    256-entry int8 histogram."""
    import tracemalloc

    from . import vsc as kv

    tracemalloc.start()
    kv.decode(kv.encode(z))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / max(1, z.size)


def bench_codec(sizes, fracs, repeats: int) -> list[dict]:
    import zstandard

    from ..codecs import vsc
    from . import vsc as kv

    rows = []
    cz, dz = zstandard.ZstdCompressor(level=3), zstandard.ZstdDecompressor()
    for d in sizes:
        for f in fracs:
            z = symbols(d, f)
            msg = kv.encode(z)
            ref_msg = vsc.encode(z)
            zb = cz.compress(z.tobytes())
            assert np.array_equal(kv.decode(msg), z)
            t = _best({
                "compiled": lambda z=z: kv.decode(kv.encode(z)),
                "encode": lambda z=z: kv.encode(z),
                "decode": lambda msg=msg: kv.decode(msg),
                "numpy": lambda z=z: vsc.decode(vsc.encode(z)),
                "zstd3": lambda z=z: dz.decompress(cz.compress(z)),
            }, {"compiled": repeats, "encode": repeats, "decode": repeats, "zstd3": repeats,
                "numpy": repeats if d <= 10**6 else 1})
            rows.append({"d": d, "nonzero": f, "compiled_ms": 1e3 * t["compiled"],
                         "encode_ms": 1e3 * t["encode"], "decode_ms": 1e3 * t["decode"],
                         "numpy_ms": 1e3 * t["numpy"], "zstd3_ms": 1e3 * t["zstd3"],
                         "bytes": len(msg), "identical": msg == ref_msg, "zstd_bytes": len(zb),
                         "peak_B_per_entry": peak_bytes_per_entry(z)})
    return rows


def bench_quant(d: int, repeats: int) -> list[dict]:
    from ..compressors import DitheredQuantizer
    from ..prox import soft_threshold
    from . import quant

    rng = np.random.default_rng(0)
    q = DitheredQuantizer([d // 3, d - d // 3 - 10, 10], 4, norm="l2", tau_scaling=True)
    v = (rng.standard_normal(q.size) * 0.01).astype(np.float32)
    u = q.dither(np.random.default_rng(1))
    qq = q.quantize(v, u)
    acc = np.zeros(q.size, np.float32)
    x, s, xh = v.copy(), v * 1.01, v * 0.99

    def np_prox():
        y = x + np.float32(0.1) * (s - xh)
        soft_threshold(y, 0.05 * 1e-3, out=x)

    pairs = {
        "quantize (rng)": (lambda: q.quantize(v, np.random.default_rng(1)),
                           lambda: quant.quantize(q, v, np.random.default_rng(1))),
        "quantize (u given)": (lambda: q.quantize(v, u), lambda: quant.quantize(q, v, u)),
        "dequantize": (lambda: q.dequantize(qq), lambda: quant.dequantize(q, qq)),
        "acc += w*dq": (lambda: acc.__iadd__(np.float32(0.3) * q.dequantize(qq)),
                        lambda: quant.dequantize_axpy(q, qq, 0.3, acc)),
        "x_hat += dq": (lambda: acc.__iadd__(q.dequantize(qq)),
                        lambda: quant.dequantize_add(q, qq, acc)),
        "consensus+prox": (np_prox, lambda: quant.consensus_prox(x, s, xh, 0.1, 0.05, 1e-3)),
    }
    rows = []
    for name, (fn_np, fn_c) in pairs.items():
        t = _best({"numpy": fn_np, "compiled": fn_c}, {"numpy": repeats, "compiled": repeats})
        rows.append({"kernel": name, "d": d, "numpy_ms": 1e3 * t["numpy"],
                     "compiled_ms": 1e3 * t["compiled"]})
    return rows


def _numbers(kind, lo, hi, one: bool = False):
    """An argparse type: comma-separated numbers (``1e5`` allowed for integers) within
    [lo, hi]; a bad one is refused naming the value and the range (argparse: exit 2)."""
    def parse(text: str):
        out = []
        for part in [t for t in text.split(",") if t.strip()] or [""]:
            try:
                x = float(part)
                x = kind(x) if kind is float or x == int(x) else None
            except (ValueError, OverflowError):
                x = None
            if x is None or x < lo or (hi is not None and x > hi):
                want = "an integer" if kind is int else "a number"
                raise argparse.ArgumentTypeError(
                    f"{part.strip()!r}: want {want} >= {lo}" + (f" and <= {hi}" if hi is not None
                                                             else ""))
            out.append(x)
        if one and len(out) != 1:
            raise argparse.ArgumentTypeError(f"{text!r}: want one value")
        return out[0] if one else out
    return parse


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gossip bench kernels", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1e5,1e6,1e7", type=_numbers(int, 1, None),
                   help="symbol counts d, comma-separated (default 1e5,1e6,1e7)")
    p.add_argument("--fractions", default="0.01,0.1,0.5", type=_numbers(float, 0.0, 1.0),
                   help="fractions of nonzero symbols in [0, 1], comma-separated "
                        "(default 0.01,0.1,0.5)")
    p.add_argument("--repeats", type=_numbers(int, 1, None, one=True), default=5,
                   help="interleaved timing samples per kernel, best kept (default 5)")
    p.add_argument("--quant-d", type=_numbers(int, 1, None, one=True), default=1500000,
                   help="entries for the quantizer kernels (default 1.5e6)")
    p.add_argument("--json", action="store_true", help="print JSON rows instead of tables")
    a = p.parse_args(argv)
    from . import available, unavailable_reason, warm

    if not available():
        print(f"gossip bench kernels: the compiled kernels need numba, which does not import "
              f"({unavailable_reason()}); pip install numba", file=sys.stderr)
        return 2
    warm()
    sizes, fracs = a.sizes, a.fractions
    codec = bench_codec(sizes, fracs, a.repeats)
    qrows = bench_quant(a.quant_d, a.repeats)
    if a.json:
        print(json.dumps({"codec": codec, "quant": qrows}, indent=1))
        return 0
    print("VSC encode+decode, int8 symbols (s=4 quantizer-like), best of repeats")
    print(f"{'d':>9} {'nz':>5} {'compiled ms':>12} {'enc ms':>8} {'dec ms':>8} {'numpy ms':>10} "
          f"{'zstd-3 ms':>10} {'c/zstd':>7} {'bytes':>9} {'=numpy':>7} {'zstd B':>9} "
          f"{'peak B/entry':>12}")
    for r in codec:
        print(f"{r['d']:>9} {r['nonzero']:>5.2f} {r['compiled_ms']:>12.2f} {r['encode_ms']:>8.2f} "
              f"{r['decode_ms']:>8.2f} {r['numpy_ms']:>10.2f} "
              f"{r['zstd3_ms']:>10.2f} {r['compiled_ms'] / r['zstd3_ms']:>7.2f} {r['bytes']:>9} "
              f"{str(r['identical']):>7} {r['zstd_bytes']:>9} {r['peak_B_per_entry']:>12.2f}")
    print()
    print(f"quantizer kernels at d={int(a.quant_d)}")
    print(f"{'kernel':>20} {'numpy ms':>10} {'compiled ms':>12} {'speedup':>8}")
    for r in qrows:
        print(f"{r['kernel']:>20} {r['numpy_ms']:>10.2f} {r['compiled_ms']:>12.2f} "
              f"{r['numpy_ms'] / r['compiled_ms']:>8.2f}")
    return 0 if all(r["identical"] for r in codec) else 1


if __name__ == "__main__":
    raise SystemExit(main())
