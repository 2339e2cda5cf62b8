"""What may import what (docs/ARCHITECTURE.md): each stage of the flow imports only what is
upstream of it or shared vocabulary, so a newcomer can read one package without the rest.

Every `import` in app/ counts, including those inside functions (a lazy import is still a
dependency). A new top-level module or package must be given its place in `UNITS` here and in
docs/ARCHITECTURE.md before this test passes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"

# Shared vocabulary: frozen value types and small pure helpers any stage may use.
VOCABULARY = {"domain", "labels", "objects", "status", "payloads", "redact", "files", "config", "__version__"}
STAGES = {"capture", "detect", "analysis", "rules", "record", "store", "publish", "api", "run"}
ENTRY = {"cli", "__main__", "passwd", "doctor", "demo", "__init__"}
UNITS = VOCABULARY | STAGES | ENTRY

# unit -> the units it must never import. The flow is capture → analysis (which calls detect and
# runs the rules) → run (which stores, records and publishes); api and publish are faces of the
# running box, reading its status and store, never driving its stages.
FORBIDDEN: dict[str, set[str]] = {
    "domain": UNITS - {"domain"},
    "labels": UNITS - {"labels"},
    "config": STAGES,
    "capture": STAGES - {"capture", "record"},  # capture hands packets to the recorder's value types
    "detect": STAGES - {"detect"},
    "analysis": STAGES - {"analysis", "detect", "rules"},
    "rules": STAGES - {"rules", "analysis"},  # rules read analysis' events and parking, nothing else
    "record": (UNITS - {"record"}) - {"__init__"},  # a pure library: footage in, files out
    "store": STAGES - {"store", "record"},
    "publish": STAGES - {"publish", "analysis", "store"},
    "api": STAGES - {"api", "run", "store", "record"},
}


def unit_of(module: str) -> str:
    """`app.analysis.track.tracker` → `analysis`; `app.domain` → `domain`; `app` → `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(source: str) -> Iterator[str]:
    """Every app module an app source imports, at any depth of the file."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "app":
                yield from (f"app.{alias.name}" for alias in node.names)
            elif node.module.startswith("app."):
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("app."))


def violations(module: str, source: str) -> list[str]:
    src = unit_of(module)
    banned = FORBIDDEN.get(src, set())
    return [f"{module} imports {target} ({src} → {unit_of(target)})" for target in imports_of(source)
            if unit_of(target) in banned]  # fmt: skip


def app_modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(APP.rglob("*.py")):
        yield ".".join(path.relative_to(ROOT).with_suffix("").parts), path


def test_no_stage_imports_one_it_must_not() -> None:
    found = [v for module, path in app_modules() for v in violations(module, path.read_text())]
    assert found == []


def test_every_module_has_a_place_in_the_architecture() -> None:
    units = {unit_of(module) for module, _ in app_modules()}
    assert units - UNITS == set(), "give it a place in UNITS and in docs/ARCHITECTURE.md"
    documented = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    missing = [u for u in sorted(STAGES | VOCABULARY - {"__version__"}) if f"`app/{u}" not in documented]
    assert missing == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "app.rules.engine",
            "from app.publish.bridge import MqttBridge",
            ["app.rules.engine imports app.publish.bridge"],
        ),
        (
            "app.api.routes",
            "def f():\n    from app.detect import open_detector\n",
            ["app.api.routes imports app.detect"],
        ),
        ("app.capture.camera", "import app.detect.worker", ["app.capture.camera imports app.detect.worker"]),
        ("app.domain", "from app import cli", ["app.domain imports app.cli"]),
        ("app.analysis.pipeline", "from app.detect.base import Image", []),
        ("app.run.service", "from app.publish.bridge import MqttBridge", []),
    ],
)
def test_the_check_sees_a_forbidden_import_wherever_it_is(module: str, source: str, expected: list[str]) -> None:
    assert [v.split(" (")[0] for v in violations(module, source)] == expected
