"""What an inline completion request holds, how it becomes a model request, and where it stops.

The front end sends the cell split at the cursor plus the code cells around it; the model sees
them as one file (cells joined by blank lines), the nearest code kept when the budget is short.
The route's family renders it (FIM for StarCoder2, Qwen2.5-Coder, Code Llama, DeepSeek-Coder;
instruction models get their template with the cursor marked). What comes back is cut at the
end of the block being written::

    inp = parse_input({"prefix": "def add(a, b):\\n    ", "suffix": "", "above": [], "below": []})
    request = model_request(inp)
    trim_to_block("return a + b\\n\\nprint(add(1, 2))", inp.prefix, inp.suffix)  # 'return a + b'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eduproject.models.types import ModelRequest

MAX_TEXT_CHARS = 20_000  # one cell's prefix or suffix
MAX_CELLS = 8  # cells above or below
MAX_ID_CHARS = 100
# Characters of context sent to the model; three quarters before the cursor.
CONTEXT_CHARS = 6_000
MAX_TOKENS = 96
MAX_LINES = 12
CELL_BREAK = "\n\n"
FIELDS = ("prefix", "suffix", "above", "below", "lesson", "exercise", "role")


class BadCompletionRequest(ValueError):
    """The request body is not a completion request; the message says what is wrong."""


@dataclass(frozen=True)
class CompletionInput:
    """One completion request: the cell around the cursor and where it sits.

    ``above`` holds code cells above (nearest last), ``below`` the ones below (nearest
    first). ``lesson``, ``exercise`` and ``role`` come from the released notebook's metadata
    and choose the policy (the gateway also looks at the code itself, see ``gate.py``).
    """

    prefix: str
    suffix: str = ""
    above: tuple[str, ...] = ()
    below: tuple[str, ...] = ()
    lesson: str | None = None
    exercise: str | None = None
    role: str | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body (the gateway's ``/v1/complete`` takes the same)."""
        return {
            "prefix": self.prefix,
            "suffix": self.suffix,
            "above": list(self.above),
            "below": list(self.below),
            "lesson": self.lesson,
            "exercise": self.exercise,
            "role": self.role,
        }


def parse_input(data: Any, *, extra: tuple[str, ...] = ()) -> CompletionInput:
    """The :class:`CompletionInput` in a JSON body; BadCompletionRequest when malformed.

    ``extra`` names fields the caller reads itself (the server extension's ``path``).
    """
    if not isinstance(data, Mapping):
        raise BadCompletionRequest("the request body must be a JSON object")
    for key in data:
        if key not in FIELDS and key not in extra:
            raise BadCompletionRequest(
                f"unknown field {key!r} (fields: {', '.join((*FIELDS, *extra))})"
            )
    prefix = _text(data, "prefix")
    suffix = _text(data, "suffix")
    above, below = _cells(data, "above"), _cells(data, "below")
    return CompletionInput(
        prefix=prefix,
        suffix=suffix,
        above=above,
        below=below,
        lesson=_optional_id(data, "lesson"),
        exercise=_optional_id(data, "exercise"),
        role=_optional_id(data, "role"),
    )


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise BadCompletionRequest(
            f"field {key!r} must be a string of at most {MAX_TEXT_CHARS:,} characters"
        )
    return value


