"""The sink options, one reusable click decorator for every command that records or ships.

    @cli.command()
    @sink_options
    def run(..., sink_flags: dict[str, Any]) -> int:
        settings = load_settings({..., **sink_flags})

Each option is a setting of :class:`gclog.config.Settings` of the same name, so it can also come
from ``GCLOG_<NAME>`` or the config file; a flag left out is None and does not override them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from gclog.config import SINKS

_OPTIONS = (
    click.option(
        "--sink",
        type=click.Choice(SINKS),
        help="local: records stay in the store; firehose: they are also shipped [default: local].",
    ),
    click.option("--stream", metavar="NAME", help="Firehose delivery stream to ship to."),
    click.option("--region", metavar="R", help="AWS region of the stream."),
    click.option(
        "--endpoint-url", metavar="URL", help="Firehose endpoint (VPC endpoint, test server)."
    ),
    click.option("--profile", metavar="P", help="AWS profile for the credentials."),
    click.option(
        "--credentials-file",
        metavar="F",
        help="AWS keys in the seed's format (two base64 lines) [default: $GCLOGGER_CONFIG/.config if present, else boto3's chain].",
    ),
)
NAMES = ("sink", "stream", "region", "endpoint_url", "profile", "credentials_file")


def sink_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the sink options; the command receives them as one ``sink_flags`` dict."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        sink_flags = {name: kwargs.pop(name) for name in NAMES}
        return command(*args, sink_flags=sink_flags, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper
