"""Behaviour-preservation check: short runs of every algorithm, digested.

``python tests/golden/golden.py record`` writes ``digests.json`` (do this before a refactor);
``python tests/golden/golden.py check [--mpi] [--kernels MODE]`` reruns and compares
(``--kernels`` numpy/compiled/auto is passed to every run; the bytes must not depend on it).  What is compared: every
line of ``metrics.jsonl`` (minus wall-clock fields, which differ from run to run) and the
tensors of ``model.pt`` and of every ``rank_models/*.pt``, bit for bit.  ``--mpi`` runs the same
cases under ``mpiexec -n 4`` as well (the MPI run must match the in-process digests).

Cases pin the options whose defaults may change later (``EXTRA``), so they keep describing the
same trajectories.

The runs pin torch's numerics to what every x86-64 CPU computes alike (``PINNED``: ATen's
scalar kernels, MKL's conditional numerical reproducibility, oneDNN at SSE4.1, one thread):
left free, ATen, MKL and oneDNN pick AVX2 or AVX-512 code by the CPU, whose float sums round
differently, and digests recorded on one machine failed on another with the same code (all
14 cases, on an AVX2 machine, of digests recorded on another).  :func:`main` re-runs itself
under ``PINNED`` when the environment lacks it (torch reads these variables at import).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
DIGESTS = HERE / "digests.json"
TIME_FIELDS = {"elapsed_s", "compute_s", "codec_s", "wire_s"}
PINNED = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE",
          "ONEDNN_MAX_CPU_ISA": "SSE41", "OMP_NUM_THREADS": "1"}

COMMON = ["--rounds", "30", "--eval-every", "10", "--seed", "5", "--no-progress",
          "--checkpoint-every", "0"]
CASES: dict[str, list[str]] = {
    "malcom": [],
    "malcom-subtractive": ["--subtractive-dither"],
    "malcom-inf": ["--norm", "inf", "--no-tau-scaling", "--levels", "2", "--gamma", "0.3"],
    "malcom-matching": ["--time-varying", "matching"],
    "choco-qsgd": ["--algorithm", "choco"],
    "choco-topk": ["--algorithm", "choco", "--compressor", "topk", "--codec", "sparse",
                   "--gamma", "0.04"],
    "choco-randk": ["--algorithm", "choco", "--compressor", "randk", "--codec", "sparse",
                    "--gamma", "0.04", "--unbiased"],
    "choco-sign": ["--algorithm", "choco", "--compressor", "sign", "--codec", "vsc",
                   "--gamma", "0.1"],
    "dpsgd": ["--algorithm", "dpsgd"],
    "dpsgd-drop": ["--algorithm", "dpsgd", "--time-varying", "drop"],
    "adaptive-topk": ["--algorithm", "adaptive-topk", "--model", "logreg"],
    "gdsec": ["--algorithm", "gdsec", "--model", "logreg"],
    "sasg": ["--algorithm", "sasg", "--model", "logreg", "--sasg-window", "3"],
    "topk-ef": ["--algorithm", "topk-ef", "--model", "logreg"],
}
# Options added after the digests were recorded that restore the recorded behaviour, per case
# prefix (a later change of a default must add its old value here).
EXTRA: dict[str, list[str]] = {"dpsgd": ["--dpsgd-form", "cta"], "choco-qsgd": ["--gamma", "0.34"]}


def case_args(name: str) -> list[str]:
    extra = [a for prefix, args in EXTRA.items() if name.startswith(prefix) for a in args]
    return [*COMMON, *CASES[name], *extra]


def tensor_digest(path: Path) -> str:
    import torch

    state = torch.load(path, weights_only=True)
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().cpu().contiguous()
        h.update(k.encode())
        h.update(str(t.dtype).encode())
        h.update(repr(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def metrics_digest(path: Path) -> str:
    h = hashlib.sha256()
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        rec = {k: v for k, v in json.loads(line).items() if k not in TIME_FIELDS}
        h.update(json.dumps(rec, sort_keys=True).encode() + b"\n")
    return h.hexdigest()


def digest_run(out: Path) -> dict:
    return {"metrics": metrics_digest(out / "metrics.jsonl"),
            "model": tensor_digest(out / "model.pt"),
            "rank_models": [tensor_digest(p) for p in sorted((out / "rank_models").glob("*.pt"))]}


def run_case(name: str, out: Path, mpi: bool, extra: tuple = ()) -> dict:
    env = {**os.environ, **PINNED}
    if mpi:
        from gossip.tools.mpiexec import find_mpiexec

        mpiexec = find_mpiexec() or "mpiexec"
        cmd = [mpiexec, "-n", "4", sys.executable, "-m", "gossip", "train"]
    else:  # in this process, through the same command line (no interpreter start per case)
        import contextlib
        import io

        from gossip.cli import main as gossip_main

        args = ["train", "--comm", "inprocess", "--ranks", "4", *case_args(name), *extra,
                "--out", str(out)]
        log = io.StringIO()
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            rc = gossip_main(args)
        if rc != 0:
            raise RuntimeError(f"{name}: exit {rc}\n{log.getvalue()}")
        return digest_run(out)
    r = subprocess.run([*cmd, *case_args(name), *extra, "--out", str(out)], capture_output=True,
                       text=True, env=env, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"{name}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return digest_run(out)


def main(argv: list[str]) -> int:
    if any(os.environ.get(k) != v for k, v in PINNED.items()):  # torch may be imported: re-run
        r = subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv],
                           env={**os.environ, **PINNED}, capture_output=True, text=True)
        print(r.stdout, end="")
        print(r.stderr, end="", file=sys.stderr)
        return r.returncode
    mode = argv[0] if argv else "check"
    mpi = "--mpi" in argv
    extra = ()
    if "--kernels" in argv:
        i = argv.index("--kernels")
        extra = ("--kernels", argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    names = [a for a in argv[1:] if not a.startswith("--")] or list(CASES)
    with tempfile.TemporaryDirectory() as tmp:
        got = {}
        for name in names:
            got[name] = run_case(name, Path(tmp) / name, mpi=False, extra=extra)
            if mpi:
                got[name + "@mpi"] = run_case(name, Path(tmp) / (name + "-mpi"), mpi=True,
                                              extra=extra)
            print(f"{name}: done", flush=True)
    if mode == "record":
        DIGESTS.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(got)} digests in {DIGESTS}")
        return 0
    want = json.loads(DIGESTS.read_text())
    bad = 0
    for key, dig in got.items():
        ref = want.get(key.removesuffix("@mpi"))
        same = ref == dig
        bad += not same
        print(f"{'identical' if same else 'DIFFERENT'}  {key}")
    print(f"{len(got) - bad} of {len(got)} runs byte-identical to the recorded digests")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
