"""The record types of schema ``gclog/1``: one definition, built by the code, read by the schema.

Records are plain dicts (JSON-ready, no conversion on the hot path) typed as TypedDicts. Each
field's ``Annotated`` string is its documentation; ``gclog schema`` turns the classes into
JSON Schema. (No ``from __future__ import annotations`` here: TypedDict needs real annotations
to tell ``NotRequired`` fields from required ones.)
"""

import sys
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, TypedDict, get_args, get_origin, get_type_hints

if sys.version_info >= (3, 11):
    from typing import NotRequired, Required
else:  # pragma: no cover
    from typing_extensions import NotRequired, Required

SCHEMA = "gclog/1"

EntryPoint = Literal["run", "attach", "extension"]  # the record field `source`
CellStatus = Literal["ok", "error", "interrupted", "aborted"]
EndReason = Literal[
    "completed",
    "cell_error",
    "kernel_died",
    "interrupted",
    "unloaded",
    "detached",
    "timeout",
    "failed",  # gclog itself failed (a bug or an unwritable output); what was recorded stays
]
Timestamp = Annotated[str, "UTC ISO-8601 time with microseconds, e.g. 2026-12-01T05:36:03.123456Z"]


class Envelope(TypedDict):
    schema: Annotated[str, "Schema version of this record: gclog/1"]
    event_id: Annotated[str, "Unique id of this record; the key to drop duplicates downstream"]
    event_type: Annotated[str, "session_start, cell, metrics, kernel or session_end"]
    event_time: Timestamp
    session_id: Annotated[str, "Id of the observing session this record belongs to"]
    seq: Annotated[int, "1, 2, 3… within the session, so gaps are visible downstream"]
    source: Annotated[EntryPoint, "Which entry point made the record"]
    user_id: Annotated[str, "Anonymous install id (a random UUID made on first use)"]
    notebook_id: Annotated[
        str | None,
        "The notebook key, the same on every install for copies of one notebook: the id its "
        "publisher stamped (gclog stamp), else fp-… (a fingerprint of its code cells as first "
        "seen), else path-… (a keyed hash of an unreadable notebook's path); never the path",
    ]
    gclog_version: Annotated[str, "Version of gclog that made the record"]
    truncated_fields: NotRequired[
        Annotated[
            list[str],
            "Only on a shipped record cut to fit Firehose's 1,000 KiB limit: the paths of the "
            "fields cut (each ends with a marker); the local store keeps the whole record",
        ]
    ]
    redactions: NotRequired[
        Annotated[dict[str, int], "What the privacy filter removed, by kind (counts, not values)"]
    ]
    privacy_filter_error: NotRequired[
        Annotated[str, "The privacy filter failed: only the envelope was kept (the error's type)"]
    ]


class KernelInfo(TypedDict):
    name: Annotated[str | None, "Kernelspec name, e.g. python3"]
    language: Annotated[str | None, "Language from the kernel's language_info"]
    language_version: Annotated[str | None, "Language version from the kernel's language_info"]
    implementation: Annotated[str | None, "Kernel implementation, e.g. ipython"]
    implementation_version: Annotated[str | None, "Kernel implementation version"]
    protocol_version: Annotated[str | None, "Jupyter messaging protocol version the kernel speaks"]


class NotebookInfo(TypedDict):
    name: Annotated[
        str | None, "File name of the notebook (no directories); absent at privacy metadata"
    ]
    code_cells: Annotated[int | None, "Number of code cells in the notebook, when it is known"]
    key_source: NotRequired[
        Annotated[str | None, "Where notebook_id came from: stamp, fingerprint or path"]
    ]
    path_id: NotRequired[
        Annotated[
            str | None,
            "Keyed hash (hmac-sha256:…) of the notebook's path, under the fleet key if one is set",
        ]
    ]
    visit: NotRequired[
        Annotated[
            int | None, "This install's sessions on this notebook key so far, this one included"
        ]
    ]
    previous_session_id: NotRequired[
        Annotated[str | None, "This install's previous session on this notebook key"]
    ]


class HostInfo(TypedDict):
    python: Annotated[str, "Python version gclog runs on"]
    platform: Annotated[str, "Operating system and architecture"]
    cpu_count: Annotated[int | None, "Logical CPUs"]
    memory_total_bytes: Annotated[int | None, "Physical memory"]


class MetricSource(TypedDict):
    on: Annotated[bool, "Whether the source is sampled in this session"]
    reason: Annotated[str | None, "Why the source is off (None when it is on)"]
    facts: Annotated[dict[str, Any], "Static facts the source reported once (board types, totals)"]
    fields_off: Annotated[
        dict[str, str], "Fields switched off alone because their call failed, with why"
    ]


class MetricsSetup(TypedDict):
    interval_s: Annotated[float, "Seconds between two readings of a source"]
    busy_interval_s: Annotated[
        float, "Seconds between readings of the kernel's processes and accelerators during a cell"
    ]
    window_s: Annotated[float, "Seconds of readings reduced into one metrics record"]
    sources: Annotated[dict[str, MetricSource], "Every metric source gclog knows: on, or why off"]


