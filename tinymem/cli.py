"""The command line: parse options, call the library, hand results to a renderer."""

from __future__ import annotations

import json
import math
import os
import sys
import time

import click
from rich.console import Console

from . import __version__
from .errors import TinymemError
from .targets import DEFAULT_CORE, Kernels, resolve_target, targets_help

EXIT_USAGE = 2


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    from .report.safe_text import visible

    click.echo(f"tinymem: error: {visible(message)}", err=True)  # always one line
    sys.exit(code)


def _say(message: str) -> None:
    """A status line on stderr ("wrote ..."), untrusted parts made visible."""
    from .report.safe_text import visible

    click.echo(visible(message), err=True)


def _finite(value):
    """JSON has no NaN or Infinity: a figure that is not finite is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _print_json(doc: dict) -> None:
    click.echo(json.dumps(_finite(doc), indent=2, allow_nan=False))


def _check_outputs(outputs: list[tuple[str, str | None]], inputs: list[str | None]) -> None:
    """Fail before any work when an output could not be written (see tinymem.fileio)."""
    from .fileio import check_outputs

    check_outputs(outputs, inputs)


def _target_options(f):
    """--target and --kernels: the CPU and kernel set the arena is predicted for."""
    f = click.option("--kernels", "kernels", metavar="SET", default=None,
                     help="Kernel set: " + ", ".join(k.value for k in Kernels)
                     + " (default: cmsis-nn; reference on host).")(f)
    return click.option("--target", "target", metavar="CORE", default=DEFAULT_CORE,
                        show_default=True,
                        help="CPU the model runs on: " + targets_help()
                        + "; host is the x86-64 tflite-micro wheel.")(f)


@click.group()
@click.version_option(__version__, prog_name="tinymem")
def cli() -> None:
    """How much SRAM a TFLite model needs on a microcontroller, and how to need less."""


@cli.command()
@click.argument("model_paths", metavar="MODEL.tflite...", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document (tinymem.profile/1); with several models, a list of them.")
@click.option("--no-layout", is_flag=True, help="Skip the search for a better memory layout.")
@click.option("--rows", type=click.IntRange(min=0), default=None, help="Show at most this many layer rows.")
@click.option("--sram", "sram", metavar="SIZE", help="SRAM budget to draw on --plot/--html: 256k, 256KiB, 262144.")
@click.option("--plot", "plot_path", metavar="FILE.svg|FILE.png", help="Draw live memory per op (needs matplotlib).")
@click.option("--html", "html_path", metavar="REPORT.html", help="Write a self-contained HTML report (needs matplotlib).")
@click.option("--csv", "csv_path", metavar="FILE.csv", help="Write the per-layer table as CSV.")
@_target_options
def profile(model_paths: tuple[str, ...], as_json: bool, no_layout: bool, rows: int | None,
            sram: str | None, plot_path: str | None, html_path: str | None,
            csv_path: str | None, target: str, kernels: str | None) -> None:
    """Profile MODEL.tflite: the arena to set on the target, and why (several models: one
    summary row each)."""
    from .memory.profile import profile_model
    from .ops.support import check_support, deploy_snippet
    from .read.reader import load_model
    from .targets import resolve_target
    from .report.units import parse_size

    if len(model_paths) > 1:
        if plot_path or html_path or csv_path:
            raise TinymemError("--plot, --html and --csv take one model; "
                               f"{len(model_paths)} were given")
        _profile_many(model_paths, as_json, not no_layout, resolve_target(target, kernels))
        return
    model_path = model_paths[0]
    budget = parse_size(sram) if sram is not None else None
    tgt = resolve_target(target, kernels)
    if budget is not None and not (plot_path or html_path):
        raise click.UsageError("--sram on profile only draws the budget on --plot or --html; "
                               "give one of them, or use `tinymem explore --sram`")
    _check_outputs([("--plot", plot_path), ("--html", html_path), ("--csv", csv_path)],
                   [model_path])
    if plot_path or html_path:
        from .report.plots import require

        require(plot_path)  # fail before the work: no matplotlib, or not .svg/.png
    model = load_model(model_path)
    prof = profile_model(model, search_layout=not no_layout, target=tgt)
    support = check_support(model, tgt)
    required = prof.required_bytes
    if as_json:
        from .report.profile_json import profile_document

        _print_json(profile_document(prof, support, required))
    else:
        from .report.profile_view import profile_view

        console = Console()
        console.print(profile_view(prof, max_rows=rows, width=console.width, support=support,
                                   deploy=deploy_snippet(model, support, required)))
    if csv_path:
        from .report.layer_csv import write_layer_csv

        write_layer_csv(prof, csv_path)
        _say(f"wrote {csv_path}")
    if plot_path:
        from .report.plots import memory_plot

        memory_plot(prof, plot_path, budget=budget)
        _say(f"wrote {plot_path}")
    if html_path:
        from .report.html import profile_html

        profile_html(prof, html_path, budget=budget, support=support,
                     deploy=deploy_snippet(model, support, required))
        _say(f"wrote {html_path}")


def _curve_path(plot_path: str) -> str:
    """Where explore --plot draws the chosen option's memory curve beside the Pareto plot."""
    root, ext = os.path.splitext(plot_path)
    return f"{root}.curve{ext}"


