"""The names a test sees: those the notebook would give it at that point.

Tests run in the judge (a trusted process) in one :class:`TestNamespace` for the whole lesson,
in notebook order. A name a test reads resolves, like in the notebook, to whatever bound it
last -- with the instructor's notebook deciding who that is (:class:`Owners`):

* a test cell (this one or an earlier one) -> the judge's own value;
* an ``import`` in any cell, or a ``def`` in a setup cell -> the judge runs that statement
  itself, so ``np``, ``math``, ``assert_allclose`` or a setup helper are the instructor's objects
  even if learner code rebinds the name;
* any other binding in a setup cell (data, classes) -> the object setup made, as the learner
  process holds it (in-place changes are seen; a learner rebinding the name is not);
* a solution or context cell -> the learner's value now (plain data, or a proxy);
* builtins last, unless the instructor's solution defines the name itself (an exercise that
  writes its own ``sum``): then the learner's.

    >>> owners = Owners(); owners.bind([("np", "import")], "setup")
    >>> owners.get("np")
    'import'
"""

from __future__ import annotations

import ast
import builtins
import io
from collections.abc import Iterator, Mapping
from typing import Any

from eduproject.runner.proxy import Link, is_proxy

__all__ = ["BUILTIN_NAMES", "ENV_MODULES", "Owners", "TestNamespace", "bindings", "judge_code"]

BUILTIN_NAMES = frozenset(dir(builtins))
# Modules whose state is the learner's environment (files, randomness): a test that imports
# one uses the learner process's copy, as in the notebook (`random.seed(0)` seeds learner code).
ENV_MODULES = frozenset({"random", "os", "os.path", "pathlib", "shutil", "glob", "tempfile"})


# -- static bindings of a cell ------------------------------------------------------------------


def python_source(source: str) -> str:
    """``source`` as plain Python (IPython magics and ``!`` lines become calls)."""
    try:
        ast.parse(source)
        return source
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)


def _targets(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Tuple | ast.List):
        for element in node.elts:
            yield from _targets(element)
    elif isinstance(node, ast.Starred):
        yield from _targets(node.value)


