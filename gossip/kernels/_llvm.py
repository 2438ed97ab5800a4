"""LLVM bit intrinsics numba does not expose: count leading / trailing zeros and population
count of a 64-bit integer (``llvm.ctlz.i64`` / ``llvm.cttz.i64`` with zero defined as 64,
``llvm.ctpop.i64``), bit reversal (``llvm.bitreverse.i64``), x86 BMI2 ``pdep`` and
``pext`` where they are fast (:data:`FAST_PDEP`), and 64-lane vector operations on integer
arrays that LLVM lowers to the target's SIMD compares, mask moves and blends (portable LLVM
IR; the tests pass on AVX2, AVX-512 and generic x86-64, ``NUMBA_CPU_NAME=generic``; numba's
loops do not vectorise this work): :func:`eqmask64`, :func:`gemask64`, :func:`lsbmask64`
and :func:`blend64`."""

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


#: Whether :func:`pdep64` and :func:`pext64` are used (decided once, at import).
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


def _bmi2(name: str, llvm_name: str, doc: str):
    """A (uint64, uint64) -> uint64 intrinsic calling the x86 BMI2 instruction ``llvm_name``:
    compiled only where FAST_PDEP (LLVM aborts on a target without BMI2)."""

    def typer(typingctx, x, mask):
        def codegen(context, builder, signature, args):
            i64 = ir.IntType(64)
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(i64, [i64, i64]), llvm_name)
            return builder.call(fn, list(args))

        return types.uint64(types.uint64, types.uint64), codegen

    typer.__name__ = typer.__qualname__ = name
    typer.__doc__ = doc
    return intrinsic(typer)


pdep64 = _bmi2("pdep64", "llvm.x86.bmi.pdep.64",
               "Parallel bit deposit (x86 BMI2 ``pdep``) of two uint64; only where FAST_PDEP.")
pext64 = _bmi2("pext64", "llvm.x86.bmi.pext.64",
               "Parallel bit extract (x86 BMI2 ``pext``) of two uint64; only where FAST_PDEP.")


def _lanes(context, builder, aty, arr, i0, ity):
    """Pointer to the 64 lanes ``arr[i0:i0 + 64]`` as one LLVM vector, and its type."""
    a = context.make_array(aty)(context, builder, arr)
    vt = ir.VectorType(context.get_value_type(aty.dtype), 64)
    p = builder.gep(a.data, [context.cast(builder, i0, ity, types.int64)])
    return builder.bitcast(p, vt.as_pointer()), vt


def _splat(builder, vt, x):
    i32 = ir.IntType(32)
    one = builder.insert_element(ir.Constant(vt, None), x, ir.Constant(i32, 0))
    return builder.shuffle_vector(one, ir.Constant(vt, ir.Undefined),
                                  ir.Constant(ir.VectorType(i32, 64), [0] * 64))


def _int_array(a):
    return isinstance(a, types.Array) and isinstance(a.dtype, types.Integer) and a.layout == "C"


def _compare_mask(name: str, op: str, signed: bool, doc: str):
    """A 64-lane compare of ``a[i0:i0 + 64]`` with ``x`` -> a uint64 with bit ``t`` set where
    lane ``t`` compares true (a C-contiguous integer array; the caller keeps
    ``i0 + 64 <= a.size``; ``x`` is cast to ``a``'s dtype)."""

    def typer(typingctx, a, i0, x):
        if not (_int_array(a) and isinstance(i0, types.Integer)
                and isinstance(x, types.Integer)):
            return None

        def codegen(context, builder, sig, args):
            p, vt = _lanes(context, builder, sig.args[0], args[0], args[1], sig.args[1])
            xv = context.cast(builder, args[2], sig.args[2], sig.args[0].dtype)
            icmp = builder.icmp_signed if signed else builder.icmp_unsigned
            hit = icmp(op, builder.load(p, align=1), _splat(builder, vt, xv))
            return builder.bitcast(hit, ir.IntType(64))

        return types.uint64(a, i0, x), codegen

    typer.__name__ = typer.__qualname__ = name
    typer.__doc__ = doc
    return intrinsic(typer)


eqmask64 = _compare_mask("eqmask64", "==", False, """Bit ``t`` set <=> ``a[i0 + t] == x`` for
``t < 64``.  Numpy definition: ``np.packbits(a[i0:i0 + 64] == x, bitorder="little")
.view("<u8")``.""")
gemask64 = _compare_mask("gemask64", ">=", True, """Bit ``t`` set <=> ``a[i0 + t] >= x``
(signed) for ``t < 64``.  Numpy definition: ``np.packbits(a[i0:i0 + 64] >= x,
bitorder="little").view("<u8")``.""")


@intrinsic
def blend64(typingctx, a, i0, m, x):
    """``a[i0 + t] = x`` for every set bit ``t`` of the uint64 ``m`` (64 lanes read and
    written back; the caller keeps ``i0 + 64 <= a.size``).  Numpy definition:
    ``a[i0:i0 + 64][np.unpackbits(m.view(np.uint8), bitorder="little") == 1] = x``."""
    if not (_int_array(a) and isinstance(i0, types.Integer) and isinstance(m, types.Integer)
            and isinstance(x, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        p, vt = _lanes(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        mv = context.cast(builder, args[2], sig.args[2], types.uint64)
        bits = builder.bitcast(mv, ir.VectorType(ir.IntType(1), 64))
        xv = context.cast(builder, args[3], sig.args[3], sig.args[0].dtype)
        new = builder.select(bits, _splat(builder, vt, xv), builder.load(p, align=1))
        builder.store(new, p, align=1)
        return context.get_dummy_value()

    return types.void(a, i0, m, x), codegen


@intrinsic
def lsbmask64(typingctx, a, i0):
    """Bit ``t`` = the lowest bit of ``a[i0 + t]`` for ``t < 64``; as :func:`eqmask64`.
    Numpy definition: ``np.packbits(a[i0:i0 + 64] & 1, bitorder="little").view("<u8")``."""
    if not (_int_array(a) and isinstance(i0, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        p, vt = _lanes(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        low = builder.trunc(builder.load(p, align=1), ir.VectorType(ir.IntType(1), 64))
        return builder.bitcast(low, ir.IntType(64))

    return types.uint64(a, i0), codegen
