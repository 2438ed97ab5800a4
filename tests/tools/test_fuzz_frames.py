"""The raw, sparse and packed frames under the fuzzer: round trips of every seed, every
truncation of every seed, and a fuzz sample of each decoder (only DecodeError may come out)."""

from __future__ import annotations

import numpy as np
import pytest

from gossip.codecs import DecodeError
from gossip.codecs import QuantizedCodec, RawCodec, SparseCodec
from gossip.tools.bench import fuzz

FRAMES = ("raw", "sparse", "packed")


def _decoder(target, s):
    if target == "raw":
        return RawCodec(s.size).decode
    if target == "sparse":
        return SparseCodec(s.size).decode
    return QuantizedCodec("packed", s.levels, s.block_sizes).decode


def _seeds(target):
    return {"raw": fuzz.raw_seeds, "sparse": fuzz.sparse_seeds, "packed": fuzz.packed_seeds}[target](0)


def test_every_decoder_is_a_default_target():
    assert set(fuzz.TARGETS) == {"vsc", "qframe", "raw", "sparse", "packed"}


@pytest.mark.parametrize("target", FRAMES)
def test_round_trip(target):
    for s in _seeds(target):
        out = _decoder(target, s)(s.msg)
        if target == "raw":
            assert np.array_equal(out.values, s.rep.values, equal_nan=False), s.label
            assert fuzz.check_raw(out, s.size) is None
        elif target == "sparse":
            assert np.array_equal(out.indices, s.rep.indices) and out.size == s.size, s.label
            assert np.array_equal(out.values, s.rep.values), s.label
            assert fuzz.check_sparse(out, s.size) is None
        else:
            assert out.symbols.size == int(np.sum(s.block_sizes)) and out.levels == s.levels
            assert fuzz._check_qframe_output(out, s) is None, s.label
            # the packed frame re-encodes to itself
            assert QuantizedCodec("packed", s.levels, s.block_sizes).encode(out) == s.msg


@pytest.mark.parametrize("target", FRAMES)
def test_every_truncation_is_a_decode_error(target):
    n = 0
    for s in _seeds(target):
        dec = _decoder(target, s)
        # every prefix of the small seeds; for large ones, the first and last 300 cuts
        cuts = range(len(s.msg)) if len(s.msg) <= 2000 else \
            [*range(300), *range(len(s.msg) - 300, len(s.msg))]
        for i in cuts:
            with pytest.raises(DecodeError):
                dec(s.msg[:i])
            n += 1
    assert n > 1000


@pytest.mark.parametrize("target", FRAMES)
def test_fuzz_sample(target):
    rep = fuzz.fuzz(1500, seed=11, targets=(target,))
    assert rep.count == {target: 1500}
    o = rep.outcomes[target]
    assert sum(o[k] for k in ("accepted", "rejected", "exception", "safety_net", "bad_output",
                              "timeout")) == 1500
    # exercised: most rejected, some forgeries accepted, forgeries past the checksum
    assert o["rejected"] > 700 and o["accepted"] > 0
    assert any("checksum" not in r and "magic" not in r for r in rep.reasons[target])
    assert rep.max_memory[target]["ratio"] > 0
    assert rep.violations == [], fuzz.format_report(rep)


def test_forgeries_reach_the_payload_checks():
    """The re-sealed forgeries of each frame are rejected for structural reasons, not only by
    the checksum (so the parser behind it is exercised)."""
    want = {"raw": ("raw message carries", "raw message has"),
            "sparse": ("sparse message indices", "sparse message claims", "sparse message has"),
            "packed": ("quantized symbols exceed", "raw payload needs", "raw zigzag value",
                       "raw field width")}
    rep = fuzz.fuzz(1000, seed=5, targets=FRAMES, memory=False)
    for target, prefixes in want.items():
        hit = {p for p in prefixes for r in rep.reasons[target] if r.startswith(p)}
        assert hit == set(prefixes), (target, sorted(rep.reasons[target]))
    assert rep.violations == []


@pytest.mark.parametrize("bad", ["GR\x01", None])
def test_non_bytes_input_is_a_decode_error(bad):
    with pytest.raises(DecodeError):
        RawCodec(4).decode(bad)
