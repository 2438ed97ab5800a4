"""LLVM bit intrinsics numba does not expose: count leading / trailing zeros and population
count of a 64-bit integer (``llvm.ctlz.i64`` / ``llvm.cttz.i64`` with zero defined as 64,
``llvm.ctpop.i64``), bit reversal (``llvm.bitreverse.i64``), and x86 BMI2 ``pdep`` where it
is fast (:data:`FAST_PDEP`)."""

from __future__ import annotations

from llvmlite import binding, ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def _bit_intrinsic(name: str, llvm_name: str, zero_flag: bool, doc: str):
    """An int64 → int64 intrinsic calling ``llvm_name``; ``zero_flag``: the intrinsic takes
    the i1 "result undefined for 0" flag (passed as 0: defined, 64 for 0)."""

    def typer(typingctx, x):
        if not isinstance(x, types.Integer):
            return None

        def codegen(context, builder, signature, args):
            i64, i1 = ir.IntType(64), ir.IntType(1)
            v = context.cast(builder, args[0], signature.args[0], types.int64)
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(i64, [i64, i1] if zero_flag else [i64]), llvm_name)
            return builder.call(fn, [v, ir.Constant(i1, 0)] if zero_flag else [v])

        return types.int64(x), codegen

    typer.__name__ = typer.__qualname__ = name
    typer.__doc__ = doc
    return intrinsic(typer)


clz64 = _bit_intrinsic("clz64", "llvm.ctlz.i64", True, "Leading zero bits of an int64 (64 for 0).")
ctz64 = _bit_intrinsic("ctz64", "llvm.cttz.i64", True,
                       "Trailing zero bits of an int64/uint64 (64 for 0).")
popcount64 = _bit_intrinsic("popcount64", "llvm.ctpop.i64", False, "Set bits of an int64.")


def _fast_pdep() -> bool:
    """The host CPU has BMI2 and a fast ``pdep`` (not AMD Zen 1/2, where it is microcoded),
    and numba compiles for the host (no ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES``)."""
    from numba.core import config

    if config.CPU_NAME or config.CPU_FEATURES:
        return False
    try:
        name = binding.get_host_cpu_name()
        return bool(binding.get_host_cpu_features().get("bmi2")) and name not in (
            "znver1", "znver2", "bdver4", "btver2", "generic")
    except Exception:  # noqa: BLE001 - no feature query: take the portable code
        return False


#: Whether :func:`pdep64` is used (decided once, at import).
FAST_PDEP = _fast_pdep()


@intrinsic
def bitrev64(typingctx, x):
    """The bits of a uint64 in reverse order (bit 0 <-> bit 63)."""
    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i64, [i64]), "llvm.bitreverse.i64")
        return builder.call(fn, list(args))

    return types.uint64(types.uint64), codegen


@intrinsic
def pdep64(typingctx, x, mask):
    """Parallel bit deposit (x86 BMI2 ``pdep``) of two uint64; only where FAST_PDEP."""
    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i64, [i64, i64]), "llvm.x86.bmi.pdep.64")
        return builder.call(fn, list(args))

    return types.uint64(types.uint64, types.uint64), codegen
