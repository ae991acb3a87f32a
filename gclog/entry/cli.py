"""The command line: parses arguments, picks the settings, calls one module per command.

Errors reach the user as one line on stderr and a documented exit code (``gclog.errors.ExitCode``);
``--debug`` (or ``GCLOG_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from gclog import __version__
from gclog.config import PRIVACY_LEVELS, Paths, load_settings
from gclog.entry.lean import skip_format_checker_imports
from gclog.entry.options import metric_flags, metric_options, sink_options
from gclog.errors import ExitCode, GclogError


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gclog")
@click.option("--debug", is_flag=True, help="Show full tracebacks and gclog's own debug log.")
def cli(debug: bool) -> None:
    """Record how notebooks are used: cells, timings, outcomes, outputs and resources."""
    if debug or os.environ.get("GCLOG_DEBUG", "") not in ("", "0"):
        from gclog.warn import configure_debug

        configure_debug()


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
@metric_options
@sink_options
def run(
    notebook: Path,
    output: Path | None,
    inplace: bool,
    kernel_name: str | None,
    cwd: Path | None,
    timeout: float | None,
    allow_errors: bool,
    privacy: str | None,
    sink_flags: dict[str, Any],
    **metrics: Any,
) -> int:
    """Run NOTEBOOK in a fresh kernel, record every cell, write the executed notebook."""
    from gclog.entry.run import Runner, RunRequest
    from gclog.privacy.optout import opt_out_reason

    if timeout is not None and timeout <= 0:
        raise GclogError("--timeout must be a positive number of seconds")
    settings = load_settings(
        {"timeout": timeout, "privacy": privacy, **metric_flags(metrics), **sink_flags}
    )
    paths = Paths.from_env()
    off = opt_out_reason(settings)
    request = RunRequest(
        notebook=notebook,
        output=output,
        kernel_name=kernel_name,
        cwd=cwd,
        allow_errors=allow_errors,
        inplace=inplace,
    )
    runner = Runner(request, settings, paths)  # its console: made while the kernel boots
    result = runner.run()
    from gclog.store.store import Store

    console = runner.console or _stderr_console()
    records = 0
    if not off:
        with Store(paths.store) as store:
            records = sum(store.delivery_counts(result.session_id))
    from gclog.entry.views import Summary, print_summary

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
    from gclog.read.export import export_records

    try:
        return export_records(Paths.from_env(), session_id, last, output)
    except BrokenPipeError:  # `gclog export | head`: here, before click's own handling (exit 1)
        _reader_gone()
        return ExitCode.OK


@cli.command()
@click.option(
    "--timeout",
    type=float,
    default=60.0,
    show_default=True,
    help="Give up after this many seconds; what is left stays in the store.",
)
@sink_options
def flush(timeout: float, sink_flags: dict[str, Any]) -> int:
    """Ship every record not yet delivered (from any session) to Firehose now.

    Exit 0 when the backlog is empty, 5 when records remain (the reason is printed).
    """
    from gclog.ship import flush_backlog

    if timeout <= 0:
        raise GclogError("--timeout must be a positive number of seconds")
    import psutil

    settings, paths = load_settings(sink_flags), Paths.from_env()
    # --timeout bounds the command, its start-up included (~0.3 s), but leaves the calls at
    # least a second (or the whole timeout, if shorter) on a slow machine.
    since_start = max(0.0, time.time() - psutil.Process().create_time())
    budget = max(min(timeout, 1.0), timeout - since_start)
    with _terminated_on_signal():
        report = flush_backlog(settings, paths, budget)
    if report.elsewhere:
        print(
            f"gclog: shipped {report.delivered} records; {report.elsewhere} more are being "
            "shipped by another gclog process right now",
            file=sys.stderr,
        )
        return ExitCode.OK
    print(
        f"gclog: shipped {report.delivered} record{'s' if report.delivered != 1 else ''} "
        f"in {report.calls} call{'s' if report.calls != 1 else ''}; nothing left to ship"
        + (
            f" ({report.set_aside} records Firehose refused are set aside: `gclog status`)"
            if report.set_aside
            else ""
        ),
        file=sys.stderr,
    )
    return ExitCode.OK


def _complete_kernels(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Kernel ids of the running kernels in the Jupyter runtime directory."""
    from click.shell_completion import CompletionItem

    from gclog.jupyter.connect import kernel_id_of, running_connection_files

    items = []
    for path in running_connection_files():
        kernel_id = kernel_id_of(path)
        if kernel_id and kernel_id.startswith(incomplete):
            items.append(CompletionItem(kernel_id, help=str(path)))
    return items


