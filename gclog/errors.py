"""Exit codes and the one exception type that reaches the user as a one-line message."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The documented exit codes of every gclog command (README, "Exit codes")."""

    OK = 0
    CELL_ERROR = 1  # a cell raised and --allow-errors was not given
    BAD_INPUT = 2  # usage error, bad file, unknown kernel, kernel failed to start
    KERNEL_DIED = 3
    TIMEOUT = 4
    UNDELIVERED = (
        5  # records stayed in the store: shipping failed (bad stream, credentials, network)
    )
    RECORDS_LOST = 6  # records of the run are nowhere (disk full past memory): said how many
    INTERNAL = 70  # a bug in gclog (EX_SOFTWARE); run with --debug for the traceback
    INTERRUPTED = 130  # Ctrl-C (SIGTERM and SIGHUP exit 128 + signal number)


class GclogError(Exception):
    """An expected failure: printed as one line on stderr, mapped to an exit code."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code
