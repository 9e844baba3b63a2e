"""The guide notebooks in notebooks/guides/ run headlessly, start to finish, on a real kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
GUIDES = sorted((ROOT / "notebooks" / "guides").glob("*.ipynb"))


def test_there_are_guides() -> None:
    assert {p.name for p in GUIDES} >= {"getting-started.ipynb", "instructor-guide.ipynb"}


@pytest.mark.slow
@pytest.mark.parametrize("path", GUIDES, ids=[p.stem for p in GUIDES])
def test_guide_runs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
        and "raises-exception" not in cell.metadata.get("tags", [])
    ]
    assert not errors, f"{path.name}: {errors[0]['ename']}: {errors[0]['evalue']}"
