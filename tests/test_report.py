"""`gclog report`: the terminal summary, and the HTML timeline as a browser renders it."""

from __future__ import annotations

from browser import visit
from helpers import REPO, Env, by_type, write_notebook

TIMELINE = {
    "cell bars": "#timeline .barlayer .point",
    "curves": "#timeline .scatterlayer .trace",
    "axes": "#timeline .xaxislayer-above text",
}


def run_example(env: Env) -> None:
    """The example notebook, with metric windows short enough to draw curves in a short run."""
    result = env.gclog(
        "run",
        str(REPO / "examples" / "tour.ipynb"),
        "-o",
        str(env.root / "tour.out.ipynb"),
        GCLOG_METRICS_INTERVAL="0.2",
        GCLOG_METRICS_WINDOW="0.5",
    )
    assert result.returncode == 0, result.stderr


def test_terminal_report_of_the_last_session(env: Env) -> None:
    run_example(env)
    result = env.gclog("report")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "notebook tour.ipynb, kernel python3" in text
    assert "Slowest cells" in text and "# Half a second of arithmetic" in text
    assert "Errors" in text and "ValueError: an expected failure" in text
    assert "Peaks: memory" in text
    assert "Upload:" in text
    cells = by_type(env.records(), "cell")
    assert f"Cells: {len(cells)}" in text


def test_report_errors(env: Env) -> None:
    from helpers import one_line_error

    empty = env.gclog("report")
    assert empty.returncode == 2 and "no sessions recorded yet" in one_line_error(empty.stderr)
    run_example(env)
    unknown = env.gclog("report", "--session", "nope")
    assert unknown.returncode == 2 and "no session matches" in one_line_error(unknown.stderr)
    nowhere = env.gclog("report", "--html", str(env.root / "no" / "dir" / "r.html"))
    assert nowhere.returncode == 2 and "cannot write" in one_line_error(nowhere.stderr)


def test_html_timeline_renders_offline_in_chromium(env: Env) -> None:
    run_example(env)
    page = env.root / "report.html"
    result = env.gclog("report", "--last", "--html", str(page))
    assert result.returncode == 0, result.stderr
    html = page.read_text()
    assert "<script src=" not in html  # plotly.js is inline: the page needs no network
    seen = visit(page, TIMELINE, screenshot=env.root / "report.png")
    cells = by_type(env.records(), "cell")
    assert seen.counts["cell bars"] == len(cells)
    assert seen.counts["curves"] >= 3  # machine CPU, kernel CPU, memory
    assert seen.counts["axes"] > 0
    assert seen.console_errors == []
    assert seen.network == []
    assert (env.root / "report.png").stat().st_size > 10_000


def test_html_report_of_a_session_without_metrics(env: Env) -> None:
    nb = write_notebook(env.root / "n.ipynb", "print(1)", "1/0")
    assert env.gclog("run", str(nb), "--no-metrics", "--allow-errors").returncode == 0
    page = env.root / "r.html"
    assert env.gclog("report", "--html", str(page)).returncode == 0
    seen = visit(page, TIMELINE)
    assert seen.counts["cell bars"] == 2 and seen.counts["curves"] == 0
    assert seen.console_errors == []


def test_report_shows_accelerator_utilisation_and_power(env: Env) -> None:
    """With an IPU and a GPU (fakes with the real APIs): the samplers' own field names, power
    included, reach both reports."""
    fakes = str(REPO / "tests" / "fakes")
    nb = write_notebook(env.root / "n.ipynb", "import time\ntime.sleep(1.5)")
    result = env.gclog(
        "run",
        str(nb),
        PYTHONPATH=fakes,
        GCLOG_METRICS_INTERVAL="0.2",
        GCLOG_METRICS_WINDOW="0.5",
    )
    assert result.returncode == 0, result.stderr
    text = env.gclog("report").stdout
    measured = [line.split(":")[0] for line in text.splitlines() if line.startswith("Accelerator ")]
    assert "Accelerator ipu.0.power_w" in measured, text
    assert "Accelerator ipu.0.utilisation_percent" in measured
    assert "Accelerator nvidia.0.utilization_percent" in measured
    assert "none measured" not in text
    page = env.root / "r.html"
    assert env.gclog("report", "--html", str(page)).returncode == 0
    html = page.read_text()
    assert "ipu.0.power_w" in html and "nvidia.0.utilization_percent" in html
