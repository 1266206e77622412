"""The command line: parse options, call the library, hand results to a renderer."""

from __future__ import annotations

import json
import os
import sys
import time

import click
from rich.console import Console

from . import __version__
from .errors import TinymemError

EXIT_USAGE = 2


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"tinymem: error: {message}", err=True)
    sys.exit(code)


def _print_json(doc: dict) -> None:
    click.echo(json.dumps(doc, indent=2))


@click.group()
@click.version_option(__version__, prog_name="tinymem")
def cli() -> None:
    """How much SRAM a TFLite model needs on a microcontroller, and how to need less."""


@cli.command()
@click.argument("model_path", metavar="MODEL.tflite")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (tinymem.profile/1).")
@click.option("--no-layout", is_flag=True, help="Skip the search for a better memory layout.")
@click.option("--rows", type=int, default=None, help="Show at most this many layer rows.")
@click.option("--sram", "sram", metavar="SIZE", help="SRAM budget to draw on --plot/--html: 256k, 256KiB, 262144.")
@click.option("--plot", "plot_path", metavar="FILE.svg|FILE.png", help="Draw live memory per op (needs tinymem[plots]).")
@click.option("--html", "html_path", metavar="REPORT.html", help="Write a self-contained HTML report (needs tinymem[plots]).")
def profile(model_path: str, as_json: bool, no_layout: bool, rows: int | None, sram: str | None,
            plot_path: str | None, html_path: str | None) -> None:
    """Profile the activation memory of MODEL.tflite."""
    from .analysis import profile_model
    from .reader import load_model
    from .units import parse_size

    budget = parse_size(sram) if sram is not None else None
    if plot_path or html_path:
        from .report.plots import require

        require(plot_path)  # fail before the work: no matplotlib, or not .svg/.png
    prof = profile_model(load_model(model_path), search_layout=not no_layout)
    if as_json:
        from .report.profile_json import profile_document

        _print_json(profile_document(prof))
    else:
        from .report.profile_view import profile_view

        Console().print(profile_view(prof, max_rows=rows))
    if plot_path:
        from .report.plots import memory_plot

        memory_plot(prof, plot_path, budget=budget)
        click.echo(f"wrote {plot_path}", err=True)
    if html_path:
        from .report.html import profile_html

        profile_html(prof, html_path, budget=budget)
        click.echo(f"wrote {html_path}", err=True)


def _model_path_from_stdin() -> str:
    """The model a `profile --json` document on stdin names (for pipes)."""
    if sys.stdin is None or sys.stdin.isatty():
        raise TinymemError("no model given: pass MODEL.tflite, or pipe `tinymem profile "
                           "MODEL.tflite --json` into `tinymem explore`")
    text = sys.stdin.read()
    try:
        doc = json.loads(text)
    except ValueError:
        raise TinymemError("stdin is not a tinymem profile JSON document") from None
    if not isinstance(doc, dict) or doc.get("schema") != "tinymem.profile/1":
        raise TinymemError("stdin is not a tinymem.profile/1 document")
    path = (doc.get("model") or {}).get("path")
    if not path:
        raise TinymemError("the profile document on stdin does not name its model file")
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
@click.option("--plot", "plot_path", metavar="FILE.svg|FILE.png", help="Draw every option: TFLM arena vs MAC overhead, the Pareto front (needs tinymem[plots]).")
@click.option("--html", "html_path", metavar="REPORT.html", help="Write a self-contained HTML report: profile, options, plots (needs tinymem[plots]).")
def explore(model_path: str | None, sram: str | None, max_overhead: str | None, as_json: bool,
            output: str | None, option_id: str | None, plot_path: str | None,
            html_path: str | None) -> None:
    """List the schedules that lower MODEL's peak SRAM, and what each costs.

    With no MODEL, reads the JSON `tinymem profile MODEL --json` printed from stdin.
    """
    from .reader import load_model
    from .schedules.explore import explore as run_explore
    from .units import parse_fraction, parse_size

    budget = parse_size(sram) if sram is not None else None
    limit = parse_fraction(max_overhead) if max_overhead is not None else None
    if plot_path or html_path:
        from .report.plots import require

        require(plot_path)  # fail before the search: no matplotlib, or not .svg/.png
    path = model_path or _model_path_from_stdin()
    model = load_model(path)
    progress = _LazyProgress(enabled=sys.stderr.isatty() or bool(os.environ.get("TINYMEM_PROGRESS")))
    try:
        ex = run_explore(model, budget=budget, max_overhead=limit, progress=progress)
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
        from .report.explore_view import explore_table, schedule_legend, summary_line

        console = Console()
        console.print(explore_table(ex, console.width))
        if console.width < 120:
            console.print(schedule_legend(ex))
        console.print(summary_line(ex))
    # Written before the no-fit exit: the pictures matter most when nothing fits.
    if plot_path:
        from .report.plots import pareto_plot

        pareto_plot(ex, plot_path)
        click.echo(f"wrote {plot_path}", err=True)
        chosen_plot = chosen or ex.recommended
        if chosen_plot is not None and chosen_plot is not ex.baseline:
            from .analysis import profile_model
            from .report.plots import curve_comparison_plot

            root, ext = os.path.splitext(plot_path)
            curve_path = f"{root}.curve{ext}"
            curve_comparison_plot(profile_model(model, search_layout=False),
                                  profile_model(chosen_plot.model, search_layout=False),
                                  curve_path, budget=budget)
            click.echo(f"wrote {curve_path} (memory over time: {chosen_plot.id} vs baseline)",
                       err=True)
    if html_path:
        from .analysis import profile_model
        from .report.html import profile_html

        profile_html(profile_model(model), html_path, budget=budget, exploration=ex)
        click.echo(f"wrote {html_path}", err=True)
    if budget is not None and ex.recommended is None:
        from .report.explore_view import no_fit_message

        _fail(no_fit_message(ex), 1)
    if output is not None:
        chosen = chosen or ex.recommended
        if chosen is None:
            raise TinymemError("no option to write: pass --option ID")
        from .writer import write_option

        size = write_option(chosen, output)
        click.echo(f"wrote {output} ({size:,} bytes): option {chosen.id}, predicted TFLM arena "
                   f"{chosen.arena_bytes:,} B", err=True)


@cli.command()
@click.argument("original", metavar="ORIGINAL.tflite")
@click.argument("rewritten", metavar="REWRITTEN.tflite")
@click.option("--runs", default=3, show_default=True, help="Seeded random inputs to run.")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (tinymem.verify/1).")
def verify(original: str, rewritten: str, runs: int, seed: int, as_json: bool) -> None:
    """Run ORIGINAL and REWRITTEN in LiteRT and TFLite Micro and compare them.

    Exit code 0 when every runtime that ran gives the same results, 1 otherwise.
    """
    from .verify import verify_models

    report = verify_models(original, rewritten, runs=runs, seed=seed)
    if as_json:
        _print_json(report.to_json())
    else:
        from .report.verify_view import verify_view

        Console().print(verify_view(report))
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