@cli.command()
@click.argument("kernel", required=False, shell_complete=_complete_kernels)
@click.option("--existing", is_flag=True, help="Without KERNEL: the most recently started kernel.")
@click.option("--detach", is_flag=True, help="Observe in the background; `gclog stop` ends it.")
@click.option("--privacy", type=click.Choice(PRIVACY_LEVELS), help="Privacy level of the records.")
@metric_options
@sink_options
@click.option(
    "--notebook",
    type=click.Path(),
    help="The notebook the kernel runs [default: from JPY_SESSION_NAME or --server].",
)
@click.option("--server", metavar="URL", help="Ask this Jupyter server which notebook it is.")
def attach(
    kernel: str | None,
    existing: bool,
    detach: bool,
    privacy: str | None,
    notebook: str | None,
    server: str | None,
    sink_flags: dict[str, Any],
    **metrics: Any,
) -> int:
    """Observe KERNEL, driven by someone else: a connection file, a kernel id or a unique prefix.

    Every execution any client sends is recorded. gclog runs nothing in the kernel.
    """
    from gclog.entry import attach as attaching
    from gclog.jupyter.connect import open_target

    settings = load_settings({"privacy": privacy, **metric_flags(metrics), **sink_flags})
    paths = Paths.from_env()
    console = _stderr_console()
    if detach:
        from gclog.privacy.disclosure import announce

        target = open_target(kernel, existing)
        if announce(settings, paths, "attach"):
            return ExitCode.OK  # opted out: said so in one line, nothing started
        from gclog.entry.sidecar import start_in_background

        background = start_in_background(
            target.connection_file,
            "attach",
            notebook=notebook,
            server=server,
            settings_env=settings.as_env(),
        )
        if background.adopted:
            console.print(
                f"gclog: kernel {target.label} is already observed by session "
                f"{background.session_id} (pid {background.pid})",
                soft_wrap=True,
            )
        else:
            console.print(
                f"gclog: observing kernel {target.label} in the background "
                f"(session {background.session_id}, pid {background.pid}); "
                f"stop it with: gclog stop {background.session_id[:8]}",
                soft_wrap=True,
            )
        return ExitCode.OK
    return attaching.attach(
        kernel,
        existing,
        settings=settings,
        paths=paths,
        console=console,
        notebook=notebook,
        server=server,
    )


@cli.command()
@click.argument("notebook", type=click.Path(path_type=Path, readable=False))
@click.option(
    "--id", "notebook_id", help="The notebook id [default: the one it has, or a new one]."
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write the stamped copy here."
)
def stamp(notebook: Path, notebook_id: str | None, output: Path | None) -> int:
    """Stamp NOTEBOOK for publishing: every copy then records one notebook id, and its cells."""
    from gclog.jupyter.stamp import stamp as stamping

    key = stamping(notebook, notebook_id, output)
    _stderr_console().print(f"gclog: stamped {output or notebook} as {key}", soft_wrap=True)
    return 0


@cli.command()
@click.argument("session")
@click.option(
    "--timeout",
    type=float,
    default=15.0,
    show_default=True,
    help="Seconds to wait for the session to end.",
)
def stop(session: str, timeout: float) -> int:
    """End a live session (an id or a unique prefix, as `gclog status` shows them)."""
    from gclog.entry.stop import stop_session

    return stop_session(Paths.from_env(), session, timeout, _stderr_console())


@cli.command()
@click.option(
    "--check", is_flag=True, help="Only say what is wrong; change nothing (exit 2 if so)."
)
def doctor(check: bool) -> int:
    """Check the store; set a damaged one aside, keeping every record it can still read."""
    from gclog.store.doctor import examine

    paths = Paths.from_env()
    return examine(paths.store, paths.state_dir, repair=not check).report(paths.store)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> int:
    """Show live sessions, the store's backlog, and kernels nobody observes."""
    from gclog.read.status import show

    return show(Paths.from_env(), _stdout_console(), as_json)


@cli.command()
@click.option("--session", "session_id", help="This session (an id or a unique prefix).")
@click.option("--last", is_flag=True, help="The most recent session (the default).")
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path),
    help="Also write a self-contained HTML timeline to FILE.",
)
def report(session_id: str | None, last: bool, html_path: Path | None) -> int:
    """Summarise one session: cells, errors, resources, accelerators, upload state."""
    from gclog.read.export import resolve_session
    from gclog.read.report import html, terminal, view
    from gclog.store.store import Store

    paths = Paths.from_env()
    with Store(paths.store) as store:
        wanted = resolve_session(store, session_id, last or session_id is None)
        assert wanted is not None
        session = view.load(store, wanted)
    if html_path is not None:  # first: a reader that stops reading the summary must not cost it
        html.write(session, html_path)
        _stderr_console().print(f"gclog: wrote {html_path}", soft_wrap=True)
    terminal.render(session, _stdout_console())
    return 0


