"""The layers as the learner's kernel meets them (docs/design.md).

`make lint` checks the import graph (lint-imports, pyproject.toml). These tests check what
that graph cannot: which modules a learner's ``eduproject.check(...)`` really loads, and
that no module reaches into another's private names.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import eduproject

REPO = Path(__file__).resolve().parents[1]
PACKAGE = Path(eduproject.__file__).resolve().parent
LESSON = REPO / "notebooks" / "01-functions"

# What a learner's check may load: never the model layer, the gateway, the tutor or httpx.
FORBIDDEN = ("eduproject.models", "eduproject.gateway", "eduproject.tutor.tutor", "httpx")

CHECK_IN_A_FRESH_KERNEL = """
import json, sys
import eduproject
result = eduproject.check("greet", namespace={}, display=False)
print(json.dumps({
    "tests": result.total,
    "modules": sorted(sys.modules),
}))
"""


def test_check_loads_nothing_of_the_router_or_httpx() -> None:
    assert (LESSON / "lesson.json").is_file()
    # The same eduproject as this test's, whatever the lesson folder's path holds.
    path = os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", CHECK_IN_A_FRESH_KERNEL],
        cwd=LESSON,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["tests"] > 0  # the check really ran the exercise's tests
    modules = report["modules"]
    loaded = [m for m in modules if m.startswith(FORBIDDEN)]
    ours = [m for m in modules if m == "eduproject" or m.startswith("eduproject.")]
    assert loaded == [], f"check loaded {loaded} ({len(ours)} eduproject modules: {ours})"


def _private_imports(path: Path) -> list[str]:
    """``from eduproject.x import _name`` in ``path`` where ``eduproject.x`` is another module."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("eduproject"):
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if private and node.module != module:
                    found.append(f"{module}:{node.lineno} imports {node.module}.{alias.name}")
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in _private_imports(path)]
    assert found == []
