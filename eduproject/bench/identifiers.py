"""Does an explanation talk about the code in front of it? Own identifiers and invented ones.

An explanation of a reference solution is accepted only if it names some of the code's own
identifiers and invents none. Definitions:

* **own identifiers**: names the code binds -- its functions, parameters, variables, loop
  targets, imports (``def greet(name)`` owns ``greet`` and ``name``). A text mentions one
  when it names it in code format, or in prose if the name has three letters or more.
* **code-formatted names**: every Python name inside inline code (`` `...` ``) or a fenced
  code block of the text, read with Python's tokenizer (string literals and numbers are not
  names), with dotted chains kept together (``text.lower``).
* a code-formatted name is **invented** when it is none of: a name the code uses (bound,
  read, attribute or keyword argument), a word of the code's strings, docstrings or
  comments, a Python builtin or keyword, a standard-library module, an attribute of a
  built-in type (``str.upper``), or a public name of a module the code imports (and of
  that module's classes: ``pandas`` brings ``DataFrame`` and ``groupby``). A dotted name
  rooted at a module must exist in it: ``math.add`` is invented even though ``add`` may
  be a word of the code.

Only the instructor's code is inspected (imported modules are the ones it names); model
text is parsed, never run.

    >>> check = check_identifiers("`add` returns `a + b`.", "def add(a, b):\\n    return a + b")
    >>> check.mentioned, check.invented, check.ok
    (('a', 'add', 'b'), (), True)
    >>> check_identifiers("It calls `math.add`.", "def add(a, b):\\n    return a + b").invented
    ('math.add',)
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import io
import keyword
import re
import sys
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

_FENCED = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.DOTALL)
_INLINE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BUILTIN_TYPES = (str, list, dict, set, frozenset, tuple, int, float, complex, bytes, range, object)
# Modules never imported to look names up: importing them has side effects.
_NO_IMPORT = frozenset({"antigravity", "this", "tkinter", "turtle", "idlelib", "webbrowser"})


@dataclass(frozen=True)
class IdentifierCheck:
    """What a text says about the code: own names it mentions, names it makes up."""

    mentioned: tuple[str, ...]
    invented: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return bool(self.mentioned) and not self.invented

    @property
    def reason(self) -> str:
        if self.invented:
            shown = ", ".join(f"`{n}`" for n in self.invented[:5])
            return f"invents identifiers not in the code: {shown}"
        if not self.mentioned:
            return "names none of the code's own identifiers"
        return f"mentions {len(self.mentioned)} of the code's identifiers and invents none"


@dataclass(frozen=True)
class Vocabulary:
    """The names a text about ``code`` may use (see the module docstring)."""

    own: frozenset[str]
    used: frozenset[str]
    words: frozenset[str]
    modules: dict[str, ModuleType]  # local name -> module the code imports

    def known(self, name: str) -> bool:
        return (
            name in self.own
            or name in self.used
            or name in self.words
            or name in _python_names()
            or name in self.modules
            or any(name in _module_names(m) for m in self.modules.values())
        )

    def known_chain(self, chain: list[str]) -> bool:
        """``a.b.c``: every part known; parts after a module must exist in it."""
        root = chain[0]
        if not self.known(root):
            return False
        module = self.modules.get(root) or _stdlib_module(root)
        for part in chain[1:]:
            if module is not None:
                value = getattr(module, part, None)
                if value is None:
                    return False
                module = value if isinstance(value, ModuleType) else None
            elif not self.known(part):
                return False
        return True


def vocabulary(code: str) -> Vocabulary:
    """The vocabulary of ``code`` (instructor code: setup and solution cells)."""
    own: set[str] = set()
    used: set[str] = set()
    modules: dict[str, ModuleType] = {}
    try:
        tree = ast.parse(code)
    except SyntaxError:
        tree = None
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Name):
            (own if isinstance(node.ctx, ast.Store) else used).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            own.add(node.name)
        elif isinstance(node, ast.arg):
            own.add(node.arg)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            used.add(node.arg)
        elif isinstance(node, ast.alias):
            local = (node.asname or node.name).split(".")[0]
            own.add(local)
            used.update(node.name.split("."))
            module = _import(node.name if node.asname else node.name.split(".")[0])
            if module is not None:
                modules[local] = module
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            module = _import(node.module)
            if module is not None:
                modules.setdefault(node.module.split(".")[0], module)
    return Vocabulary(frozenset(own), frozenset(used), frozenset(_text_words(code)), modules)


def check_identifiers(text: str, code: str, *, context: str = "") -> IdentifierCheck:
    """Check an explanation ``text`` of ``code``; ``context`` is code it relies on (setup)."""
    vocab = vocabulary(f"{context}\n{code}" if context else code)
    own_here = vocabulary(code).own
    chains = list(code_names(text))
    formatted = {part for chain in chains for part in chain}
    # In prose, a one- or two-letter name ("a", "n") is too often an ordinary word.
    prose = {w for w in _NAME.findall(text) if len(w) >= 3}
    mentioned = tuple(sorted(n for n in own_here if n in formatted or n in prose))
    invented: dict[str, None] = {}
    for chain in chains:
        if not vocab.known_chain(chain):
            invented.setdefault(".".join(chain), None)
    return IdentifierCheck(mentioned=mentioned, invented=tuple(invented))


def code_spans(text: str) -> Iterator[str]:
    """The code-formatted parts of ``text``: fenced blocks, then inline spans outside them."""
    for match in _FENCED.finditer(text):
        yield match.group(1)
    rest = _FENCED.sub(" ", text)
    for match in _INLINE.finditer(rest):
        yield match.group(2)


def code_names(text: str) -> Iterator[list[str]]:
    """Dotted name chains (``["text", "lower"]``) in the code-formatted parts of ``text``."""
    for span in code_spans(text):
        yield from _chains(span)


def _chains(span: str) -> Iterator[list[str]]:
    try:
        toks = [
            t
            for t in tokenize.generate_tokens(io.StringIO(span).readline)
            if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)
        ]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        # Not Python (unbalanced quotes, prose): take the names outside quoted parts.
        bare = re.sub(r"(['\"]).*?\1", " ", span)
        yield from ([n] for n in _NAME.findall(bare))
        return
    chain: list[str] = []
    expect_name = True
    for tok in toks:
        if tok.type == tokenize.NAME and expect_name:
            chain.append(tok.string)
            expect_name = False
        elif tok.type == tokenize.OP and tok.string == "." and chain and not expect_name:
            expect_name = True
        else:
            if chain:
                yield chain
            chain = [tok.string] if tok.type == tokenize.NAME else []
            expect_name = not chain
    if chain:
        yield chain


def _text_words(code: str) -> Iterable[str]:
    """Words inside the code's string literals and comments (docstrings included)."""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in (tokenize.STRING, tokenize.COMMENT):
                yield from _NAME.findall(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return


@functools.cache
def _python_names() -> frozenset[str]:
    names: set[str] = set(dir(builtins)) | set(keyword.kwlist) | set(keyword.softkwlist)
    names |= set(sys.stdlib_module_names)
    for kind in _BUILTIN_TYPES:
        names |= {n for n in dir(kind) if not n.startswith("_")}
    return frozenset(names)


@functools.cache
def _module_names(module: ModuleType) -> frozenset[str]:
    """Public names of ``module`` and of the classes it defines (one level down)."""
    names: set[str] = set()
    for name in dir(module):
        if name.startswith("_"):
            continue
        names.add(name)
        value: Any = getattr(module, name, None)
        if isinstance(value, type):
            names |= {n for n in dir(value) if not n.startswith("_")}
    return frozenset(names)


def _stdlib_module(name: str) -> ModuleType | None:
    return _import(name) if name in sys.stdlib_module_names else None


@functools.cache
def _import(name: str) -> ModuleType | None:
    if name.split(".")[0] in _NO_IMPORT:
        return None
    try:
        return importlib.import_module(name)
    except Exception:  # a module the instructor names but this machine lacks
        return None