class _Bindings(ast.NodeVisitor):
    """Top-level bindings of a module, in order; function and class bodies are not entered."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def add(self, names: Iterator[str] | list[str], kind: str) -> None:
        self.found.extend((n, kind) for n in names)

    def visit_Import(self, node: ast.Import) -> None:
        self.add([(a.asname or a.name).split(".")[0] for a in node.names], "import")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            self.add(["*" if alias.name == "*" else (alias.asname or alias.name)], "import")

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.add([node.name], "def")

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.add([node.name], "def")

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.add([node.name], "class")

    def visit_Lambda(self, node: ast.Lambda) -> None:
        pass

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.add(_targets(target), "assign")

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self.add(_targets(node.target), "assign")

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        self.add(_targets(node.target), "assign")

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.add(_targets(node.target), "assign")

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.add(_targets(node.target), "assign")
        for stmt in [*node.body, *node.orelse]:
            self.visit(stmt)

    visit_AsyncFor = visit_For  # type: ignore[assignment]

    def visit_withitem(self, node: ast.withitem) -> None:
        self.visit(node.context_expr)
        if node.optional_vars is not None:
            self.add(_targets(node.optional_vars), "assign")

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.add([node.name], "assign")
        for stmt in node.body:
            self.visit(stmt)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self.add(_targets(target), "delete")

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.add([node.name], "assign")
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.add([node.name], "assign")

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.add([node.rest], "assign")
        self.generic_visit(node)

    def visit_ListComp(self, node: ast.AST) -> None:
        pass  # comprehension variables are local to it

    visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_ListComp


def bindings(source: str) -> list[tuple[str, str]]:
    """The names a cell binds at top level, in order, each with its kind.

    Kinds: ``import`` (``*`` for a star import), ``def``, ``class``, ``assign``, ``delete``.

    >>> bindings("import numpy as np\\nx = 1\\ndef f(): y = 2")
    [('np', 'import'), ('x', 'assign'), ('f', 'def')]
    """
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return []
    visitor = _Bindings()
    for stmt in tree.body:
        visitor.visit(stmt)
    return visitor.found


def global_reads(source: str) -> set[str]:
    """The global names a cell's code reads, in any function or class too.

    A hidden test that binds one of these (``A = ...``, read by the instructor's
    ``power_iter``) gives it to learner code too, as the notebook does.
    """
    import symtable

    try:
        table = symtable.symtable(python_source(source), "<cell>", "exec")
    except SyntaxError:
        return set()
    found: set[str] = set()
    todo = [table]
    while todo:
        scope = todo.pop()
        for symbol in scope.get_symbols():
            if symbol.is_referenced() and (scope.get_type() == "module" or symbol.is_global()):
                found.add(symbol.get_name())
        todo.extend(scope.get_children())
    return found


def judge_code(source: str, *, defs: bool) -> str:
    """The statements of a cell the judge runs itself: its imports (and, for setup, its defs).

    Only top-level statements count; an import inside ``if``/``try`` stays the learner's.
    """
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return ""
    kinds: tuple[type, ...] = (ast.Import, ast.ImportFrom)
    if defs:
        kinds += (ast.FunctionDef, ast.AsyncFunctionDef)
    kept = [stmt for stmt in tree.body if isinstance(stmt, kinds)]
    return ast.unparse(ast.Module(body=kept, type_ignores=[])) if kept else ""


# -- who owns a name -----------------------------------------------------------------------------


class Owners:
    """Who bound each name last, in notebook order (see the module docstring)."""

    def __init__(self) -> None:
        self.owner: dict[str, str] = {}
        self.at: dict[str, int] = {}  # name -> the plan step that bound it last

    def bind(self, found: list[tuple[str, str]], role: str, step: int = -1) -> None:
        """Record a cell's bindings; ``role`` is the cell's (setup, solution, context, tests)."""
        for name, kind in found:
            if name == "*":
                continue  # the judge records what a star import bound when it runs it
            self.at[name] = step
            if role == "tests":
                self.owner[name] = "judge"
            elif kind == "import" and role == "solution":
                # The import IS the learner's answer: the name must exist in the learner's
                # namespace (else NameError, as in the notebook); it means the instructor's
                # module even when learner code bound something else to it.
                self.owner[name] = "answer-import"
            elif kind == "import":
                self.owner[name] = "import"
            elif role == "setup" and kind == "def":
                self.owner[name] = "def"
            elif role == "setup" and kind != "delete":
                self.owner[name] = "setup"
            else:
                self.owner[name] = "learner"

    def get(self, name: str) -> str | None:
        return self.owner.get(name)

    def copy(self) -> Owners:
        other = Owners()
        other.owner = dict(self.owner)
        return other


# -- the namespace tests run in ---------------------------------------------------------------


class TestNamespace(dict[str, Any]):
    """The globals of every test, with learner names resolved on use (see the module doc).

    A ``dict`` subclass: CPython looks names up through ``__getitem__`` when a frame's globals
    are not an exact dict, so functions that tests define resolve names the same way.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self, link: Link, owners: Owners, env_modules: frozenset[str] = ENV_MODULES
    ) -> None:
        super().__init__()
        self.link = link
        self.owners = owners
        # Modules imported from the learner process (ENV_MODULES and the lesson's own helper
        # modules, whose state learner code changes, as in the notebook).
        self.env_modules = env_modules
        self.mirror: bool = False  # visible test code: bindings are also the learner's
        self.pending: dict[str, Any] = {}
        # Hidden test code: names learner code reads (the instructor's code reads them) are
        # the learner's too; every name it binds is recorded for the hidden tests after it.
        self.reads: frozenset[str] = frozenset()
        self.hidden: dict[str, int] = {}  # name -> step of the hidden test that bound it
        self.step = -1  # the plan step now running
        self.record_hidden = False  # in a checkpoint: note what hidden tests bind
        self.bound_at: dict[str, int] = {}  # name -> step where test code last bound it
        self.instructor: dict[str, Any] = {}  # what the instructor's solution cells import

    def __getitem__(self, name: str) -> Any:
        if name.startswith("__"):
            return dict.__getitem__(self, name)
        owner = self.owners.get(name)
        if owner in ("judge", "import", "def") and dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        if owner == "answer-import":
            self.flush()
            found = self.link.fetch([name])
            if name not in found:
                raise KeyError(name)
            value = found[name]
            return self.instructor.get(name, value) if is_proxy(value) else value
        if owner == "setup":
            found = self.link.fetch([name], op="original")
            if name in found:
                return found[name]
        if name in BUILTIN_NAMES and owner != "learner":
            raise KeyError(name)
        self.flush()
        found = self.link.fetch([name])
        if name in found:
            return found[name]
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        raise KeyError(name)

    def __setitem__(self, name: str, value: Any) -> None:
        dict.__setitem__(self, name, value)
        self.owners.owner[name] = "judge"  # bound by test code: the judge's from now on
        self.bound_at[name] = self.step
        if name.startswith("__"):
            return
        if self.mirror or name in self.reads:
            self.pending[name] = value
        if self.record_hidden:
            self.hidden[name] = self.step

    def hidden_bindings(self) -> dict[str, Any]:
        """What hidden test code bound, as plain data (for the hidden tests after it)."""
        from eduproject.runner.wire import Codec, Refused

        plain = Codec(None, None)
        out: dict[str, Any] = {}
        for name, step in self.hidden.items():
            if not dict.__contains__(self, name):
                continue
            try:
                out[name] = [step, plain.encode(dict.__getitem__(self, name))]
            except (Refused, RecursionError):
                continue  # a learner object or a function: it lives in its own checkpoint
        return out

    def take_hidden(self, found: dict[str, Any], here: int) -> None:
        """Bindings of earlier hidden tests, newer than what the main line bound there."""
        from eduproject.runner.wire import Codec, Protocol

        plain = Codec(None, None)
        for name, item in found.items():
            if type(item) is not list or len(item) != 2 or type(item[0]) is not int:
                continue
            step, data = item
            newest = max(self.bound_at.get(name, -1), self.owners.at.get(name, -1))
            if step >= here or step <= newest:
                continue
            try:
                value = plain.decode(data)
            except (Protocol, RecursionError):
                continue
            dict.__setitem__(self, name, value)
            self.owners.owner[name] = "judge"
            self.bound_at[name] = step
            self.hidden[name] = step
            if name in self.reads:
                self.pending[name] = value

    def __delitem__(self, name: str) -> None:
        """``del name`` in a test: gone for the test and for learner code, as in the notebook
        (a test that checks a learner function really calls a helper deletes the helper)."""
        mine = dict.__contains__(self, name)
        if mine:
            dict.__delitem__(self, name)
        self.pending.pop(name, None)
        theirs = not name.startswith("__") and self.link.ask({"op": "unassign", "name": name})
        if not mine and theirs is not True:
            raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self[name]
        except KeyError:
            return False
        return True

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def flush(self) -> None:
        """Give learner code the names a visible test bound (``THRESHOLD = 5`` in a test is
        seen by a learner function that reads the global ``THRESHOLD``, as in the notebook)."""
        pending, self.pending = self.pending, {}
        for name, value in pending.items():
            if not _mirrorable(value):
                continue  # a test's own function or object: not the learner's to hold
            try:
                data = self.link.encode(value)
            except TypeError:
                continue
            self.link.ask({"op": "assign", "name": name, "value": data})

    def view(self) -> NotebookView:
        return NotebookView(self)


