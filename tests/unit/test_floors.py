"""Floors that only import downward: the kernel imports no stage, a stage imports the kernel and
never another stage, and only the shell (`monitor/`) sits on top of them all."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KERNEL = "footpod"
STAGES = ("ingest", "streams", "alerts", "dashboards")
SHELL = "monitor"
OURS = (KERNEL, *STAGES, SHELL)


def allowed(package: str) -> set[str]:
    """The project's packages `package` may import."""
    if package == KERNEL:
        return {KERNEL}
    if package in STAGES:
        return {KERNEL, package}
    return set(OURS)


def imported_packages(source: str) -> set[str]:
    """The top-level packages a module's source imports, wherever the import statement stands."""
    packages = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            packages |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            packages.add(node.module.split(".")[0])
    return packages & set(OURS)


def modules():
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield pytest.param(package, path, id=str(path.relative_to(ROOT)))


@pytest.mark.parametrize("package, path", list(modules()))
def test_a_module_imports_only_its_own_floor_and_those_below(package, path):
    upward = imported_packages(path.read_text()) - allowed(package)
    assert not upward, f"{path.relative_to(ROOT)} imports {sorted(upward)} from above its floor"


@pytest.mark.parametrize(
    "package, source, upward",
    [
        ("footpod", "from streams.segments import Segment", {"streams"}),
        ("alerts", "def f():\n    from streams import agents", {"streams"}),
        ("dashboards", "import alerts.rules.cadence", {"alerts"}),
        ("ingest", "from footpod import kafka", set()),
        ("monitor", "from streams.agents import create_worker", set()),
    ],
)
def test_the_check_finds_an_upward_import_wherever_it_stands(package, source, upward):
    assert imported_packages(source) - allowed(package) == upward


def test_every_top_level_package_of_the_project_is_placed_on_a_floor():
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert packages <= set(OURS) | {"tests", "bench"}, packages - set(OURS)
