"""The fuzzer's report: outcome counts per decoder and generator, grouped rejection reasons,
the slowest decode, the largest allocation against its allowance, and the violations."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

VIOLATIONS = ("exception", "safety_net", "bad_output", "slow", "timeout", "memory")


_NUM = re.compile(r"-?\d+(\.\d+)?(e[-+]?\d+)?")
_BYTES = re.compile(r"b'(?:[^'\\]|\\.)*'|b\"(?:[^\"\\]|\\.)*\"")


def _reason(exc: BaseException) -> str:
    """The error message with numbers and quoted bytes blanked, to group rejections."""
    return _NUM.sub("N", _BYTES.sub("B", str(exc)))[:90]


@dataclass
class FuzzReport:
    count: dict = field(default_factory=dict)  # target -> messages tried
    outcomes: dict = field(default_factory=dict)  # target -> Counter(outcome)
    by_generator: dict = field(default_factory=dict)  # target -> {generator: Counter(outcome)}
    reasons: dict = field(default_factory=dict)  # target -> Counter(rejection reason)
    slowest: dict = field(default_factory=dict)  # target -> {seconds, generator, bytes}
    max_memory: dict = field(default_factory=dict)  # target -> {bytes, allowance, ratio, ...}
    violations: list = field(default_factory=list)  # dicts with target, kind, detail, hex
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)

    @property
    def n_violations(self) -> int:
        return len(self.violations)

    def to_json(self) -> dict:
        return {
            "settings": self.settings, "seconds": self.seconds, "count": self.count,
            "outcomes": {t: dict(c) for t, c in self.outcomes.items()},
            "by_generator": {t: {g: dict(c) for g, c in sorted(gs.items())}
                             for t, gs in self.by_generator.items()},
            "rejection_reasons": {t: dict(c.most_common()) for t, c in self.reasons.items()},
            "slowest": self.slowest, "max_memory": self.max_memory,
            "violations": self.violations, "n_violations": self.n_violations,
        }



def format_report(rep: FuzzReport) -> str:
    cols = ("accepted", "rejected") + VIOLATIONS
    lines = ["| decoder | messages | " + " | ".join(cols) + " | slowest decode | max memory / allowance |",
             "|---|---:|" + "---:|" * len(cols) + "---|---|"]
    for t, n in rep.count.items():
        o = rep.outcomes[t]
        sl, mm = rep.slowest[t], rep.max_memory[t]
        mem = (f"{mm['ratio']:.3f} ({mm.get('bytes', 0):,} B, {mm.get('generator', '')})"
               if "bytes" in mm else "not measured")
        lines.append(f"| {t} | {n:,} | " + " | ".join(f"{o.get(c, 0):,}" for c in cols)
                     + f" | {sl['seconds'] * 1e3:.1f} ms ({sl.get('generator', '')}, "
                       f"{sl.get('bytes', 0):,} B) | {mem} |")
    lines.append("")
    lines.append("(slow and memory violations are counted on top of accepted/rejected.)")
    lines.append("By generator (accepted / rejected / violations):")
    for t, gens in rep.by_generator.items():
        parts = []
        for g, c in sorted(gens.items()):
            bad = sum(c[k] for k in VIOLATIONS)
            parts.append(f"{g} {c['accepted']}/{c['rejected']}/{bad}")
        lines.append(f"- {t}: " + ", ".join(parts))
    lines.append("")
    for t, reasons in rep.reasons.items():
        lines.append(f"Most frequent {t} rejections ({len(reasons)} distinct):")
        for reason, n in reasons.most_common(8):
            lines.append(f"  {n:7,}  {reason}")
    total = sum(rep.count.values())
    lines.append("")
    if rep.violations:
        lines.append(f"VIOLATIONS: {rep.n_violations} of {total:,} messages")
        for v in rep.violations[:20]:
            lines.append(f"- {v['target']} #{v['index']} {'+'.join(v['kinds'])} "
                         f"[{v['generator']}, seed {v['seed_label']!r}]: {v['detail']}")
    else:
        lines.append(f"no violations in {total:,} messages ({rep.seconds:.0f} s)")
    return "\n".join(lines)