def _mirrorable(value: Any) -> bool:
    if is_proxy(value) or type(value) is type(builtins):
        return True
    from eduproject.runner.wire import Codec, Refused

    try:
        Codec(None, None).encode(value)
    except (Refused, RecursionError):
        return False
    return True


class NotebookView(Mapping[str, Any]):
    """``vars()`` / ``globals()`` as a test sees them: the notebook's names, learner's included."""

    def __init__(self, namespace: TestNamespace) -> None:
        self.namespace = namespace

    def _names(self) -> list[str]:
        learner = self.namespace.link.ask({"op": "names"})
        mine = [n for n in dict.keys(self.namespace) if not n.startswith("__")]
        return list(dict.fromkeys([*(learner if type(learner) is list else []), *mine]))

    def __getitem__(self, name: str) -> Any:
        return self.namespace[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self.namespace


# -- builtins as a test sees them ----------------------------------------------------------------


def test_builtins(namespace: TestNamespace, printed: io.StringIO) -> dict[str, Any]:
    """The judge's builtins for test code: learner objects answer ``type``, ``isinstance``,
    ``vars``... as in the notebook; ``open`` reads and writes the learner's files."""
    link = namespace.link
    real_type = builtins.type
    real_isinstance = builtins.isinstance
    real_issubclass = builtins.issubclass

    def type_(obj: Any, *rest: Any) -> Any:
        if not rest and is_proxy(obj):
            return obj.__class__
        return real_type(obj, *rest)

    def library(cls: Any) -> list[str] | None:
        return library_class_name(cls)

    def class_check(op: str, real: Any) -> Any:
        """isinstance or issubclass (``op``): a learner object's answer comes from the learner
        process, for a library class only (a class of the judge's means nothing there)."""

        def check(obj: Any, cls: Any) -> bool:
            if real_isinstance(cls, tuple):
                return any(check(obj, c) for c in cls)
            if is_proxy(obj) and real_isinstance(cls, type):
                spec = library(cls)
                ref = object.__getattribute__(obj, "_ref")
                return spec is not None and link.ask({"op": op, "ref": ref, "cls": spec}) is True
            return bool(real(obj, cls))

        return check

    isinstance_ = class_check("isinstance", real_isinstance)
    issubclass_ = class_check("issubclass", real_issubclass)

    def callable_(obj: Any) -> bool:
        if is_proxy(obj):
            return link.ask({"op": "callable", "ref": object.__getattribute__(obj, "_ref")}) is True
        return builtins.callable(obj)

    def vars_(*obj: Any) -> Any:
        if not obj:
            return namespace.view()
        if is_proxy(obj[0]):
            return link.ask({"op": "vars", "ref": object.__getattribute__(obj[0], "_ref")})
        return builtins.vars(*obj)

    def dir_(*obj: Any) -> list[str]:
        if not obj:
            return sorted(namespace.view())
        return builtins.dir(*obj)

    def globals_() -> Any:
        return namespace

    def print_(
        *args: Any,
        sep: str | None = " ",
        end: str | None = "\n",
        file: Any = None,
        flush: bool = False,
    ) -> None:
        import sys

        target = file if file is not None else sys.stdout
        target.write((sep if sep is not None else " ").join(str(a) for a in args))
        target.write(end if end is not None else "\n")

    def open_(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        return LearnerFile.open(link, path, mode, **kwargs)

    def input_(prompt: Any = "") -> str:
        raise EOFError("input() is not available while tests run")

    def import_(
        name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
    ) -> Any:
        env = namespace.env_modules
        if level == 0 and (name in env or name.split(".")[0] in env):
            return learner_import(name, fromlist)
        try:
            return builtins.__import__(name, globals, locals, fromlist, level)
        except ModuleNotFoundError:
            if level:
                raise
            # A module only the learner's process finds: a lesson helper in a folder that
            # notebook code put on sys.path (`sys.path.append("code/")`), as in the notebook.
            return learner_import(name, fromlist)

    def learner_import(name: str, fromlist: Any) -> Any:
        if fromlist:
            return link.ask({"op": "import", "module": name})
        return link.ask({"op": "import", "module": name.split(".")[0]})

    table = dict(vars(builtins))
    table.update(
        type=type_,
        isinstance=isinstance_,
        issubclass=issubclass_,
        callable=callable_,
        vars=vars_,
        dir=dir_,
        globals=globals_,
        locals=globals_,
        print=print_,
        open=open_,
        input=input_,
        __import__=import_,
    )
    return table


def library_class_name(cls: Any) -> list[str] | None:
    """``[module, qualname]`` under which the learner process finds the same library class."""
    import sys
    import types

    module = getattr(cls, "__module__", None)
    qualname = getattr(cls, "__qualname__", None)
    if type(module) is not str or type(qualname) is not str or module in ("__test__", "learner"):
        return None
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is cls:
        return [module, qualname]
    # Types with no importable home of their own (generator, function...) live in `types`.
    for name, value in vars(types).items():
        if value is cls:
            return ["types", name]
    return None


class LearnerFile(io.StringIO):
    """A file of the learner's work folder, opened by test code (read whole, written on close)."""

    def __init__(self, link: Link, path: str, mode: str, text: str) -> None:
        super().__init__(text)
        self.link = link
        self.path = path
        self.mode_ = mode

    @classmethod
    def open(cls, link: Link, path: Any, mode: str, **kwargs: Any) -> Any:
        import os

        path = os.fspath(path)
        binary = "b" in mode
        encoding = kwargs.get("encoding") or "utf-8"
        if "r" in mode and "+" not in mode:
            data = link.ask({"op": "read_file", "path": path})
            if binary:
                return io.BytesIO(data)
            return io.StringIO(data.decode(encoding), newline=kwargs.get("newline"))
        if binary:
            return _LearnerBytes(link, path, mode)
        return cls(link, path, mode, "")

    def close(self) -> None:
        if not self.closed and ("w" in self.mode_ or "a" in self.mode_):
            data = self.getvalue().encode("utf-8")
            self.link.ask(
                {"op": "write_file", "path": self.path, "data": self.link.encode(data),
                 "append": "a" in self.mode_}
            )  # fmt: skip
        super().close()


class _LearnerBytes(io.BytesIO):
    def __init__(self, link: Link, path: str, mode: str) -> None:
        super().__init__()
        self.link = link
        self.path = path
        self.mode_ = mode

    def close(self) -> None:
        if not self.closed:
            self.link.ask(
                {"op": "write_file", "path": self.path, "data": self.link.encode(self.getvalue()),
                 "append": "a" in self.mode_}
            )  # fmt: skip
        super().close()
