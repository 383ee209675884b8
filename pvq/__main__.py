"""Command line: ``python -m pvq run-notebooks --profile ci``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml


def _parse_override(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    name, value = text.split("=", 1)
    return name.strip(), yaml.safe_load(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pvq", description="pvq: pruning vs quantization, executable.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run-notebooks",
        help="execute the chapters with papermill under a profile",
        description="Execute notebooks/NN_*.py with papermill into book/chapters/ (Claims page last).",
    )
    run.add_argument("--profile", default="full", choices=["ci", "full"], help="parameter profile (default: full)")
    run.add_argument("--only", nargs="+", metavar="CHAPTER", help="chapter stems or numbers, e.g. 02")
    run.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        type=_parse_override,
        metavar="NAME=VALUE",
        help="override a parameter (YAML value), e.g. -p 'n_bits=[3,4]'",
    )
    run.add_argument("--out", type=Path, help="folder for executed notebooks (default: book/chapters)")
    run.add_argument("--results", type=Path, help="results folder (default: results/ or $PVQ_RESULTS_DIR)")
    run.add_argument("--jobs", type=int, default=2, help="chapters executed at once (default: 2)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)

    from .build import execute_chapters

    try:
        runs = execute_chapters(
            args.profile,
            out_dir=args.out,
            results_dir=args.results,
            only=args.only,
            overrides=dict(args.param),
            jobs=args.jobs,
            progress=not args.no_progress,
        )
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for r in runs:
        print(f"{r.stem}: {r.seconds:.1f} s -> {r.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