@cli.command()
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@click.option("--json", "as_json", is_flag=True, help="Print the answers as JSON.")
@click.option(
    "--html", "html_path", type=click.Path(path_type=Path), help="Also write a report page to FILE."
)
@click.option(
    "--min-users",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Leave out groups of fewer users (k-anonymity).",
)
@click.option(
    "--sql", "dialect", type=click.Choice(["athena"]), help="Print the queries for Athena instead."
)
@click.option("--table", default="gclog_events", show_default=True, help="Athena table (--sql).")
@click.option("--endpoint-url", help="S3 endpoint for s3:// sources (a test server, a VPC one).")
def analyze(
    sources: tuple[str, ...],
    as_json: bool,
    html_path: Path | None,
    min_users: int,
    dialect: str | None,
    table: str,
    endpoint_url: str | None,
) -> int:
    """Answer per notebook and cell across everyone who ran it: reached, failed, edited, ends.

    SOURCE: the local store (the default, or `store`), NDJSON files from `gclog export`,
    directories of objects as Firehose delivers them to S3, or s3://BUCKET/PREFIX.
    """
    from gclog.read.analyze.command import run_analyze

    return run_analyze(
        list(sources),
        Paths.from_env(),
        as_json=as_json,
        html_path=html_path,
        min_users=min_users,
        dialect=dialect,
        table=table,
        endpoint_url=endpoint_url,
        out=_stdout_console(),
        err=_stderr_console(),
    )


@cli.command()
@click.option("--athena", is_flag=True, help="Print a CREATE EXTERNAL TABLE statement instead.")
@click.option("--table", default="gclog_events", show_default=True, help="Athena table name.")
@click.option(
    "--location",
    default="s3://YOUR-BUCKET/gclog/",
    show_default=True,
    help="S3 prefix Firehose delivers to.",
)
def schema(athena: bool, table: str, location: str) -> int:
    """Print the JSON Schema of every record type (or the Athena DDL for them)."""
    import json

    from gclog.read.schema import athena_ddl, record_schemas

    click.echo(athena_ddl(table, location) if athena else json.dumps(record_schemas(), indent=2))
    return 0


SHELLS = ("bash", "zsh", "fish")


def completion_script(shell: str) -> str:
    """The shell's completion script, as click generates it for the `gclog` command."""
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    assert completer is not None
    return completer(cli, {}, "gclog", "_GCLOG_COMPLETE").source()


@cli.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> int:
    """Print the completion script for SHELL (see the README to install it)."""
    click.echo(completion_script(shell))
    return 0


def _stdout_console() -> Any:
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:  # a pipe or a file: no terminal width to respect, don't wrap
        console = Console(highlight=False, width=160)
    return console


def _leave(code: int, own_process: bool) -> NoReturn:
    """Exit with ``code``, without the interpreter's teardown when this is gclog's own process.

    By the time a command returns, gclog has closed its store, written its notebook and shut its
    kernel down. What Python's teardown would still do is free every module's objects one by one:
    0.1–0.2 s of CPU after `gclog run` here, on every run. The exit handlers (logging's flush
    among them) still run; threads someone is still waiting for keep the ordinary exit.
    """
    alive = [t for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()]
    if not own_process or alive:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


class _Terminated(BaseException):
    """SIGTERM or SIGHUP during a command that has no loop of its own to check a flag (a
    BaseException, as KeyboardInterrupt is, but one click does not turn into exit 130)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _terminated_on_signal() -> Iterator[None]:
    """SIGTERM/SIGHUP unwind like Ctrl-C (claims given back, files closed), then exit 128+N."""

    def handler(signum: int, frame: object) -> None:
        raise _Terminated(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def _reader_gone() -> None:
    """Stdout's reader closed the pipe: send the rest, and the final flush, nowhere."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv: list[str] | None = None) -> None:
    skip_format_checker_imports()  # see gclog/entry/lean.py
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("GCLOG_DEBUG", "") not in ("", "0")
    try:
        code = cli.main(args=args, prog_name="gclog", standalone_mode=False)
    except click.exceptions.Abort:
        code = ExitCode.INTERRUPTED
    except _Terminated as exc:
        code = 128 + exc.signum
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
        _reader_gone()  # the reader went away (gclog status | head): not an error of ours
        code = ExitCode.OK
    except OSError as exc:  # the file system or the OS said no: not a bug of ours
        if debug:
            traceback.print_exc()
        where = f": {exc.filename}" if exc.filename else ""
        print(f"gclog: error: {exc.strerror or exc}{where}", file=sys.stderr)
        code = ExitCode.BAD_INPUT
    except sqlite3.Error as exc:  # a damaged or locked store
        if debug:
            traceback.print_exc()
        print(f"gclog: error: the store: {exc}", file=sys.stderr)
        code = ExitCode.BAD_INPUT
    except Exception as exc:
        if debug:
            traceback.print_exc()
        print(
            f"gclog: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            file=sys.stderr,
        )
        code = ExitCode.INTERNAL
    _leave(int(code or 0), own_process=argv is None)
