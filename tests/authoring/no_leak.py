"""The no-leak yardsticks of the authoring tests (the fixture lessons are tests/support/lessons.py)."""

from __future__ import annotations

from typing import Any


def secret_lines(notebook: dict[str, Any]) -> set[str]:
    """Non-trivial stripped lines of the solution regions and hidden tests of a source notebook,
    leaving out those the author also wrote somewhere learners see (a prompt, a visible test).

    Deliberately independent of eduproject's own marker code: it is the yardstick for the
    no-leak tests, so it reads the tags and markers the simplest way.
    """
    secrets: list[str] = []
    public: list[str] = []
    for cell in notebook["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        lines = "".join(cell["source"]).split("\n")
        if "solution-cell" in tags or "hidden-tests" in tags:
            secrets.extend(lines)
            continue
        begin, end = (
            ("### BEGIN SOLUTION", "### END SOLUTION")
            if "solution" in tags
            else ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
        )
        inside = False
        for line in lines:
            if line.strip() in (begin, end):
                inside = line.strip() == begin
            elif inside:
                secrets.append(line)
            elif not line.strip().startswith("Avoid:"):  # words to avoid are not published
                public.append(line)
    published = "\n".join(public)
    stripped = {s.strip() for s in secrets}
    return {s for s in stripped if len(s) >= 8 and not s.startswith("#") and s not in published}


def all_text(document: Any) -> list[str]:
    """Every string in a JSON document; a list of strings (a cell source) counts as one."""
    if isinstance(document, str):
        return [document]
    if isinstance(document, list) and all(isinstance(x, str) for x in document):
        return ["".join(document), *document]
    if isinstance(document, list):
        return [t for item in document for t in all_text(item)]
    if isinstance(document, dict):
        return [t for k, v in document.items() for t in [k, *all_text(v)]]
    return []
