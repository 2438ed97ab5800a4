"""Short samples of the codec fuzzer (VSC and quantized-frame decoders; the raw, sparse and
packed frames are in test_fuzz_frames.py) and of the codec benchmark; no timing assertions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gossip.codecs import DecodeError, qframe, vsc
from gossip.tools.bench import codec as bench_codec
from gossip.tools.bench import fuzz


def test_fuzz_sample_has_no_violations():
    rep = fuzz.fuzz(1500, seed=11, targets=("vsc", "qframe"))  # 1,500 per decoder
    assert rep.count == {"vsc": 1500, "qframe": 1500}
    for target in ("vsc", "qframe"):
        o = rep.outcomes[target]
        assert sum(o[k] for k in ("accepted", "rejected", "exception", "safety_net",
                                  "bad_output", "timeout")) == 1500
        # the sample really exercised the decoder: most rejected, some forgeries accepted
        assert o["rejected"] > 1000 and o["accepted"] > 0
        # CRC-re-sealed forgeries got past the checksum into the payload parser
        assert any(r.startswith(("N distinct symbols", "read_", "N unexpected bits",
                                 "symbol counts", "a support gap", "raw payload"))
                   for r in rep.reasons[target]), target
        assert rep.max_memory[target]["ratio"] > 0  # memory was measured
    assert rep.violations == [], fuzz.format_report(rep)
    assert rep.n_violations == 0


def test_fuzz_flags_a_decoder_that_breaks_the_rules(monkeypatch):
    """The fuzzer is not vacuous: a decoder raising the wrong exception, or one whose error
    came through the safety net, is reported and makes main() fail."""
    real = vsc.decode
    calls = {"n": 0}

    def flaky(data, **kw):
        calls["n"] += 1
        if calls["n"] % 50 == 0:
            raise IndexError("boom")
        if calls["n"] % 50 == 25:
            try:
                raise ValueError("unchecked path")
            except ValueError as exc:
                raise DecodeError("malformed message") from exc
        return real(data, **kw)

    monkeypatch.setattr(vsc, "decode", flaky)
    rep = fuzz.fuzz(200, seed=3, targets=("vsc",))
    kinds = {k for v in rep.violations for k in v["kinds"]}
    assert {"exception", "safety_net"} <= kinds
    assert rep.outcomes["vsc"]["exception"] >= 3
    assert fuzz.main(["--count", "100", "--target", "vsc", "--no-memory"]) == 1


def test_fuzz_forgeries_carry_valid_checksums():
    """seal() is an independent envelope writer: re-sealing a valid message reproduces it, and
    a forged payload passes the CRC (it is rejected, if at all, for a structural reason)."""
    for s in fuzz.vsc_seeds(0):
        kind, d, nbits, payload = fuzz.split_vsc(s.msg)
        assert fuzz.seal(kind, d, nbits, payload) == s.msg
    for s in fuzz.qframe_seeds(0):
        head, inner = fuzz.split_qframe(s.msg)
        assert fuzz.seal_qframe(head, inner) == s.msg
        back = qframe.decode(s.msg, levels=s.levels, block_sizes=s.block_sizes)
        assert back.symbols.size == int(np.sum(s.block_sizes))
    m = fuzz.Mutator(5)
    seeds = fuzz.vsc_seeds(0)
    crc_failures = 0
    for i in range(300):
        _, msg = fuzz.forge_vsc(m, seeds[i % len(seeds)])
        try:
            vsc.decode(msg, max_entries=1 << 20)
        except DecodeError as exc:
            crc_failures += "checksum" in str(exc)
    assert crc_failures == 0


BENCH_EXTRA = ("zstandard", "constriction", "matplotlib")


def _bench_extra_installed() -> bool:
    return all(bench_codec._importable(m) for m in BENCH_EXTRA)


def test_bench_smoke():
    inp = bench_codec.synthetic_inputs([10_000], [0.05], seed=1)[0]
    res = bench_codec.bench_input(inp, max_repeats=1)
    names = [r["codec"] for r in res["rows"]]
    # every codec row this installation can make, in order; all of them with the bench extra
    assert names == bench_codec.available_codecs()
    assert {"vsc", bench_codec.BOUND, bench_codec.CLOSED, "lzma", "raw bitpack"} <= set(names)
    if _bench_extra_installed():
        assert names == list(bench_codec.CODEC_ORDER)
    rows = {r["codec"]: r for r in res["rows"]}
    bound = rows[bench_codec.BOUND]
    assert bound["bits"] == pytest.approx(vsc.entropy_bits(inp.z) + bench_codec.table_bits(inp.z))
    assert rows["vsc"]["bits"] >= bound["bits"] >= vsc.entropy_bits(inp.z) > 0
    assert rows["vsc"]["bits"] == 8 * len(vsc.encode(inp.z))
    if "ans" in rows:
        assert rows["ans"]["bits"] >= vsc.entropy_bits(inp.z)
    assert np.array_equal(vsc.decode(vsc.encode(inp.z)), inp.z.astype(np.int64))
    for name in set(names) - {bench_codec.BOUND, bench_codec.CLOSED}:
        r = rows[name]
        assert r["lossless"] and r["bytes"] > 0 and r["encode_Meps"] > 0 and r["decode_Meps"] > 0
        assert r["tracemalloc_encode_bytes"] > 0
    s = int(np.abs(inp.z.astype(np.int64)).max())
    assert inp.levels == s
    assert rows["raw bitpack"]["bits"] == 10_000 * int(np.ceil(np.log2(2 * s + 1)))
    table = bench_codec.markdown_table(res)
    for name in names:
        assert f"| {name} |" in table
    targets = bench_codec.evaluate_targets([res])
    expected = {bench_codec.T_CLOSED}  # d < 1e5: no bound target
    if "zstd-3" in rows:
        expected |= {bench_codec.T_RIVALS, bench_codec.T_TIME}
    assert {t["target"] for t in targets} == expected
    assert all(t["verdict"] in ("PASS", "MISS", "n/a") for t in targets)


def test_bench_main_writes_json_and_png(tmp_path, capsys):
    out = tmp_path / "bench"
    rc = bench_codec.main(["--no-train", "--sizes", "100000", "--fractions", "0.01",
                           "--repeats", "1", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "## Targets" in text and bench_codec.T_BOUND in text
    report = json.loads((out / "results.json").read_text())
    (res,) = report["inputs"]
    assert res["d"] == 100_000 and len(res["rows"]) == len(bench_codec.CODEC_ORDER)
    assert {t["target"] for t in report["targets"]} == set(bench_codec.TARGET_NAMES)
    png = (out / "codec_bench.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_fuzz_compiled_decoder_agrees_with_the_reference(monkeypatch):
    """--kernels compiled: the compiled VSC decoder (narrow dtypes allowed) in the vsc and
    qframe targets, checked against the reference; a decoder that disagrees is reported."""
    from gossip.kernels import vsc as kv

    rep = fuzz.fuzz(400, seed=13, targets=("vsc", "qframe"), kernels="compiled")
    assert rep.violations == [], fuzz.format_report(rep)
    assert rep.outcomes["vsc"]["accepted"] > 0 and rep.outcomes["vsc"]["rejected"] > 200
    real = kv.decode
    calls = {"n": 0}

    def wrong(data, **kw):
        out = real(data, **kw)
        calls["n"] += 1
        if out.size and calls["n"] % 2:
            out = out.copy()
            out[0] = 1 if out[0] != 1 else 0
        return out

    monkeypatch.setattr(kv, "decode", wrong)
    rep = fuzz.fuzz(300, seed=13, targets=("vsc",), kernels="compiled", memory=False)
    details = {v["detail"] for v in rep.violations if "bad_output" in v["kinds"]}
    assert "compiled decoder returned other values than the reference" in details
