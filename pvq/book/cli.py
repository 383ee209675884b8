"""Command line (``python -m pvq``, or ``pvq`` once installed).

- ``analyze SOURCE``: pruning vs quantization for every layer weight of a model (paper §4).
- ``build --profile ci``: the whole book, chapters then strict HTML (:mod:`pvq.book.build`; ``make book``).
- ``run-notebooks --profile ci``: execute the book's chapters (:mod:`pvq.book.runner`).
- ``imagenet ROOT --arch mobilenet_v2 --method qat --bits 4``: the paper's ImageNet fine-tuning.
- ``defaults [--write]``: the chapters' parameters cells and ``params/full.yaml`` against the
  defaults of :mod:`pvq.book.params`.
- ``pdf``: the whole book as one PDF, printed offline by headless Chromium (:mod:`pvq.book.pdf`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import yaml
from tqdm import tqdm

from ..common.files import atomic_write, check_writable_folder
from ..common.paths import book_root
from ..tensors.analysis import TENSOR_COLUMNS
from ..tensors.checkpoints import MODELS, resolve
from ..tensors.readers import CheckpointError
from ..tensors.summaries import (
    QUANT_COLUMNS,
    analyze_model,
    kurtosis_boundary,
    parse_bits,
    recommendations,
    win_share_by_bits,
)
from .failures import ChapterFailed

__all__ = ["main"]


def _parse_override(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (a YAML value, e.g. n_bits=[2,4]), got {text!r}")
    name, value = text.split("=", 1)
    try:
        return name.strip(), yaml.safe_load(value)
    except yaml.YAMLError as err:
        where = f" at column {err.problem_mark.column + 1}" if getattr(err, "problem_mark", None) else ""
        problem = getattr(err, "problem", None) or type(err).__name__
        raise argparse.ArgumentTypeError(
            f"the value of {name.strip()} is not valid YAML ({problem}{where}), got {value!r}; e.g. n_bits=[2,4]"
        ) from None


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, pointing to ``--help`` instead of printing the usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m pvq", description="pvq: pruning vs quantization, executable.")
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
    run.add_argument(
        "--out", type=Path, help="executed notebooks' folder (default: book/chapters; RESULTS/chapters with --results)"
    )
    run.add_argument("--results", type=Path, help="results folder (default: results/ or $PVQ_RESULTS_DIR)")
    run.add_argument("--jobs", type=int, default=2, help="chapters executed at once (default: 2)")
    run.add_argument(
        "--force", action="store_true", help="execute every chapter, even those whose inputs are unchanged"
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    bld = sub.add_parser(
        "build",
        help="build the whole book: the chapters that need it, then the strict HTML build (make book)",
        description=(
            "Execute the chapters whose code, parameters, inputs, library or packages changed since their last "
            "execution (the others are reused; a prose-only edit rebuilds the page without a kernel), then run "
            "the strict `jupyter-book build . -W -n --keep-going`. One build at a time per checkout: a second waits."
        ),
    )
    bld.add_argument("--profile", default="full", choices=["ci", "full"], help="parameter profile (default: full)")
    bld.add_argument("--force", action="store_true", help="execute every chapter and rewrite every page")
    bld.add_argument("--jobs", type=int, default=2, help="chapters executed at once (default: 2)")
    bld.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    ana = sub.add_parser(
        "analyze",
        help="compare pruning and quantization on every layer weight of a model",
        description=(
            "For every convolution/linear weight tensor of SOURCE and every bit-width b, compare INT-b "
            "quantization with pruning at sparsity 1 - b/16 (paper section 4, Figure 3). Writes "
            "tensors.csv, recommendations.csv, skipped.csv (tensors that could not be analysed) and "
            "the two Figure-3 plots to --out, and prints a summary."
        ),
        epilog=(
            "SOURCE: a short name of the offline models ("
            + ", ".join(_model_names())
            + "), a checkpoint file (.pt/.pth/.bin/.ckpt state dict, .safetensors, .onnx), a Hugging Face "
            "style folder, or online torchvision:<name> / hf:<org>/<name>."
        ),
    )
    ana.add_argument("source", help="model name, file or folder (see below)")
    ana.add_argument("--bits", default="2-8", help="bit-widths, e.g. 2-8 or 2,4,8 (default 2-8)")
    ana.add_argument("--range", dest="range_method", choices=["exact", "paper"], default="exact",
                     help="clipping used for the verdicts: pvq's MSE-optimal search (exact) or the paper's "
                          "100-candidate grid (paper); both are written to tensors.csv (default exact)")  # fmt: skip
    ana.add_argument("--grid", choices=["signed", "symmetric"], default="signed", help="integer grid (default signed)")
    ana.add_argument("--no-fp16", dest="fp16", action="store_false", help="do not round weights to FP16 first")
    ana.add_argument(
        "--key",
        help="entry of a torch checkpoint that holds the weights, e.g. model_state or "
        "checkpoint/ema (default: the largest mapping of named tensors; the summary names it)",
    )
    ana.add_argument(
        "--formats",
        help="also store every tensor in these formats (comma-separated, e.g. int4,fp4_e2m1,nf4_b64,mxfp4,int8_2:4) "
        "and write formats.csv: bits per weight and SNR per tensor and format",
    )
    ana.add_argument(
        "--budget",
        type=str,
        help="bits per weight: pick for each tensor the format of highest SNR within it (best_formats.csv) and "
        "print the model's totals (with no --formats, the formats of the book's chapter 8)",
    )
    ana.add_argument("--out", type=Path, help="output folder (default: pvq-analysis/<model>)")
    ana.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    img = sub.add_parser(
        "imagenet",
        help="fine-tune an ImageNet model with QAT or gradual pruning (paper section 6)",
        description=(
            "Fine-tune the offline ImageNet-pretrained ARCH on the ImageNet folder ROOT with quantization-aware "
            "training (--method qat --bits B) or gradual magnitude pruning (--method prune --sparsity S), with the "
            "hyperparameters of the paper's repository (pvq.finetune.imagenet.PAPER_RECIPES), and report the top-1 "
            "validation accuracy. Needs a GPU in practice (20 epochs over 1.28M images)."
        ),
        epilog="ROOT must hold train/<class>/<image> and val/<class>/<image> with the same class folders.",
    )
    img.add_argument("root", type=Path, help="ImageNet folder with train/ and val/ class folders")
    img.add_argument("--arch", required=True, choices=["mobilenet_v2", "efficientnet_lite0"], help="network")
    ptq = ["rtn", "gptq", "magnitude", "magnitude_ls", "sparsegpt", "fp4_gptq", "nf4_b64", "mxfp4"]
    img.add_argument("--method", required=True, choices=["qat", "prune", "qat+prune", *ptq, "two_four_sparsegpt"],
                     help="fine-tuning (qat, prune, qat+prune) or a post-training method of chapter 9")  # fmt: skip
    img.add_argument("--bits", type=int, help="bit-width (QAT, or a post-training method's paired point), e.g. 4")
    img.add_argument("--sparsity", type=float, default=0.0, help="target sparsity (methods prune, qat+prune)")
    img.add_argument("--epochs", type=int, default=20, help="fine-tuning epochs (default 20)")
    img.add_argument("--seed", type=int, default=0, help="seed of the data order and augmentation (default 0)")
    img.add_argument("--device", default="auto", help="cpu, cuda or auto (default auto)")
    img.add_argument("--workers", type=int, default=4, help="image decoding threads (default 4)")
    img.add_argument("--out", type=Path, help="JSON file for the run's record")
    img.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    dfl = sub.add_parser(
        "defaults",
        help="check (or rewrite) the chapters' parameters cells and params/full.yaml against the defaults",
        description=(
            "The defaults of every chapter parameter live in the parameter records of pvq/book (params.py, "
            "layer_params.py, training_params.py). Without --write, list where a "
            "chapter's parameters cell or params/full.yaml disagrees with them (exit status 1 if anywhere); with "
            "--write, rewrite both from the defaults."
        ),
    )
    dfl.add_argument("--write", action="store_true", help="rewrite the parameters cells and params/full.yaml")
    pdf = sub.add_parser(
        "pdf",
        help="print the whole book as one PDF (after make book)",
        description=(
            "Build the book as one HTML page (jupyter-book --builder singlehtml, strict) from the executed chapters "
            "in book/chapters, and print it offline with headless Chromium once MathJax and every image are done. "
            "Writes _build/pdf/pvq-book.pdf and copies it to _build/html/pvq-book.pdf, where the intro links to it."
        ),
    )
    pdf.add_argument("--out", type=Path, help="the PDF to write (default: _build/pdf/pvq-book.pdf)")
    pdf.add_argument("--timeout", type=float, default=180.0, help="longest wait for MathJax, in seconds (default 180)")
    args = parser.parse_args(argv)

    if args.command == "defaults":
        return _defaults(args)

    if args.command == "analyze":
        return _analyze(args)
    if args.command == "imagenet":
        return _imagenet(args)
    if args.command == "pdf":
        return _pdf(args)
    _log_progress_lines()
    if args.command == "build":
        return _build(args)
    from .runner import execute_chapters  # here, as each command's own imports: `--help` needs none of them

    start = time.perf_counter()
    out = args.out or (args.results / "chapters" if args.results else None)  # never mix into the book's own
    try:
        runs = execute_chapters(
            args.profile,
            out_dir=out,
            results_dir=args.results,
            only=args.only,
            overrides=dict(args.param),
            jobs=args.jobs,
            progress=not args.no_progress,
            force=args.force,
        )
    except ChapterFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"pvq run-notebooks: error: {err}", file=sys.stderr)
        return 2
    folder = runs[0].output.parent.resolve()
    folder = folder.relative_to(Path.cwd()) if folder.is_relative_to(Path.cwd()) else folder
    print(f"{_tally(runs)} in {_duration(time.perf_counter() - start)} ({args.profile} profile) -> {folder}")
    return 0


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s"


def _tally(runs) -> str:
    """``"8 chapters: 1 executed, 6 reused, 1 page rebuilt"``."""
    counts = {a: sum(r.action == a for r in runs) for a in ("executed", "reused", "refreshed")}
    parts = [f"{counts['executed']} executed", f"{counts['reused']} reused"]
    if counts["refreshed"]:
        parts.append(f"{counts['refreshed']} page(s) rebuilt from new prose")
    return f"{len(runs)} chapters: " + ", ".join(parts)


def _say_waiting(holder: str) -> None:
    print(f"another build is running in this checkout ({holder}); waiting for it to finish", file=sys.stderr)


def _build(args) -> int:
    from .build import build_book

    try:
        done = build_book(args.profile, force=args.force, jobs=args.jobs, progress=not args.no_progress,
                          waiting=_say_waiting)  # fmt: skip
    except ChapterFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError) as err:
        print(f"pvq build: error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # the HTML build failed; Sphinx printed why
        print(f"pvq build: error: {err}", file=sys.stderr)
        return 1
    html = done.html.relative_to(Path.cwd()) if done.html.is_relative_to(Path.cwd()) else done.html
    rewrote = "every page rewritten" if done.rewrote_all else "changed pages rewritten"
    print(f"{_tally(done.runs)}; HTML built ({rewrote}) in {_duration(done.seconds)} ({args.profile} profile): {html}")
    executed = sorted((r for r in done.runs if r.action == "executed"), key=lambda r: -r.seconds)
    if executed:  # where the time went (the whole record: results/build_timings.csv)
        total = sum(r.seconds for r in executed)
        print("time per executed chapter: " + ", ".join(
            f"{r.stem} {_duration(r.seconds)} ({100 * r.seconds / total:.0f}%)" for r in executed))  # fmt: skip
    return 0


class _TqdmHandler(logging.Handler):
    """Writes log records above the progress bar instead of through it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


