"""The command line: parses arguments, picks the settings, calls one module per command.

Errors reach the user as one line on stderr and a documented exit code (``gclog.errors.ExitCode``);
``--debug`` (or ``GCLOG_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from gclog import __version__
from gclog.config import PRIVACY_LEVELS, Paths, load_settings
from gclog.errors import ExitCode, GclogError


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gclog")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
def cli(debug: bool) -> None:
    """Record how notebooks are used: cells, timings, outcomes, outputs and resources."""


@cli.command()
@click.argument("notebook", type=click.Path(path_type=Path, readable=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Where to write the executed notebook [default: NAME.gclog.ipynb beside it].",
)
@click.option("--inplace", is_flag=True, help="Overwrite the input notebook with the executed one.")
@click.option("-k", "--kernel", "kernel_name", help="Kernel to use [default: the notebook's].")
@click.option(
    "--cwd",
    type=click.Path(path_type=Path),
    help="Working directory of the kernel [default: the notebook's directory].",
)
@click.option("--timeout", type=float, help="Interrupt a cell that runs longer (seconds); exit 4.")
@click.option("--allow-errors", is_flag=True, help="Carry on after a cell raises; exit 0.")
@click.option("--privacy", type=click.Choice(PRIVACY_LEVELS), help="Privacy level of the records.")
def run(
    notebook: Path,
    output: Path | None,
    inplace: bool,
    kernel_name: str | None,
    cwd: Path | None,
    timeout: float | None,
    allow_errors: bool,
    privacy: str | None,
) -> int:
    """Run NOTEBOOK in a fresh kernel, record every cell, write the executed notebook."""
    from gclog.privacy.disclosure import announce
    from gclog.privacy.optout import opt_out_reason
    from gclog.progress import Summary, make_progress, print_summary
    from gclog.runner import Runner, RunRequest

    if timeout is not None and timeout <= 0:
        raise GclogError("--timeout must be a positive number of seconds")
    settings = load_settings({"timeout": timeout, "privacy": privacy})
    paths = Paths.from_env()
    console = _stderr_console()
    off = opt_out_reason(settings)
    request = RunRequest(
        notebook=notebook,
        output=output,
        kernel_name=kernel_name,
        cwd=cwd,
        allow_errors=allow_errors,
        inplace=inplace,
        announce=lambda: announce(settings, paths, "run"),  # once the kernel is up
    )
    progress = make_progress(console)
    runner = Runner(request, settings, paths, progress)
    result = runner.run()
    from gclog.store import Store

    records = 0
    if not off:
        with Store(paths.store) as store:
            records = sum(1 for _ in store.bodies(result.session_id))
    print_summary(
        console,
        Summary(
            notebook=result.output,
            store=None if off else paths.store,
            session_id=result.session_id,
            reason=result.reason,
            message=result.message,
            cells=result.cells,
            records=records,
        ),
        elapsed=runner.elapsed,
    )
    return result.exit_code


@cli.command("privacy")
@click.option(
    "--privacy", "level", type=click.Choice(PRIVACY_LEVELS), help="Describe this level instead."
)
def privacy_command(level: str | None) -> int:
    """Print exactly what gclog collects at the current privacy level, and how to opt out."""
    from gclog.privacy.describe import describe

    click.echo(describe(load_settings({"privacy": level}), Paths.from_env()))
    return 0


@cli.command()
@click.option("--session", "session_id", help="Only this session (an id or a unique prefix).")
@click.option("--last", is_flag=True, help="Only the most recent session.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE, not stdout.")
def export(session_id: str | None, last: bool, output: Path | None) -> int:
    """Print the stored records as NDJSON (one JSON object per line)."""
    from gclog.export import export_records

    return export_records(Paths.from_env(), session_id, last, output)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("GCLOG_DEBUG", "") not in ("", "0")
    try:
        code = cli.main(args=args, prog_name="gclog", standalone_mode=False)
    except click.exceptions.Abort:
        code = ExitCode.INTERRUPTED
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        print(f"gclog: error: {exc.format_message()}{hint}", file=sys.stderr)
        code = exc.exit_code
    except click.ClickException as exc:
        print(f"gclog: error: {exc.format_message()}", file=sys.stderr)
        code = exc.exit_code
    except GclogError as exc:
        if debug:
            traceback.print_exc()
        print(f"gclog: error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (gclog export | head): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = ExitCode.OK
    except Exception as exc:
        if debug:
            traceback.print_exc()
        print(
            f"gclog: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            file=sys.stderr,
        )
        code = ExitCode.INTERNAL
    sys.exit(int(code or 0))
