"""Option groups that several commands share: one click decorator each.

    @cli.command()
    @metric_options
    @sink_options
    def run(..., sink_flags: dict[str, Any], **metrics: Any) -> int:
        settings = load_settings({..., **metric_flags(metrics), **sink_flags})

Each option is a setting of :class:`gclog.config.Settings` of the same name, so it can also come
from ``GCLOG_<NAME>`` or the config file; a flag left out is None and does not override them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from gclog.config import SINKS


def metric_options(command: Any) -> Any:
    """The metric flags, for every command that observes a kernel (values go to load_settings)."""
    for option in reversed(
        [
            click.option(
                "--metrics",
                metavar="SOURCES",
                help="Metric sources: all (default), none, or some of system,process,ipu,nvidia.",
            ),
            click.option("--no-metrics", is_flag=True, help="Sample no metrics (--metrics none)."),
            click.option(
                "--metrics-interval", type=float, metavar="S", help="Seconds between readings [2]."
            ),
            click.option(
                "--metrics-busy-interval",
                type=float,
                metavar="S",
                help="Seconds between readings of the kernel's processes during a cell [0.5].",
            ),
            click.option(
                "--metrics-window",
                type=float,
                metavar="S",
                help="Seconds of readings per metrics record [10].",
            ),
        ]
    ):
        command = option(command)
    return command


def metric_flags(flags: dict[str, Any]) -> dict[str, Any]:
    """The metric flags as settings: --no-metrics is --metrics none."""
    if flags.pop("no_metrics", False):
        flags["metrics"] = "none"
    return flags


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