_STDIN_LIMIT = 64 * 1024 * 1024  # a profile document of a 10,000-op model is a few MB


def _profile_many(paths: tuple[str, ...], as_json: bool, search_layout: bool, target) -> None:
    """Each model's summary (a row, or a JSON document); a file that fails gets its
    error in its row and the exit code is 2, without hiding the others."""
    from .memory.profile import profile_model
    from .read.reader import load_model

    results = []
    for path in paths:
        try:
            results.append((path, profile_model(load_model(path), search_layout=search_layout,
                                                target=target), None))
        except TinymemError as e:
            results.append((path, None, str(e)))
    if as_json:
        from .report.profile_json import error_document, profile_document

        _print_json([profile_document(p) if p is not None else error_document(path, err)
                     for path, p, err in results])
    else:
        from .report.profile_view import profiles_table

        console = Console()
        console.print(profiles_table(results, console.width))
    failed = sum(p is None for _, p, _ in results)
    if failed:
        _fail(f"{failed} of {len(results)} models could not be profiled (see "
              f"{'their documents' if as_json else 'the table'})")


def _model_path_from_stdin() -> str:
    """The model a `profile --json` document on stdin names (for pipes).

    The document is untrusted like any input: its shape is checked, the file
    it names must be a regular file, and of the size the document recorded.
    """
    from .fileio import check_input

    if sys.stdin is None or sys.stdin.isatty():
        raise TinymemError("no model given: pass MODEL.tflite, or pipe `tinymem profile "
                           "MODEL.tflite --json` into `tinymem explore`")
    not_a_profile = ("stdin is not a tinymem profile JSON document (tinymem.profile/1, as "
                     "`tinymem profile MODEL --json` prints)")
    text = sys.stdin.buffer.read(_STDIN_LIMIT + 1)
    if len(text) > _STDIN_LIMIT:
        raise TinymemError(f"{not_a_profile}: more than {_STDIN_LIMIT >> 20} MiB")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: brackets nested too deep
        raise TinymemError(not_a_profile) from None
    if not isinstance(doc, dict) or doc.get("schema") not in ("tinymem.profile/1", "tinymem.profile/2"):
        raise TinymemError(not_a_profile)
    model = doc.get("model")
    path = model.get("path") if isinstance(model, dict) else None
    if not isinstance(path, str) or not path:
        raise TinymemError("the profile document on stdin does not name its model file "
                           "(model.path must be a string)")
    size = check_input(path).st_size
    recorded = model.get("file_bytes")
    if recorded is not None and (type(recorded) is not int or recorded != size):
        raise TinymemError(f"{path}: the profile document on stdin describes a file of "
                           f"{recorded} bytes, but it now has {size:,}; profile it again")
    return path


