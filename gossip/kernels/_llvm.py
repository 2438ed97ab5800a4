"""LLVM bit intrinsics numba does not expose: count leading / trailing zeros and population
count of a 64-bit integer (``llvm.ctlz.i64`` / ``llvm.cttz.i64`` with zero defined as 64,
``llvm.ctpop.i64``)."""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def clz64(typingctx, x):
    """Leading zero bits of an int64 (64 for 0)."""
    if not isinstance(x, types.Integer):
        return None
    sig = types.int64(x)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        v = context.cast(builder, args[0], signature.args[0], types.int64)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i64, [i64, ir.IntType(1)]), "llvm.ctlz.i64")
        return builder.call(fn, [v, ir.Constant(ir.IntType(1), 0)])

    return sig, codegen


@intrinsic
def popcount64(typingctx, x):
    """Set bits of an int64."""
    if not isinstance(x, types.Integer):
        return None
    sig = types.int64(x)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        v = context.cast(builder, args[0], signature.args[0], types.int64)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i64, [i64]), "llvm.ctpop.i64")
        return builder.call(fn, [v])

    return sig, codegen


@intrinsic
def ctz64(typingctx, x):
    """Trailing zero bits of an int64/uint64 (64 for 0)."""
    if not isinstance(x, types.Integer):
        return None
    sig = types.int64(x)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        v = context.cast(builder, args[0], signature.args[0], types.int64)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i64, [i64, ir.IntType(1)]), "llvm.cttz.i64")
        return builder.call(fn, [v, ir.Constant(ir.IntType(1), 0)])

    return sig, codegen