class EnvironmentInfo(TypedDict):
    host_id: Annotated[str | None, "Keyed hash (hmac-sha256:…) of the host name"]
    variables: Annotated[
        dict[str, str],
        "Allow-listed environment variables (setting env_facts); identifiers as hmac-sha256:…",
    ]


class Facets(TypedDict):
    kernel: Annotated[str, "Kernel name and language version, e.g. python3 / python 3.12.3"]
    accelerator: Annotated[str, "Accelerator sources on (ipu, nvidia), or none"]
    frameworks: Annotated[str, "Installed frameworks with versions, e.g. torch 2.4.0, or none"]


class SessionStart(Envelope):
    kernel: KernelInfo
    notebook: NotebookInfo
    host: HostInfo
    privacy: Annotated[str, "Privacy level the session records at: full, redacted or metadata"]
    metrics: Annotated[MetricsSetup, "Which metric sources are on, and why any is off"]
    environment: EnvironmentInfo
    frameworks: Annotated[
        dict[str, str | None],
        "Versions installed in the kernel's environment (setting frameworks); null: not installed",
    ]
    frameworks_note: Annotated[str | None, "Why the framework versions are unknown, if they are"]
    facets: NotRequired[
        Annotated[Facets, "The environment in three strings, to break failures down by"]
    ]


class ImageSummary(TypedDict):
    mime: Annotated[str, "MIME type of the binary output"]
    bytes: Annotated[int, "Decoded size in bytes"]
    sha256: Annotated[str, "SHA-256 of the decoded bytes; the content itself is never kept"]


class OutputSummary(TypedDict):
    count: Annotated[int, "Number of outputs the cell left"]
    by_type: Annotated[dict[str, int], "Outputs per output_type (stream, display_data, …)"]
    bytes_by_mime: Annotated[dict[str, int], "Payload bytes per MIME type (and per stream name)"]
    stdout: Annotated[str | None, "Excerpt of stdout (head and tail, marked where cut)"]
    stderr: Annotated[str | None, "Excerpt of stderr (head and tail, marked where cut)"]
    result: Annotated[str | None, "Excerpt of the text/plain execute_result and displays"]
    images: Annotated[list[ImageSummary], "Binary outputs, by type, size and hash only"]


class ErrorInfo(TypedDict):
    ename: Annotated[str | None, "Exception class name"]
    evalue: Annotated[str | None, "Exception message (scrubbed); absent at privacy metadata"]
    traceback: Annotated[
        str | None, "Traceback without ANSI colour codes (scrubbed); absent at privacy metadata"
    ]


class CellTimes(TypedDict):
    queued_at: Annotated[str | None, "When the client sent the execute request"]
    started_at: Annotated[str | None, "When the kernel went busy with it"]
    ended_at: Annotated[str | None, "When the kernel went idle after it"]


class Spread(TypedDict):
    mean: Annotated[float, "Mean of the readings"]
    max: Annotated[float, "Largest reading"]


class CellResources(TypedDict):
    samples: Annotated[
        int, "Readings of the kernel's process tree in the cell, start and end included"
    ]
    cpu_seconds: Annotated[
        float | None, "CPU time the kernel and its child processes used during the cell"
    ]
    cpu_percent_mean: Annotated[
        float | None, "cpu_seconds over the cell's duration, % of one core (None if under 0.25 s)"
    ]
    cpu_percent_peak: Annotated[float | None, "Highest CPU % over any 0.25 s or longer stretch"]
    rss_start_bytes: Annotated[
        int | None, "Resident memory of the process tree when the cell began"
    ]
    rss_peak_bytes: Annotated[int | None, "Highest resident memory of the tree during the cell"]
    rss_end_bytes: Annotated[int | None, "Resident memory of the tree when the cell ended"]
    rss_growth_bytes: Annotated[int | None, "rss_peak_bytes − rss_start_bytes"]
    io_read_bytes: Annotated[int | None, "Bytes the tree read from storage during the cell"]
    io_write_bytes: Annotated[int | None, "Bytes the tree wrote to storage during the cell"]
    processes_peak: Annotated[int | None, "Most processes in the tree at once (the kernel is 1)"]
    accelerators: Annotated[
        dict[str, Spread],
        "Utilisation, power and memory of the accelerators the kernel used, per device field",
    ]