class _LazyProgress:
    """A progress display on stderr that only appears once a search runs over a second."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.start = time.monotonic()
        self.progress = None
        self.task = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.progress is None:
            if time.monotonic() - self.start < 1.0:
                return
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(SpinnerColumn(), TextColumn("exploring schedules"),
                                     BarColumn(), TextColumn("{task.completed} candidates"),
                                     TimeElapsedColumn(), console=Console(stderr=True),
                                     transient=True)
            self.progress.start()
            self.task = self.progress.add_task("explore", total=None)
        self.progress.update(self.task, completed=done)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@cli.command()
@click.argument("model_path", metavar="[MODEL.tflite]", required=False)
@click.option("--sram", "sram", metavar="SIZE", help="SRAM budget for activations: 256k, 256KiB, 262144, 0.25M.")
@click.option("--max-overhead", metavar="FRACTION", help="Largest MAC overhead to recommend: 10% or 0.1.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (tinymem.explore/1).")
@click.option("-o", "--output", "output", metavar="OUT.tflite", help="Write the recommended (or --option) schedule as a .tflite.")
@click.option("--option", "option_id", metavar="ID", help="The option to write with -o (default: the recommended one).")
@click.option("--plot", "plot_path", metavar="FILE.svg|FILE.png", help="Draw every option: TFLM arena vs MAC overhead, the Pareto front (needs matplotlib).")
@click.option("--html", "html_path", metavar="REPORT.html", help="Write a self-contained HTML report: profile, options, plots (needs matplotlib).")
@click.option("--beam", type=click.IntRange(1, 64), default=None, metavar="N", help="States the search keeps per step and objective (default 6; 1 is fastest).")
@click.option("--overwrite-inputs", is_flag=True, help="Let ops run in place over the model's inputs (their data is lost after Invoke).")
@_target_options
def explore(model_path: str | None, sram: str | None, max_overhead: str | None, as_json: bool,
            output: str | None, option_id: str | None, plot_path: str | None,
            html_path: str | None, overwrite_inputs: bool, beam: int | None, target: str,
            kernels: str | None) -> None:
    """List the schedules that lower MODEL's peak SRAM, and what each costs.

    With no MODEL, reads the JSON `tinymem profile MODEL --json` printed from stdin.
    """
    from .read.reader import load_model
    from .schedules.explore import explore as run_explore
    from .targets import resolve_target
    from .report.units import parse_fraction, parse_size

    budget = parse_size(sram) if sram is not None else None
    limit = parse_fraction(max_overhead) if max_overhead is not None else None
    tgt = resolve_target(target, kernels)
    if option_id is not None and output is None and plot_path is None:
        raise click.UsageError("--option picks the schedule -o writes (and --plot compares); "
                               "give -o OUT.tflite")
    path = model_path or _model_path_from_stdin()
    _check_outputs([("-o", output), ("--plot", plot_path),
                    ("--plot's curve companion", _curve_path(plot_path) if plot_path else None),
                    ("--html", html_path)], [path])
    if plot_path or html_path:
        from .report.plots import require

        require(plot_path)  # fail before the search: no matplotlib, or not .svg/.png
    model = load_model(path)
    progress = _LazyProgress(enabled=sys.stderr.isatty() or bool(os.environ.get("TINYMEM_PROGRESS")))
    try:
        extra = {} if beam is None else {"beam": beam}
        ex = run_explore(model, budget=budget, max_overhead=limit, progress=progress,
                         target=tgt, overwrite_inputs=overwrite_inputs, **extra)
    finally:
        progress.close()
    chosen = None
    if option_id is not None:
        chosen = ex.get(option_id)
        if chosen is None:
            raise TinymemError(f"no option '{option_id}'; options are: "
                               + ", ".join(o.id for o in ex.options))
    if as_json:
        from .report.explore_json import explore_document

        _print_json(explore_document(ex))
    else:
        from .report.explore_view import explore_view

        console = Console()
        console.print(explore_view(ex, console.width))
    # Written before the no-fit exit: the pictures matter most when nothing fits.
    if plot_path or html_path:
        from .memory.profile import profile_model
        from .report.summary import option_to_show

        shown = option_to_show(ex, chosen)
        # Each profile planned with its option's own plan: the figures the table gives.
        base_prof = profile_model(model, search_layout=bool(html_path), target=tgt,
                                  plan=ex.baseline.plan)
        shown_prof = (None if shown is ex.baseline else
                      profile_model(shown.model, search_layout=False, target=tgt,
                                    plan=shown.plan))
    if plot_path:
        from .report.plots import pareto_plot

        pareto_plot(ex, plot_path)
        _say(f"wrote {plot_path}")
        if shown_prof is not None:
            from .report.plots import curve_comparison_plot

            curve_path = _curve_path(plot_path)
            curve_comparison_plot(base_prof, shown_prof, curve_path, budget=budget,
                                  labels=("baseline", shown.id))
            _say(f"wrote {curve_path} (memory over time: {shown.id} vs baseline)")
    if html_path:
        from .report.html import profile_html

        profile_html(base_prof, html_path, budget=budget, exploration=ex,
                     shown_profile=shown_prof)
        _say(f"wrote {html_path}")
    if budget is not None and ex.recommended is None:
        from .report.summary import no_fit_message

        _fail(no_fit_message(ex), 1)
    if output is not None:
        chosen = chosen or ex.recommended
        if chosen is None:
            raise TinymemError("no option to write: pass --option ID")
        from .ops.support import check_support, resolver_calls
        from .writer import write_option

        # A file the target cannot run is never written (not even the baseline).
        support = check_support(chosen.model, tgt)
        if not support.runs:
            raise TinymemError(f"option {chosen.id} would not run on {tgt.label()} "
                               f"({support.brief()}): {output} not written")
        size = write_option(chosen, output)
        _say(f"wrote {output} ({size:,} bytes): option {chosen.id}, arena to set "
             f"{chosen.required_bytes:,} B on {tgt.label()}")
        added = [c for c in resolver_calls(chosen.model) if c not in resolver_calls(model)]
        if added:
            _say(f"the rewritten model also needs {', '.join(added)} in its "
                 f"MicroMutableOpResolver<{len(resolver_calls(chosen.model))}>")


@cli.command()
@click.argument("original", metavar="ORIGINAL.tflite")
@click.argument("rewritten", metavar="REWRITTEN.tflite")
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Seeded random inputs to run.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=120.0,
              show_default=True, metavar="SECONDS",
              help="Time budget for all the runtimes together.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (tinymem.verify/1).")
@click.option("--firmware", "firmware_dir", metavar="DIR", default=None,
              help="A TFLM firmware runner (../shared/targets layout): run both files on "
                   "--target in QEMU instead of the host runtimes.")
@_target_options
def verify(original: str, rewritten: str, runs: int, seed: int, timeout: float, as_json: bool,
           firmware_dir: str | None, target: str, kernels: str | None) -> None:
    """Run ORIGINAL and REWRITTEN in LiteRT and TFLite Micro and compare them.

    With --firmware, run both on the target's TFLM firmware: measured head, tail,
    whether each runs at tinymem's predicted arena, and whether outputs are identical.
    Exit code 0 when every runtime that ran gives the same results, 1 otherwise.
    """
    from .verify.compare import verify_models

    if firmware_dir is not None:
        from .read.reader import load_model
        from .verify.compare import verify_on_firmware

        load_model(original)
        load_model(rewritten)
        fw = verify_on_firmware(original, rewritten, resolve_target(target, kernels),
                                folder=firmware_dir, seed=seed)
        if as_json:
            _print_json({"schema": "tinymem.verify-firmware/1", **fw.to_json(), "ok": fw.ok})
        else:
            for rec in (fw.original, fw.rewritten):
                fits = {True: "yes", False: "NO", None: "?"}[rec.works_at_required]
                click.echo(f"{fw.target}: {rec.path}: head {rec.head} tail {rec.tail}; runs at "
                           f"predicted {rec.required_predicted} B: {fits}"
                           + (f" ({rec.error})" if rec.error else ""))
            click.echo(f"outputs identical: {fw.outputs_identical}")
        if not fw.ok:
            sys.exit(1)
        return

    report = verify_models(original, rewritten, runs=runs, seed=seed, timeout=timeout)
    if as_json:
        _print_json(report.to_json())
    else:
        from .report.verify_view import verify_view

        Console().print(verify_view(report))
    if report.not_run:
        _fail("not verified: " + "; ".join(f"{r.runtime} did not run ({r.error})"
                                           for r in report.not_run), 1)
    if not report.ok:
        sys.exit(1)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except TinymemError as e:
        _fail(str(e))
    except click.exceptions.Abort:
        _fail("aborted", 130)
    except click.ClickException as e:
        _fail(e.format_message(), e.exit_code if e.exit_code else EXIT_USAGE)
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`); not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as e:  # a bug in tinymem: still one line, unless debugging
        if os.environ.get("TINYMEM_DEBUG"):
            raise
        _fail(f"internal error ({type(e).__name__}: {e}); set TINYMEM_DEBUG=1 for a traceback", 3)


if __name__ == "__main__":
    main()
