"""Reading code out of model-written text: tokens, code fragments, normalized windows.

The leak guard compares the *shape* of code, not its spelling: identifiers become
placeholders numbered by first appearance inside each window (``total += n`` and
``s += x`` both read ``v0 += v1``), while keywords, builtins, attribute names,
operators and literals stay. The same functions read the reference solution at
release time and a candidate hint in the learner's kernel, so both sides agree.

    >>> canonical(tokens("return total + n"))
    'return v0 + v1'
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import keyword
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

# One token of code-ish text. Prose goes through the same tokenizer: its words become
# placeholders, which rarely line up with the operators and literals of real code.
_TOKEN = re.compile(
    r"""
    (?P<str>[rRbBuUfF]{0,2}(?:"[^"\n]*"|'[^'\n]*'))
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*=?|//=?|==|!=|<=|>=|->|:=|\+=|-=|\*=|/=|%=|[-+*/%<>=!&|^~@.,:;()\[\]{}])
    """,
    re.VERBOSE,
)
# Apostrophes inside words ("don't", "it's") would otherwise open a string literal that
# swallows the code after them.
_APOSTROPHE = re.compile(r"(?<=[A-Za-z])['\u2019](?=[A-Za-z])")
_FENCE = re.compile(r"```[ \t]*([\w+#-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_INLINE = re.compile(r"`([^`\n]+)`")

KEEP_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
_TITLE_KEYWORDS = {k.title(): k for k in keyword.kwlist if k.islower()}


@dataclass(frozen=True)
class Token:
    kind: str  # "str" | "num" | "name" | "op"
    text: str


def tokens(text: str) -> list[Token]:
    """Tokenize code or prose; strings keep their content, not their quotes.

    >>> [t.text for t in tokens("x = 'a'")]
    ['x', '=', "S'a'"]
    """
    out: list[Token] = []
    for m in _TOKEN.finditer(_APOSTROPHE.sub("", text)):
        kind = m.lastgroup or "op"
        value = m.group()
        if kind == "str":
            body = value.lstrip("rRbBuUfF")
            value = f"S'{body[1:-1]}'"
        elif kind == "name" and value in _TITLE_KEYWORDS:
            value = _TITLE_KEYWORDS[value]  # "Return total" at a sentence start
        out.append(Token(kind, value))
    return out


def canonical(window: list[Token] | tuple[Token, ...]) -> str:
    """The window as text with free identifiers renamed by first appearance."""
    names: dict[str, str] = {}
    parts: list[str] = []
    after_dot = False
    for tok in window:
        text = tok.text
        if tok.kind == "name" and text not in KEEP_NAMES and not after_dot:
            text = names.setdefault(text, f"v{len(names)}")
        parts.append(text)
        after_dot = tok.text == "."
    return " ".join(parts)


def is_structural(window: list[Token] | tuple[Token, ...]) -> bool:
    """True when a window carries code structure (an operator, number or string).

    Windows of bare words and keywords ("for v0 in v1 if") look the same in prose and
    in code; counting them would make ordinary sentences match.
    """
    return any(t.kind in ("op", "num", "str") and t.text not in (",", ".") for t in window)


def windows(toks: list[Token], n: int) -> Iterator[tuple[Token, ...]]:
    if len(toks) < n:
        return
    for i in range(len(toks) - n + 1):
        yield tuple(toks[i : i + n])


def salted(salt: str, kind: str, text: str) -> str:
    """A short salted hash; 64 bits keep collisions negligible for a few hundred features."""
    return hashlib.sha256(f"{salt}\x00{kind}\x00{text}".encode()).hexdigest()[:16]


# -- code fragments inside markdown -----------------------------------------------------


@dataclass(frozen=True)
class Fragment:
    code: str
    lang: str  # fence language tag, "" when none; "inline" for `...`; "loose" for unfenced


def strip_markdown(text: str) -> str:
    """Text with fences and backticks removed, code kept in place (for token windows)."""
    text = _FENCE.sub(lambda m: "\n" + m.group(2) + "\n", text)
    return text.replace("`", " ")


def fragments(text: str) -> list[Fragment]:
    """Code written in a reply: fenced blocks, inline code and unfenced code runs."""
    fenced, inline, loose = fragment_groups(text)
    return fenced + inline + loose


def fragment_groups(
    text: str, *, mid_line: bool = False
) -> tuple[list[Fragment], list[Fragment], list[Fragment]]:
    """:func:`fragments` in its three groups: fenced blocks, inline code, unfenced runs.

    ``mid_line``: ``text`` starts inside a line of prose (cut there by :func:`stable_cut`),
    so its first line cannot start an unfenced code run.
    """
    fenced = [Fragment(m.group(2), m.group(1).lower()) for m in _FENCE.finditer(text)]
    prose = _FENCE.sub("\n", text)
    inline = [Fragment(m.group(1), "inline") for m in _INLINE.finditer(prose)]
    loose = [Fragment(run, "loose") for run in _loose_code_runs(prose, skip_first=mid_line)]
    return fenced, inline, loose


def stable_cut(text: str, start: int = 0) -> int:
    """The last position after ``start`` where ``text`` may be cut so that whatever follows,
    the text before reads the same (its code fragments and tokens do not change), or
    ``start`` when there is none yet. ``text[:start]`` must itself be such a cut.

    A cut lies outside every code fence (all fences before it closed), either just after a
    line that can neither start nor continue an unfenced code run (no backtick, no leading
    blank, not code-like), or after a blank inside a line that cannot become code whatever
    follows (its first word can start no statement :func:`fragments` looks for) and has no
    backtick or quote before the cut. :func:`fragments`, :func:`strip_markdown` and
    :func:`tokens` of the whole text are then those of the two parts put together (the
    second read with ``fragment_groups(..., mid_line=True)`` when the cut is inside a line).

    >>> stable_cut("Look at the loop.\\nIt stops one")
    27
    """
    limit = len(text)
    closed: list[tuple[int, int]] = []
    for m in _FENCE.finditer(text, start):
        if not text.endswith("```", 0, m.end()):  # open up to the end: nothing after is stable
            limit = m.start()
            break
        closed.append((m.start(), m.end()))
    stray = text.find("```", closed[-1][1] if closed else start, limit)
    if stray != -1:  # a fence whose opening line is not complete yet
        limit = stray
    found = start
    cut = text.rfind("\n", start, limit)
    while cut != -1:
        line = text[text.rfind("\n", 0, cut) + 1 : cut]
        if (
            not any(a < cut < b for a, b in closed)
            and "`" not in line
            and (line == "" or line.splitlines() == [line])
            and not line.startswith((" ", "\t"))
            and not _CODE_START.match(line)
        ):
            found = cut + 1
            break
        cut = text.rfind("\n", start, cut)
    # Inside the last line: after its last blank before anything that could pair up later.
    line_start = text.rfind("\n", 0, limit) + 1
    line = text[line_start:limit]
    bad = next((i for i, c in enumerate(line) if _pairs_later(line, i, c)), len(line))
    blank = max(line.rfind(" ", 0, bad), line.rfind("\t", 0, bad))
    mid = line_start + blank + 1
    if (
        blank > 0
        and mid > found
        and not any(a < mid < b for a, b in closed)
        and _never_code(line[: blank + 1])
    ):
        return mid
    return found


# Characters that end a line for str.splitlines (besides \n).
_BREAKS = frozenset("\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_STATEMENT_WORDS = frozenset({"def", "class", "for", "while", "if", "return", "import", "from"})
_FIRST_WORD = re.compile(r"[A-Za-z_]\w*")
_TARGET = re.compile(r"[A-Za-z_][\w.\[\]]*\s*")


def _pairs_later(line: str, i: int, c: str) -> bool:
    """Whether ``line[i]`` may pair with text still to come (a backtick or a quote; an
    apostrophe between letters is dropped by :func:`tokens`), or breaks the line."""
    if c in _BREAKS or c == "`" or c == '"':
        return True
    if c == "'" or c == "\u2019":
        between = (
            0 < i < len(line) - 1 and _ascii_letter(line[i - 1]) and _ascii_letter(line[i + 1])
        )
        return c == "'" and not between
    return False


def _ascii_letter(c: str) -> bool:
    return "a" <= c <= "z" or "A" <= c <= "Z"


def _never_code(prefix: str) -> bool:
    """A line starting with ``prefix`` is no unfenced code whatever follows (see
    ``_CODE_START``): no leading blank, no statement word first, and no assignment after
    a first name."""
    if not prefix or prefix[0].isspace() or re.match(r"\s", prefix[0]):
        return False
    first = _FIRST_WORD.match(prefix)
    if first is None:
        return True  # starts with no name: no pattern of _CODE_START can match
    if first.group() in _STATEMENT_WORDS:
        return False
    target = _TARGET.match(prefix)
    assert target is not None
    return target.end() < len(prefix) and prefix[target.end()] not in "-+*/%="


_CODE_START = re.compile(
    r"^\s*(def |class |for .+:|while .+:|if .+:|return\b|import |from \w+ import|"
    r"[A-Za-z_][\w.\[\]]*\s*(?:[-+*/%]?=)\s*\S)"
)


def _loose_code_runs(prose: str, *, skip_first: bool = False) -> list[str]:
    """Unfenced code: a line that starts like code, with the indented lines after it.

    Small models often write code without fences, or run a sentence on after it
    ("return (2*n)+1 is all you need"); those runs must be read as code too.
    ``skip_first``: the first line is the end of a line of prose.
    """
    runs: list[str] = []
    lines = prose.splitlines()
    i = 1 if skip_first else 0
    while i < len(lines):
        head = _code_head(lines[i]) if _CODE_START.match(lines[i]) else None
        if head is None:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and (lines[j].startswith((" ", "\t")) or _CODE_START.match(lines[j])):
            j += 1
        runs.append("\n".join([head, *lines[i + 1 : j]]) if head == lines[i] else head)
        i = j
    return runs


def _code_head(line: str) -> str | None:
    """The line itself when it parses (a block opener counts), else its longest parsable
    start with the trailing words of prose cut off."""
    words = line.split(" ")
    for k in range(len(words), 0, -1):
        candidate = " ".join(words[:k]).rstrip(" .,;")
        probe = candidate.strip() + ("\n pass" if candidate.rstrip().endswith(":") else "")
        try:
            ast.parse(probe)
        except (SyntaxError, ValueError):
            continue
        return line if k == len(words) else candidate
    return None


def parse_code(code: str) -> ast.Module | None:
    """Parse a fragment leniently: dedented, and cut back line by line when the tail is prose."""
    src = textwrap.dedent(code).strip("\n")
    lines = src.splitlines()
    while lines:
        try:
            return ast.parse("\n".join(lines))
        except (SyntaxError, ValueError):
            lines.pop()
    return None


def normalized_code_tokens(code: str) -> list[Token]:
    """Tokens of a code fragment after ``ast.unparse`` (parentheses, quotes, spacing and
    comments normalized), or of its raw text when it does not parse."""
    tree = parse_code(code)
    if tree is None:
        return tokens(_strip_comments(code))
    return tokens(ast.unparse(tree))


def _strip_comments(code: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in code.splitlines())