class Cell(Envelope):
    index: Annotated[int | None, "Position among the notebook's cells (0-based), when known"]
    cell_id: Annotated[str | None, "The notebook cell's id (nbformat 4.5+), when known"]
    cell_key: NotRequired[
        Annotated[
            str | None,
            "Which cell of the notebook as distributed this was: its nbformat id (#i without one); "
            "for an added cell its own id, or null",
        ]
    ]
    cell_index: NotRequired[
        Annotated[
            int | None,
            "Position of that cell among the distributed notebook's code cells (0-based); null "
            "for an added cell",
        ]
    ]
    cell_match: NotRequired[
        Annotated[
            Literal["distributed", "edited", "added", "gclog"] | None,
            "The code was the cell as distributed, an edited version of it, a cell the person "
            "added, or only gclog's own %load_ext/%unload_ext; null: no notebook known",
        ]
    ]
    msg_id: Annotated[str, "msg_id of the execute_request"]
    execution_count: Annotated[int | None, "The kernel's execution counter for the cell"]
    status: CellStatus
    partial: Annotated[bool, "True if observation began while the cell was already running"]
    times: CellTimes
    duration_s: Annotated[float | None, "Busy to idle, from the kernel's own message times"]
    queue_wait_s: Annotated[float | None, "Request sent to kernel busy"]
    code: Annotated[
        str | None, "The code executed (scrubbed of secrets), absent at privacy metadata"
    ]
    code_sha256: Annotated[
        str | None, "SHA-256 of the code as scrubbed at the session's level (redacted at metadata)"
    ]
    code_lines: Annotated[int | None, "Lines of code executed"]
    output: OutputSummary
    error: NotRequired[ErrorInfo]
    resources: NotRequired[
        Annotated[
            CellResources,
            "What the kernel's process tree used during the cell; absent when no sampler follows"
            " cells, or when the cell began and ended while an observer took a burst of cells in"
            " a batch",
        ]
    ]
    code_modified: Annotated[
        bool | None, "The code differs from every cell of the notebook as saved (null: unknown)"
    ]
    compile_time_s: Annotated[
        float | None, "Compile time reported in the outputs (IPU progress bar, JAX log); null: none"
    ]
    logger_uptime_s: Annotated[float, "Seconds since the session started, when the cell ended"]


class Reduced(TypedDict, total=False):
    mean: Annotated[float, "Mean of the window's readings (not kept for _total counters)"]
    max: Annotated[float, "Largest reading in the window (not kept for _total counters)"]
    last: Annotated[float, "Last reading in the window"]


class MetricsWindow(TypedDict):
    start: Timestamp
    end: Timestamp
    seconds: Annotated[float, "Length of the window"]


class Metrics(Envelope):
    window: MetricsWindow
    samples: Annotated[dict[str, int], "Readings per source in the window"]
    values: Annotated[
        dict[str, Reduced], "Per field (<source>.<name>, unit last): mean, max and last reading"
    ]
    off: Annotated[
        dict[str, str],
        "Sources or fields switched off during this window, with why (usually empty)",
    ]


class KernelEvent(Envelope):
    event: Annotated[
        Literal["restarted", "died", "shutdown"],
        "What happened to the kernel (shutdown: a requested, clean end, seen by attach)",
    ]
    exit_code: Annotated[int | None, "Exit status of the kernel process when it died"]
    signal: Annotated[int | None, "Signal that killed the kernel, if one did"]
    cell_index: Annotated[int | None, "Index of the cell that was running, if any"]


class CellCounts(TypedDict):
    total: Annotated[int, "Cells recorded in the session"]
    ok: Annotated[int, "Cells that ran to the end"]
    error: Annotated[int, "Cells that raised"]
    interrupted: Annotated[int, "Cells interrupted (Ctrl-C, a timeout, a front end's stop button)"]
    aborted: Annotated[int, "Cells the kernel skipped because an earlier one failed"]


class SessionEnd(Envelope):
    reason: EndReason
    duration_s: Annotated[float, "Session start to end"]
    cells: CellCounts
    time_to_first_error_s: Annotated[
        float | None, "Session start to the end of the first failing cell"
    ]
    records_dropped: Annotated[
        dict[str, int],
        "Undelivered records evicted from a full store since the last session_end reported any, "
        "by event_type",
    ]
    silent_executions: Annotated[
        int, "Requests sent with silent=True (front ends polling variables): counted, not cells"
    ]


RECORD_TYPES: dict[str, type] = {
    "session_start": SessionStart,
    "cell": Cell,
    "metrics": Metrics,
    "kernel": KernelEvent,
    "session_end": SessionEnd,
}


def unwrap(hint: Any) -> tuple[Any, str | None]:
    """A field's type with ``Annotated``/``NotRequired``/``Required`` taken off, and its doc.

    The one reading of these classes, for every walker over them (``gclog schema``, ``gclog
    privacy``): the doc is the first string an ``Annotated`` carries.
    """
    doc: str | None = None
    while True:
        origin = get_origin(hint)
        if origin is Annotated:
            hint, *extras = get_args(hint)
            doc = doc or next((e for e in extras if isinstance(e, str)), None)
        elif origin in (NotRequired, Required):
            hint = get_args(hint)[0]
        else:
            return hint, doc


def fields_of(record_type: type) -> dict[str, tuple[Any, str | None, bool]]:
    """Each field of a record TypedDict: its type (unwrapped), its doc, whether it is required."""
    hints = get_type_hints(record_type, include_extras=True)
    required = record_type.__required_keys__  # type: ignore[attr-defined]
    return {name: (*unwrap(hint), name in required) for name, hint in hints.items()}


def iso(moment: datetime) -> str:
    """The record timestamp format: UTC, microseconds, ``Z`` suffix."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: object) -> datetime | None:
    """A timestamp as the records and the Jupyter protocol write it (naive means UTC); None if not."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def now_iso() -> str:
    return iso(datetime.now(timezone.utc))
