"""The command line: parse options, call the library, hand results to a renderer."""

from __future__ import annotations

import json
import os
import sys

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
def profile(model_path: str, as_json: bool, no_layout: bool, rows: int | None) -> None:
    """Profile the activation memory of MODEL.tflite."""
    from .analysis import profile_model
    from .reader import load_model

    prof = profile_model(load_model(model_path), search_layout=not no_layout)
    if as_json:
        from .report.profile_json import profile_document

        _print_json(profile_document(prof))
        return
    from .report.profile_view import profile_view

    Console().print(profile_view(prof, max_rows=rows))


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
