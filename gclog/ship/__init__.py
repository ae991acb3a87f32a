"""Shipping records from the store to AWS Kinesis Data Firehose (README, "Shipping to Firehose").

    credentials.py  where the AWS credentials come from (boto3's chain, the seed's file)
    batching.py     events → packed Firehose records → calls, within Firehose's limits
    firehose.py     one PutRecordBatch call and what its outcome means; the backoff
    shipper.py      the loop: claim, pack, send, mark delivered — in the background or now

This module builds them from the settings: for a session (:func:`start_for_session`) and for
``gclog flush`` (:func:`flush_backlog`).
"""

from __future__ import annotations

from gclog.config import Paths, Settings
from gclog.errors import ExitCode, GclogError
from gclog.ship.firehose import FirehoseSender
from gclog.ship.shipper import Shipper, ShipReport
from gclog.store import spill
from gclog.store.store import Store


def sender_from(settings: Settings) -> FirehoseSender:
    if not settings.stream:
        raise GclogError(
            "shipping to Firehose needs a stream name (--stream, GCLOG_STREAM or `stream` in "
            "the config file)"
        )
    return FirehoseSender(
        settings.stream,
        region=settings.region,
        endpoint_url=settings.endpoint_url,
        credentials_file=settings.credentials_file,
        profile=settings.profile,
    )


def shipper_from(settings: Settings, paths: Paths) -> Shipper:
    return Shipper(
        paths.store,
        sender_from(settings),
        pack_bytes=settings.pack_kib * 1024,
        interval=settings.ship_interval,
    )


def start_for_session(settings: Settings, paths: Paths) -> Shipper | None:
    """The background shipper of a session, started; None when the sink is local.

    It resumes whatever backlog earlier sessions left, first.
    """
    if settings.sink != "firehose":
        return None
    shipper = shipper_from(settings, paths)
    shipper.start()
    return shipper


def flush_backlog(settings: Settings, paths: Paths, timeout: float) -> ShipReport:
    """``gclog flush``: ship every undelivered record now. Raises GclogError(UNDELIVERED) if any
    remain, with the reason in one line."""
    shipper = shipper_from(settings, paths)
    if spill.pending(paths.state_dir):  # records sessions had to leave in files: store them first
        with Store(paths.store) as store:
            spill.take_back(store, paths.state_dir)
    if not paths.store.exists():
        return ShipReport(delivered=0, remaining=0, error=None, calls=0)
    report = shipper.flush(timeout)
    if report.remaining and report.remaining == report.elsewhere:
        return report  # another gclog process is sending them right now: not a failure
    if report.remaining:
        raise GclogError(report.summary(), ExitCode.UNDELIVERED)
    return report


__all__ = ["ShipReport", "Shipper", "flush_backlog", "shipper_from", "start_for_session"]
