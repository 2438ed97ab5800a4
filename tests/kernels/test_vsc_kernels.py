"""Compiled VSC (gossip.kernels.vsc) against the numpy reference (gossip.codecs.vsc)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from gossip.codecs import DecodeError, vsc
from gossip.kernels import vsc as kv
from gossip.tools.bench import fuzz

LIM = 2**31


def _sym(rng, d, f, dtype=np.int8, big=0.1):
    """Quantizer-like symbols: a fraction f nonzero, mostly +-1, some +-2."""
    z = np.zeros(d, dtype)
    hit = np.flatnonzero(rng.random(d) < f)
    m = np.ones(hit.size, dtype)
    m[rng.random(hit.size) < big] = 2
    z[hit] = np.where(rng.random(hit.size) < 0.5, -m, m)
    return z


def _cases():
    rng = np.random.default_rng(1)
    c = {
        "d=0": np.zeros(0, np.int8),
        "d=1 zero": np.zeros(1, np.int8),
        "d=1 value": np.array([-7], np.int8),
        "all zeros": np.zeros(1000, np.int8),
        "all one symbol": np.full(777, 3, np.int16),
        "two": np.array([0, -1], np.int8),
        "1% d=20000": _sym(rng, 20000, 0.01),
        "10% d=20000": _sym(rng, 20000, 0.1),
        "50% d=20000": _sym(rng, 20000, 0.5),
        "90% d=5000": _sym(rng, 5000, 0.9),
        "uniform -4..4": rng.integers(-4, 5, 3000).astype(np.int8),
        "int8 full range": rng.integers(-128, 128, 4000).astype(np.int8),
        "int16 range sparse": np.where(rng.random(5000) < 0.05,
                                       rng.integers(-32768, 32768, 5000), 0).astype(np.int16),
        "int16 wide (raw)": rng.integers(-32768, 32768, 3000).astype(np.int16),
        "many distinct int32": np.where(rng.random(4000) < 0.3,
                                        rng.integers(-1000, 1000, 4000), 0).astype(np.int32),
        "wide int64 (raw)": rng.integers(-LIM, LIM, 300),
        "extremes": np.array([-LIM, LIM, 0, 1, -1] * 8),
        "sparse wide outliers": np.where(rng.random(3000) < 0.02,
                                         rng.integers(-LIM, LIM, 3000), 0),
        "ties": np.repeat(np.arange(-5, 5), 4).astype(np.int8),
        "negative only": (-rng.integers(1, 4, 300)).astype(np.int8),
        "long runs": np.repeat(rng.integers(-2, 3, 16), 256).astype(np.int8),
        "rare big outlier": np.concatenate([np.zeros(3000, np.int64), [2**30], np.zeros(95, np.int64)]),
        "K=40 geometric": np.clip(rng.geometric(0.2, 6000) - 1, 0, 39).astype(np.int8),
        "bool": rng.random(100) < 0.3,
        "uint8": rng.integers(0, 256, 500).astype(np.uint8),
        "2-D int8": _sym(rng, 600, 0.2).reshape(20, 30),
    }
    return c


CASES = _cases()


@pytest.mark.parametrize("label", list(CASES))
def test_encode_bytes_identical_and_decode_same_values(label):
    z = CASES[label]
    msg = vsc.encode(z)
    assert kv.encode(z) == msg
    ref = vsc.decode(msg)
    out = kv.decode(msg)
    assert out.shape == ref.shape and np.array_equal(out, ref)
    assert np.array_equal(out, np.asarray(z).reshape(-1).astype(np.int64))
    assert kv.decode(msg, dtype=np.int64).dtype == np.int64


def test_kinds_are_exercised():
    kinds = {vsc.message_info(vsc.encode(z))["kind_name"] for z in CASES.values()}
    assert kinds == {"vsc", "raw"}


def test_decode_dtype_is_narrow():
    z = CASES["10% d=20000"]
    out = kv.decode(vsc.encode(z))
    assert out.dtype == np.int8
    assert kv.decode(vsc.encode(CASES["int16 range sparse"])).dtype == np.int16
    assert kv.decode(vsc.encode(CASES["wide int64 (raw)"])).dtype == np.int32
    assert kv.decode(vsc.encode(CASES["extremes"])).dtype == np.int64  # +2**31 needs int64
    with pytest.raises(DecodeError):
        kv.decode(vsc.encode(CASES["int16 range sparse"]), dtype=np.int8)
    with pytest.raises(DecodeError):
        kv.decode(vsc.encode(CASES["int16 wide (raw)"]), dtype=np.int8)


def test_narrow_input_is_not_widened():
    import tracemalloc

    z = _sym(np.random.default_rng(2), 400_000, 0.1)
    kv.encode(z)
    msg = vsc.encode(z)
    kv.decode(msg)
    tracemalloc.start()
    kv.decode(kv.encode(z))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # the int8 output (1 B/entry) plus the message and a few small buffers
    assert peak < 1.0 * z.size + 4 * len(msg) + 200_000


def test_random_vectors_match():
    rng = np.random.default_rng(3)
    for t in range(60):
        d = int(rng.integers(0, 3000))
        f = float(rng.choice([0.0, 0.01, 0.1, 0.5, 1.0]))
        dt = [np.int8, np.int16, np.int32, np.int64][t % 4]
        z = _sym(rng, d, f, dt, big=float(rng.random()))
        if t % 5 == 0 and d:
            z[rng.integers(0, d, 3)] = rng.integers(-100, 100, 3)
        msg = vsc.encode(z)
        assert kv.encode(z) == msg
        assert np.array_equal(kv.decode(msg), z)


def test_golomb_fallback_path_gives_same_bytes(monkeypatch):
    z = CASES["10% d=20000"]
    monkeypatch.setattr(kv, "_EPS", 1.0)  # every estimate is "near the boundary"
    assert kv.encode(z) == vsc.encode(z)


def test_encode_refuses_like_reference():
    with pytest.raises(ValueError):
        kv.encode(np.array([0, 2**31 + 1]))
    with pytest.raises(ValueError):
        kv.encode(np.array([2**40], np.uint64))
    with pytest.raises(TypeError):
        kv.encode(np.array([0.5]))


def _both(msg, **kw):
    """Compiled strict decoder (no safety net) vs the reference: same accept/refuse, same
    values; the compiled one raises nothing but DecodeError."""
    try:
        ref = vsc.decode(msg, **kw)
    except DecodeError:
        ref = None
    try:
        out = kv._decode_strict(msg, kw.get("expected_size"), kw.get("max_entries", 2**28), None)
    except DecodeError:
        out = None
    if ref is None:
        assert out is None, f"compiled decoder accepted a message the reference refuses: {msg!r}"
    else:
        assert out is not None and np.array_equal(out, ref)
    return out


SEEDS = [s for s in fuzz.vsc_seeds(0) if s.d <= 5000]


def test_every_truncation_and_extension():
    for s in SEEDS:
        for n in range(len(s.msg)):
            assert _both(s.msg[:n]) is None
        assert _both(s.msg + b"\x00") is None
        assert _both(s.msg) is not None


def test_bit_flips():
    r = random.Random(5)
    for s in SEEDS:
        nb = 8 * len(s.msg)
        for i in (r.sample(range(nb), min(nb, 60))):
            b = bytearray(s.msg)
            b[i // 8] ^= 1 << (i % 8)
            assert _both(bytes(b)) is None  # the CRC catches every single flip


def test_fuzz_sample_matches_reference():
    m = fuzz.Mutator(7)
    seeds = fuzz.vsc_seeds(1)
    seeds = [s for s in seeds if s.d <= 20000]
    accepted = 0
    for _ in range(3000):
        label, msg, s = fuzz.gen_vsc(m, seeds)
        kw = {"max_entries": 1 << 20} if m.r.random() < 0.7 else {"expected_size": s.d}
        if _both(msg, **kw) is not None:
            accepted += 1
    assert accepted > 0  # some forgeries are valid messages, and they decode identically


def test_forged_payloads_reach_the_parser():
    """CRC-valid payload mutations: only DecodeError, and exactly when the reference says."""
    m = fuzz.Mutator(11)
    seeds = [s for s in fuzz.vsc_seeds(2) if s.d <= 5000]
    refused = 0
    for _ in range(1500):
        _, msg = fuzz.forge_vsc(m, m.r.choice(seeds))
        if _both(msg, max_entries=1 << 20) is None:
            refused += 1
    assert refused > 500


def test_input_types_and_safety():
    msg = vsc.encode(CASES["10% d=20000"])
    for data in (bytearray(msg), memoryview(msg), np.frombuffer(msg, np.uint8)):
        assert np.array_equal(kv.decode(data), CASES["10% d=20000"])
    for bad in (None, 5, "GV", np.zeros(4, np.int32)):
        with pytest.raises(DecodeError):
            kv.decode(bad)
    with pytest.raises(DecodeError):
        kv.decode(msg, expected_size=5)
    with pytest.raises(DecodeError):
        kv.decode(msg, max_entries=100)


def test_walk_paths_equal_the_older_decoder_and_encoder():
    """The bitmap walk (<= WALK_MAX_J coded symbols) and the one-pass encoder / segment-tree
    decoder (above) give the same bytes and values, sparse and dense, int8 and wider."""
    rng = np.random.default_rng(6)
    for z in (_sym(rng, 30000, 0.02), _sym(rng, 30000, 0.6), _sym(rng, 5000, 0.3, np.int32),
              np.clip(rng.geometric(0.1, 9000) - 1, 0, 40).astype(np.int8)):
        msg = vsc.encode(z)
        assert kv.encode_counted(z, 0)[0] == msg and kv.encode_counted(z, 1000)[0] == msg
        for walk in (0, 1000):
            assert np.array_equal(kv._decode_strict(msg, None, 2**28, None, walk=walk), z)


def test_select_and_deposit_agree_with_their_definitions():
    """The decoder's portable bit tricks: ``_select_bw`` (index of the k-th set bit) and the
    deposit of compacted slot bits onto the free bits of a word (``_deposit_sw``, and BMI2
    ``pdep`` where fast: the low ``popcount(f)`` bits of ``x``, in order, onto the set bits
    of ``f``)."""
    from numba import njit

    from gossip.kernels import vsc_wdec as vw

    @njit
    def select(xs, ks):
        out = np.empty(xs.size, np.uint64)
        for i in range(xs.size):
            out[i] = vw._select_bw(xs[i], np.int64(ks[i]))
        return out

    rng = np.random.default_rng(7)
    xs = rng.integers(1, 2**63, 5000, dtype=np.int64).astype(np.uint64) | np.uint64(1 << 63)
    xs[:64] = np.uint64(2**64 - 1)
    xs[64:128] = np.uint64(1) << np.arange(64, dtype=np.uint64)
    counts = np.array([bin(int(x)).count("1") for x in xs])
    ks = (rng.random(xs.size) * counts).astype(np.uint64)
    want = np.array([[i for i in range(64) if int(x) >> i & 1][k] for x, k in zip(xs, ks)])
    assert np.array_equal(select(xs, ks), want.astype(np.uint64))

    vals, fs = _words_and_masks(9)
    want = _bit_moves(vals, fs, deposit=True)
    assert np.array_equal(_per_pair(vw._deposit_sw)(vals, fs), want)
    if vw.FAST_PDEP:  # compiled only where pdep is (not for a generic CPU target)
        assert np.array_equal(_per_pair(vw.pdep64)(vals, fs), want)


def _per_pair(fn):
    """A compiled loop applying the bit kernel ``fn`` to each (word, mask) pair."""
    from numba import njit

    @njit
    def run(xs, ms):
        out = np.empty(xs.size, np.uint64)
        for i in range(xs.size):
            out[i] = fn(xs[i], ms[i])
        return out

    return run


def _words_and_masks(seed: int):
    """3000 (word, mask) pairs: random, all-ones, single-bit and empty masks."""
    rng = np.random.default_rng(seed)
    xs = rng.integers(0, 2**63, 3000, dtype=np.int64).astype(np.uint64) * np.uint64(3)
    ms = rng.integers(0, 2**63, 3000, dtype=np.int64).astype(np.uint64) << np.uint64(1)
    ms[:64] = np.uint64(2**64 - 1)
    ms[64:128] = np.uint64(1) << np.arange(64, dtype=np.uint64)
    ms[128] = 0
    return xs, ms


def _bit_moves(xs, ms, deposit: bool) -> np.ndarray:
    """pdep (the low bits of x onto the set bits of m, in order) or pext (the bits of x at
    the set bits of m, packed low), bit by bit in Python."""
    out = []
    for x, m in zip(xs.tolist(), ms.tolist()):
        a, k = 0, 0
        for t in range(64):
            if m >> t & 1:
                a |= (x >> k & 1) << t if deposit else (x >> t & 1) << k
                k += 1
        out.append(a)
    return np.array(out, np.uint64)


def test_extract_agrees_with_its_definition():
    """The encoder's compaction of last bits: ``_extract_sw`` (and BMI2 ``pext`` where fast):
    the bits of ``x`` at the set bits of ``m``, in order, packed into the low bits."""
    from gossip.kernels import vsc_walk as vk

    xs, ms = _words_and_masks(12)
    want = _bit_moves(xs, ms, deposit=False)
    assert np.array_equal(_per_pair(vk._extract_sw)(xs, ms), want)
    if vk.FAST_PDEP:  # compiled only where pext is (not for a generic CPU target)
        assert np.array_equal(_per_pair(vk.pext64)(xs, ms), want)


def test_dense_symbols_forged_bit_by_bit():
    """Dense symbols (Golomb M = 2 and M = 3) take the decoder's chunked remainders with one
    range check per chunk; a CRC-valid message with any payload bit flipped must be refused
    or decoded exactly as the reference does (the chunk that fails is redone code by code)."""
    rng = np.random.default_rng(13)
    z = _sym(rng, 20000, 0.5)
    msg = kv.encode(z)
    kind, d, nbits, payload = fuzz.split_vsc(msg)
    bits = np.unpackbits(np.frombuffer(payload, np.uint8), count=nbits)
    refused = 0
    for i in rng.choice(nbits, 400, replace=False):
        b = bits.copy()
        b[i] ^= 1
        if _both(fuzz.seal(kind, d, nbits, np.packbits(b).tobytes())) is None:
            refused += 1
    assert refused > 0


def test_vector_lane_ops_agree_with_their_definitions():
    """``eqmask64`` (bit t <=> a[i0 + t] == x), ``gemask64`` (>= x, signed), ``lsbmask64``
    (bit t = a[i0 + t] & 1) and ``blend64`` (a[i0 + t] = x where bit t of m is set), the
    64-lane vector intrinsics of the encoder's bitmaps and the decoder's
    output, against their numpy definitions for every integer dtype, offsets that are not
    aligned, and the extreme values of each dtype."""
    from numba import njit

    from gossip.kernels._llvm import blend64, eqmask64, gemask64, lsbmask64

    @njit
    def eq(a, i0, x):
        return eqmask64(a, i0, x)

    @njit
    def ge(a, i0, x):
        return gemask64(a, i0, x)

    @njit
    def lsb(a, i0):
        return lsbmask64(a, i0)

    @njit
    def blend(a, i0, m, x):
        blend64(a, i0, m, x)

    rng = np.random.default_rng(11)
    for dt in (np.int8, np.uint8, np.int16, np.int32, np.int64):
        info = np.iinfo(dt)
        xs = [0, 1, 2, int(info.min), int(info.max)] + ([-1] if info.min < 0 else [])
        a = np.array(rng.choice(xs, 300), dt)
        for i0 in (0, 1, 7, 64, 236):
            want = np.packbits(a[i0:i0 + 64] & 1, bitorder="little")
            assert lsb(a, i0) == want.view("<u8")[0], (dt, i0)
            for x in xs:
                want = np.packbits(a[i0:i0 + 64] == np.array(x, dt), bitorder="little")
                assert eq(a, i0, dt(x)) == want.view("<u8")[0], (dt, i0, x)
                if info.min < 0:  # signed compare: the dtypes it is used on
                    want = np.packbits(a[i0:i0 + 64] >= np.array(x, dt), bitorder="little")
                    assert ge(a, i0, dt(x)) == want.view("<u8")[0], (dt, i0, x)
                for m in (0, 2**64 - 1, 1 << 63, int(rng.integers(0, 2**62)) * 3):
                    m = np.uint64(m)
                    got, ref = a.copy(), a.copy()
                    blend(got, i0, m, dt(x))
                    ref[i0:i0 + 64][np.unpackbits(np.array([m]).view(np.uint8),
                                                  bitorder="little") == 1] = x
                    assert np.array_equal(got, ref), (dt, i0, x, m)


def test_int8_one_pass_bitmaps_and_their_fallbacks():
    """int8 within a span of GROUP + 1 values holding 0 takes rows8 (histogram and bitmaps in
    one pass); a most frequent symbol other than 0, no 0, or a wider span take the others."""
    rng = np.random.default_rng(8)
    cases = [_sym(rng, 20000, 0.03), _sym(rng, 20000, 0.7), rng.integers(-4, 5, 9000),
             np.where(rng.random(9000) < 0.7, 3, rng.integers(0, 3, 9000)),  # mode 3
             rng.integers(1, 6, 4000), rng.integers(-5, 5, 4000), np.array([0, 1] * 50)]
    for z in cases:
        z = np.asarray(z).astype(np.int8)
        msg = vsc.encode(z)
        assert kv.encode(z) == msg
        assert np.array_equal(kv.decode(msg), z)


def _reseal(msg: bytes, payload: bytes) -> bytes:
    """``msg`` with its payload replaced and the CRC recomputed (so the kernels see it)."""
    import struct
    import zlib

    hlen = vsc._parse_header(msg[:24])[4]
    head = msg[:hlen]
    return head + struct.pack("<I", zlib.crc32(payload, zlib.crc32(head))) + payload


def _outcome(data):
    try:
        return ("ok", kv.decode(data).tobytes())
    except DecodeError as e:
        return ("refused", str(e))


def test_sparse_walk_equals_the_bitmap_walk(monkeypatch):
    """At most SPARSE coded symbols per word the walks take their sparse form (slots by a
    branch-free merge with the taken positions); forced on and off it gives the reference's
    bytes and values, clustered and spread, int8 and wider, and refuses the same hostile
    payloads with the same error."""
    from gossip.kernels import vsc_sparse

    rng = np.random.default_rng(11)
    cases = [_sym(rng, d, f) for d in (1, 63, 64, 65, 640, 5000, 30001)
             for f in (0.002, 0.01, 0.05)]
    clustered = _sym(rng, 20000, 0.001)
    clustered[3000:3300] = rng.integers(-3, 4, 300)  # dense blocks in a sparse vector
    cases += [clustered, _sym(rng, 9000, 0.005, np.int16), _sym(rng, 4000, 0.4)]
    for z in cases:
        msg = vsc.encode(z)
        hlen = vsc._parse_header(msg[:24])[4]
        body = bytearray(msg[hlen + 4:])
        hostile = []
        for _ in range(12):
            b = bytearray(body)
            for _ in range(rng.integers(1, 4)):
                b[rng.integers(len(b))] ^= 1 << rng.integers(8)
            hostile.append(_reseal(msg, bytes(b)))
        got = {}
        for force in (0.0, 1e9):
            monkeypatch.setattr(vsc_sparse, "SPARSE", force)
            assert kv.encode(z) == msg
            assert np.array_equal(kv.decode(msg), z)
            got[force] = [_outcome(h) for h in hostile]
        assert got[0.0] == got[1e9]


def test_kernel_bench_runs_and_refuses_bad_options(capsys):
    """``gossip bench kernels``: a tiny run prints both tables and exits 0 (bytes identical
    to numpy); a bad option is one argparse line naming the value, exit 2."""
    from gossip.kernels import bench

    assert bench.main(["--sizes", "3e3", "--fractions", "0.01,0.5", "--repeats", "1",
                       "--quant-d", "2000"]) == 0
    out = capsys.readouterr().out
    assert "c/zstd" in out and "consensus+prox" in out and "False" not in out
    for bad, word in ((["--sizes", "abc"], "'abc'"), (["--repeats", "0"], "'0'"),
                      (["--fractions", "1.5"], "'1.5'"), (["--quant-d", "-1"], "'-1'")):
        with pytest.raises(SystemExit) as e:
            bench.main(bad)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.count("error:") == 1 and word in err, err


@pytest.mark.parametrize("walk", [0, 64])
def test_decoder_golomb_fallback_path_gives_same_values(monkeypatch, walk):
    """A flagged table (a Golomb ratio near an integer) decodes with numpy's parameters
    written into the table; forced here on every message, both walk and segment-tree paths."""
    real = kv.table_packed

    def flagged(p, nbits, d):
        code, pos, _, T, K, lo, hi, G = real(p, nbits, d)
        return code, pos, True, T, K, lo, hi, G

    monkeypatch.setattr(kv, "table_packed", flagged)
    for name in ("1% d=20000", "10% d=20000", "50% d=20000"):
        z = CASES[name]
        msg = vsc.encode(z)
        assert np.array_equal(kv._decode_strict(msg, None, 2**28, None, walk=walk), z)