def _log_progress_lines() -> None:
    """Show the runner's per-chapter lines (started, done in, failed) on stderr, above the bar.

    Papermill's own warnings and errors (a cell timing out, a kernel dying) come through the same
    way, prefixed with the chapter (the runner names its threads after the chapters).
    """
    for name, level, form in (
        ("pvq.book.runner", logging.INFO, "%(message)s"),
        ("papermill", logging.WARNING, "        %(threadName)s: %(message)s (papermill)"),
    ):
        logger = logging.getLogger(name)
        if not any(isinstance(h, _TqdmHandler) for h in logger.handlers):
            handler = _TqdmHandler()
            handler.setFormatter(logging.Formatter(form))
            logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


def _defaults(args) -> int:
    from .profiles import stale_defaults, write_defaults

    root = book_root()
    if args.write:
        for path in write_defaults(root):
            print(f"rewrote {path.relative_to(root)}")
        return 0
    problems = stale_defaults(root)
    for p in problems:
        print(p)
    if problems:
        print("run `python -m pvq defaults --write` to rewrite them from the parameter records", file=sys.stderr)
    return 1 if problems else 0


def _pdf(args) -> int:
    from .pdf import build_pdf, check_book_executed

    try:
        check_book_executed()  # a refusal is one line, without the notice below
        print("building the book as one page and printing it (a minute or two) ...", file=sys.stderr)
        path = build_pdf(out=args.out, timeout_s=args.timeout)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"pvq pdf: error: {err}", file=sys.stderr)
        return 2
    print(f"written to {path}")
    return 0


