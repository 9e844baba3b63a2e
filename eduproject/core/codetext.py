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
    found = [Fragment(m.group(2), m.group(1).lower()) for m in _FENCE.finditer(text)]
    prose = _FENCE.sub("\n", text)
    found += [Fragment(m.group(1), "inline") for m in _INLINE.finditer(prose)]
    found += [Fragment(run, "loose") for run in _loose_code_runs(prose)]
    return found


_CODE_START = re.compile(
    r"^\s*(def |class |for .+:|while .+:|if .+:|return\b|import |from \w+ import|"
    r"[A-Za-z_][\w.\[\]]*\s*(?:[-+*/%]?=)\s*\S)"
)


def _loose_code_runs(prose: str) -> list[str]:
    """Unfenced code: a line that starts like code, with the indented lines after it.

    Small models often write code without fences, or run a sentence on after it
    ("return (2*n)+1 is all you need"); those runs must be read as code too.
    """
    runs: list[str] = []
    lines = prose.splitlines()
    i = 0
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
