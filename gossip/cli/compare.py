"""``gossip compare FILE``: several methods on one problem, a table of bytes to a target."""

from __future__ import annotations

import argparse


def add_arguments(c: argparse.ArgumentParser) -> None:
    from ..tools.compare import add_arguments as add_compare_arguments
    from ..tools.compare import build_parser

    cp = build_parser()
    c.description, c.epilog = cp.description, cp.epilog
    c.formatter_class = argparse.RawDescriptionHelpFormatter
    add_compare_arguments(c)


def main(args: argparse.Namespace, argv: list[str]) -> int:
    from ..tools.compare import run_from_args

    return run_from_args(args, argv=argv)