def _model_names() -> list[str]:

    return list(MODELS)


def _analyze(args) -> int:
    from .plots import plot_tensor_snr, plot_win_vs_kurtosis

    try:
        bits = parse_bits(args.bits, name="--bits")
        if args.grid == "symmetric" and min(bits) < 2:
            raise ValueError(f"--grid symmetric needs bit-widths >= 2 (its 1-bit grid is {{0}}), got {args.bits}")
        fmts, budget = _format_options(args)
        check_writable_folder(args.out or Path("pvq-analysis"))  # before loading anything
        ckpt = resolve(args.source, key=args.key)
        tensors, skipped = analyze_model(ckpt, bits, fp16=args.fp16, grid=args.grid, progress=not args.no_progress)
        table = _formats(ckpt, fmts, args) if fmts else None
    except (ValueError, FileNotFoundError, CheckpointError) as err:
        print(f"pvq analyze: error: {err}", file=sys.stderr)
        return 2
    out = args.out or Path("pvq-analysis") / ckpt.label
    out.mkdir(parents=True, exist_ok=True)
    col = QUANT_COLUMNS[args.range_method]

    def csv(df, name):
        atomic_write(out / name, lambda p: df.to_csv(p, index=False))

    csv(tensors[TENSOR_COLUMNS], "tensors.csv")
    csv(recommendations(tensors, method=args.range_method), "recommendations.csv")
    csv(skipped, "skipped.csv")
    if len(tensors):
        for name, fig in (
            ("fig-tensor-snr.png", plot_tensor_snr(tensors, quant_col=col, title=ckpt.label)),
            ("fig-win-vs-kurtosis.png",
             plot_win_vs_kurtosis(tensors, kurtosis_boundary(tensors, method=args.range_method), quant_col=col)),
        ):  # fmt: skip
            atomic_write(out / name, lambda p, f=fig: f.savefig(p, dpi=130, format="png"))
    n = tensors.tensor.nunique()
    print(f"{ckpt.label}: {n} layer weight tensors analysed, {len(skipped)} skipped; clipping: {args.range_method}")
    if ckpt.entry is not None:
        print(f"  weights from entry {ckpt.entry or '(top level)'!r} of {ckpt.path.name} (choose another with --key)")
    for r in skipped.itertuples():
        print(f"  skipped {r.tensor}: {r.reason}")
    for r in win_share_by_bits(tensors, method=args.range_method).itertuples():
        print(
            f"  INT{r.n_bits} vs {r.sparsity:.2%} pruning: quantization better on {r.quant_wins_share:.1%} "
            f"of tensors (median margin {r.median_margin_db:+.2f} dB)"
        )
    written = ["tensors.csv", "recommendations.csv", "skipped.csv", "fig-tensor-snr.png", "fig-win-vs-kurtosis.png"]
    if table is not None:
        csv(table, "formats.csv")
        written.append("formats.csv")
        if budget is not None:
            from ..formats.advisor import best_within_budget, budget_totals

            best = best_within_budget(table, budget)
            csv(best, "best_formats.csv")
            written.append("best_formats.csv")
            t = budget_totals(best).iloc[0]
            print(
                f"  formats within {budget:g} bits per weight: {t.bits_per_weight:.3f} bits per weight on average, SNR "
                f"{t.snr_db_weighted:.2f} dB (weight-weighted mean over tensors; whole model {t.snr_db_pooled:.2f} dB)"
            )
            for fmt, count in best["format"].replace("", "(none fits)").value_counts().items():
                print(f"    {fmt}: {count} tensors")
    print(f"written to {out}/: {', '.join(written)}")
    return 0


def _format_options(args):
    """``--formats`` and ``--budget`` checked before any work: the formats and the budget (or ``None``)."""
    from ..formats.advisor import check_budget
    from ..formats.catalog import CHAPTER_FORMATS, check_format_names

    if args.formats is None and args.budget is None:
        return None, None
    fmts = check_format_names(args.formats if args.formats is not None else list(CHAPTER_FORMATS))
    budget = None if args.budget is None else check_budget(args.budget, fmts)
    return fmts, budget


def _formats(ckpt, fmts, args):
    from ..formats.advisor import analyze_formats

    return analyze_formats(ckpt, fmts, fp16=args.fp16, progress=not args.no_progress)[0]


def _imagenet(args) -> int:
    from .imagenet_ptq import imagenet_command

    return imagenet_command(args)
