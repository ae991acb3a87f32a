"""The layer rule (pyproject.toml, [tool.importlinter]) holds, and the check itself can fail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

import gclog

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG = REPO / "pyproject.toml"
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the gclog package found in ``tree``, against the project's contracts."""
    return subprocess.run(
        [str(LINT), "--config", str(CONFIG), "--no-cache"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def planted(tmp_path: Path, module: str, line: str) -> Path:
    """A copy of the package with ``line`` added to ``module`` (a path under gclog/)."""
    tree = tmp_path / "tree"
    shutil.copytree(
        Path(gclog.__file__).parent, tree / "gclog", ignore=shutil.ignore_patterns("__pycache__")
    )
    target = tree / "gclog" / module
    target.write_text(target.read_text() + f"\n{line}\n")
    return tree


def test_the_package_keeps_every_contract() -> None:
    result = lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        (
            "store/store.py",
            "from gclog.entry import cli",
            "gclog.store is not allowed to import gclog.entry",
        ),
        (
            "records.py",
            "import gclog.privacy.filter",
            "gclog.records is not allowed to import gclog.privacy",
        ),
        (
            "jupyter/kernel.py",
            "from gclog.observe import observer",
            "gclog.jupyter is not allowed to import gclog.observe",
        ),
        (
            "entry/extension.py",
            "import psutil",
            "gclog.entry.extension is not allowed to import psutil",
        ),
        (
            "entry/sidecar.py",
            "from gclog import config",
            "gclog.entry.sidecar is not allowed to import gclog.config",
        ),
    ],
)
def test_a_planted_import_breaks_the_check(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    result = lint(planted(tmp_path, module, line))
    assert result.returncode != 0
    assert broken in result.stdout, result.stdout


def test_a_planted_cycle_breaks_the_check(tmp_path: Path) -> None:
    # privacy may import enrich (same layer), but not while enrich imports privacy
    result = lint(planted(tmp_path, "privacy/optout.py", "import gclog.enrich.fields"))
    assert result.returncode != 0 and "BROKEN" in result.stdout, result.stdout


def test_every_module_has_a_layer() -> None:
    contracts = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    named = {name.strip() for layer in layers for name in layer.replace("|", ":").split(":")}
    root = Path(gclog.__file__).parent
    found = {p.stem for p in root.glob("*.py")} | {
        p.name for p in root.iterdir() if (p / "__init__.py").exists()
    }
    assert found - {"__init__", "__main__"} == named


def test_importing_the_extension_loads_nothing_but_the_standard_library() -> None:
    """What `%load_ext gclog` imports into a person's kernel (a real kernel: test_extension.py)."""
    script = (
        "import json, sys; before = set(sys.modules); import gclog.entry.extension; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    new = json.loads(out.stdout)
    ours = {"gclog", "gclog.entry", "gclog.entry.extension", "gclog.entry.sidecar", "gclog.errors"}
    foreign = [m for m in new if m not in ours and m.split(".")[0] not in sys.stdlib_module_names]
    assert foreign == [], foreign
