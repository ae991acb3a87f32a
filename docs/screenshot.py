"""Make docs/report.png: run the example notebook, write its HTML report, photograph it.

`make screenshot` runs this. It uses the test suite's headless-Chromium helper (tests/browser.py),
so the picture is taken exactly the way the report test checks the page.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from browser import visit  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gclog-screenshot-") as tmp:
        env = {
            **os.environ,
            "GCLOG_HOME": str(Path(tmp) / "home"),
            "GCLOG_METRICS_INTERVAL": "0.2",
            "GCLOG_METRICS_WINDOW": "0.5",
        }
        gclog = [sys.executable, "-m", "gclog"]
        example = REPO / "examples" / "tour.ipynb"
        subprocess.run(
            [*gclog, "run", str(example), "-o", str(Path(tmp) / "out.ipynb")], env=env, check=True
        )
        page = Path(tmp) / "report.html"
        subprocess.run(
            [*gclog, "report", "--html", str(page)], env=env, check=True, stdout=subprocess.DEVNULL
        )
        target = REPO / "docs" / "report.png"
        seen = visit(page, {"cell bars": "#timeline .barlayer .point"}, screenshot=target)
        print(f"wrote {target} ({seen.counts['cell bars']} cells)")


if __name__ == "__main__":
    main()
