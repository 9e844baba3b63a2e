"""Reading the markdown cells of a lesson: titles (first heading) and hints cells."""

from __future__ import annotations

import re

from eduproject.authoring.markers import CellRef

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<text>.+?)\s*#*\s*$")
_HINT_ITEM = re.compile(r"^\s{0,3}(?P<n>\d+)[.)]\s+(?P<text>.*)$")
_AVOID = re.compile(r"^\s{0,3}Avoid:\s*(?P<words>.*)$")


def heading(markdown: str) -> str | None:
    """The text of the first ``#`` heading line of ``markdown``, if any."""
    for line in markdown.split("\n"):
        match = _HEADING.match(line)
        if match:
            return match["text"]
    return None


def parse_hints(source: str, where: CellRef) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Parse a ``hints`` cell into (hint levels, words to avoid)."""
    items: list[list[str]] = []
    avoid: list[str] = []
    for number, line in enumerate(source.split("\n"), start=1):
        item, avoid_line = _HINT_ITEM.match(line), _AVOID.match(line)
        if avoid_line:
            avoid.extend(split_avoid(avoid_line["words"]))
        elif item:
            if int(item["n"]) != len(items) + 1:
                raise where.error(
                    f"hint item numbered {item['n']} on line {number}, expected {len(items) + 1}",
                    "number the hints 1, 2, 3 in the order they should be given",
                )
            items.append([item["text"].strip()])
        elif not line.strip():
            continue
        elif items:
            items[-1].append(line.strip())  # an indented (or lazy) continuation of the item
        elif not _HEADING.match(line):
            raise where.error(
                f"line {number} of the hints cell is not a numbered hint: {line.strip()!r}",
                "write each hint as a numbered item (`1. ...`); an optional `Avoid: a, b` line "
                "lists words the tutor must not say",
            )
    if not items:
        raise where.error(
            "the hints cell has no numbered hints",
            "write the hints as a numbered list: `1. ...`, `2. ...`",
        )
    return tuple("\n".join(lines).strip() for lines in items), tuple(avoid)


def split_avoid(words: str) -> list[str]:
    """Split an ``Avoid:`` line on commas; a phrase in backticks may hold commas.

    >>> split_avoid("sum(, `range(2, n + 1)`, total")
    ['sum(', 'range(2, n + 1)', 'total']
    """
    phrases: list[str] = []
    for quoted, plain in re.findall(r"`([^`]+)`|([^,`]+)", words):
        phrase = (quoted or plain).strip()
        if phrase:
            phrases.append(phrase)
    return phrases
