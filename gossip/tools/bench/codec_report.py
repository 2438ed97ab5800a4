"""The codec benchmark's targets (PASS/MISS per input), its Markdown tables and its PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .codec_rows import BOUND, CLOSED, CODEC_ORDER, MiB

#: The targets the benchmark checks.
TARGET_BOUND_RATIO = 1.05  # VSC bits / (d·Ĥ + table) for d >= 10**5
TARGET_BOUND_MIN_D = 10**5
TARGET_TIME_RATIO = 2.0  # (VSC encode + decode) / (zstd-3 encode + decode)
TARGET_CLOSED_FORM = 0.02  # |closed form - measured| / measured
T_BOUND = "vsc <= 1.05 x (d·Ĥ + table), d >= 1e5"
T_RIVALS = "vsc < zstd-19 and lzma where the bound allows"
T_TIME = "vsc encode+decode <= 2 x zstd-3's"
T_CLOSED = "closed form within 2% of measured vsc"
TARGET_NAMES = (T_BOUND, T_RIVALS, T_TIME, T_CLOSED)


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
    lines = ["## Targets", ""]
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