def _cells(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if (
        not isinstance(value, list)
        or len(value) > MAX_CELLS
        or not all(isinstance(c, str) and len(c) <= MAX_TEXT_CHARS for c in value)
    ):
        raise BadCompletionRequest(
            f"field {key!r} must be a list of at most {MAX_CELLS} cell sources "
            f"(each at most {MAX_TEXT_CHARS:,} characters)"
        )
    return tuple(value)


def _optional_id(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
        raise BadCompletionRequest(f"field {key!r} must be an id of 1 to {MAX_ID_CHARS} characters")
    return value


def model_request(
    inp: CompletionInput, *, context_chars: int = CONTEXT_CHARS, max_tokens: int = MAX_TOKENS
) -> ModelRequest:
    """The router's request: the cells around the cursor as one file, within ``context_chars``.

    Completion is deterministic (temperature 0), so the response cache can answer a repeat.
    The router still trims to the route's own context window.
    """
    before_budget = context_chars * 3 // 4
    prefix = _join_back(inp.prefix, inp.above, before_budget)
    suffix = _join_forward(inp.suffix, inp.below, context_chars - len(prefix))
    single_line = bool(_rest_of_line(inp.suffix).strip())
    return ModelRequest(
        task="complete",
        prefix=prefix,
        suffix=suffix,
        max_tokens=max_tokens,
        temperature=0.0,
        cut_ok=True,  # a long answer cut at max_tokens still holds the block's start
        # In the middle of a line, only the rest of that line; else up to a blank gap.
        stop=("\n",) if single_line else ("\n\n\n",),
    )


def _join_back(prefix: str, above: tuple[str, ...], budget: int) -> str:
    text = _tail(prefix, budget)
    for cell in reversed(above):
        if len(cell) + len(CELL_BREAK) + len(text) > budget:
            break
        text = cell.rstrip("\n") + CELL_BREAK + text
    return text


def _join_forward(suffix: str, below: tuple[str, ...], budget: int) -> str:
    text = _head(suffix, max(0, budget))
    for cell in below:
        if len(text) + len(CELL_BREAK) + len(cell) > budget:
            break
        text = text.rstrip("\n") + CELL_BREAK + cell
    return text


def _tail(text: str, keep: int) -> str:
    if len(text) <= keep:
        return text
    cut = text[len(text) - keep :]
    newline = cut.find("\n")
    return cut[newline + 1 :] if newline != -1 else cut


def _head(text: str, keep: int) -> str:
    if len(text) <= keep:
        return text
    cut = text[:keep]
    newline = cut.rfind("\n")
    return cut[:newline] if newline != -1 else cut


def _rest_of_line(suffix: str) -> str:
    return suffix.split("\n", 1)[0]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def strip_echo(text: str, prefix: str) -> str:
    """``text`` without the code before the cursor that an instruction model wrote out again.

    Asked for "the code that goes at <CURSOR>", small instruction models often answer with the
    whole snippet, sometimes after other code they saw. The answer is taken from where it
    writes the prefix's last full lines (the longest such run, earliest first) and the part of
    the cursor's line before the cursor; at its very start, the cursor's line alone is enough.

    >>> strip_echo("def f(x):\\n    return x + 1", "def f(x):\\n    ")
    'return x + 1'
    """
    *full, current = prefix.split("\n")
    lines = text.split("\n")
    for at in range(len(lines)):
        for start in range(len(full) + 1):
            tail = [ln.rstrip() for ln in full[start:]]
            if (at > 0 and not any(tail)) or at + len(tail) >= len(lines):
                continue
            if [ln.rstrip() for ln in lines[at : at + len(tail)]] != tail:
                continue
            line = lines[at + len(tail)]
            if line.startswith(current):
                rest = line[len(current) :]
            elif current.strip() and line.startswith(current.rstrip()):
                rest = line[len(current.rstrip()) :]
            else:
                continue
            return "\n".join([rest, *lines[at + len(tail) + 1 :]])
    return text


def trim_to_block(text: str, prefix: str, suffix: str) -> str:
    """``text`` cut where the block being written ends (the stop rules of inline completion).

    * in the middle of a line (code after the cursor on its line): the rest of that line only;
    * a line indented less than the cursor's line leaves its block: stop before it;
    * once the completion opened a deeper block, a line back at the cursor's level ends it;
    * two blank lines in a row end it, and so does the first line of the code below the
      cursor (the model writing the suffix again); at most MAX_LINES lines.

    >>> trim_to_block("x + 1\\n\\nprint(f(2))", "def f(x):\\n    return ", "")
    'x + 1'
    """
    if _rest_of_line(suffix).strip():
        return text.split("\n", 1)[0]
    current = prefix.rsplit("\n", 1)[-1]
    level = _indent(current) if current.strip() else len(current.expandtabs())
    next_line = next((ln.strip() for ln in suffix.split("\n") if ln.strip()), None)
    lines = text.split("\n")
    kept = [lines[0]]
    opened = bool(lines[0].strip()) and (current + lines[0]).rstrip().endswith(":")
    blank_run = 0
    for line in lines[1:]:
        if not line.strip():
            blank_run += 1
            if blank_run >= 2:
                break
            kept.append(line)
            continue
        blank_run = 0
        indent = _indent(line)
        if indent < level or (opened and indent <= level) or line.strip() == next_line:
            break
        if indent > level:
            opened = True
        kept.append(line)
        if len(kept) >= MAX_LINES:
            break
    return "\n".join(kept).rstrip()
