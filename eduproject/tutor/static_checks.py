"""Beginner bugs found by reading the code (no running): the offline tutor's eyes.

Each check returns :class:`Finding` values whose ``message`` is plain-language markdown
addressed to the learner::

    >>> [f.kind for f in static_findings("def f(x):\\n    print(x * 2)\\n")]
    ['print-not-return']
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from eduproject.tutor.dead_code import unreachable_findings

# Builtins beginners overwrite most often; shadowing one breaks a later call confusingly.
SHADOWABLE = frozenset(
    {
        "list",
        "dict",
        "str",
        "int",
        "float",
        "bool",
        "set",
        "tuple",
        "sum",
        "max",
        "min",
        "len",
        "input",
        "print",
        "range",
        "type",
        "id",
        "sorted",
        "abs",
        "round",
        "any",
        "all",
        "map",
        "filter",
        "zip",
        "open",
        "next",
        "iter",
        "format",
        "object",
        "reversed",
        "enumerate",
    }
)


@dataclass(frozen=True)
class Finding:
    kind: str  # stub | no-return | print-not-return | missing-return | unused-parameter |
    # shadowed-builtin | endless-loop | loop-never-changes | never-runs | off-by-one |
    # return-in-loop | compare-not-assign
    line: int
    message: str


def syntax_problem(code: str) -> SyntaxError | None:
    """The SyntaxError Python would raise for ``code``, or None when it parses."""
    try:
        ast.parse(code)
    except SyntaxError as exc:
        return exc
    except ValueError:  # null bytes
        return SyntaxError("the code contains a null character", ("<cell>", 1, 1, "", 1, 1))
    return None


def static_findings(code: str) -> list[Finding]:
    """Every finding, most important first; [] when the code does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    found: list[Finding] = []
    found += _stubs(tree)
    for func in _functions(tree):
        found += _function_checks(func)
    found += _shadowed(tree)
    found += _loops(tree)
    found += _ranges(tree)
    found += _compare_statements(tree)
    found += unreachable_findings(tree)
    order = [
        "stub",
        "endless-loop",
        "loop-never-changes",
        "never-runs",
        "print-not-return",
        "no-return",
        "return-in-loop",
        "missing-return",
        "compare-not-assign",
        "off-by-one",
        "shadowed-builtin",
        "unused-parameter",
    ]
    return sorted(found, key=lambda f: (order.index(f.kind), f.line))


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            yield node


def _own_nodes(func: ast.FunctionDef) -> Iterator[ast.AST]:
    """Nodes of ``func``'s body, not descending into nested functions or classes."""
    stack: list[ast.AST] = list(func.body)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
            ):
                stack.append(child)


def _is_stub_raise(node: ast.AST) -> bool:
    if not isinstance(node, ast.Raise) or node.exc is None:
        return False
    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _stubs(tree: ast.AST) -> list[Finding]:
    return [
        Finding(
            "stub",
            node.lineno,
            f"Line {node.lineno} still has `raise NotImplementedError()`: you haven't replaced "
            "the stub yet. Delete that line (and `# YOUR CODE HERE`) and write your code there.",
        )
        for node in ast.walk(tree)
        if isinstance(node, ast.Raise) and _is_stub_raise(node)
    ]


def _function_checks(func: ast.FunctionDef) -> list[Finding]:
    nodes = list(_own_nodes(func))
    if any(_is_stub_raise(n) for n in nodes):
        return []  # the stub finding says it all
    found: list[Finding] = []
    name = func.name
    returns = [n for n in nodes if isinstance(n, ast.Return) and n.value is not None]
    prints = [
        n
        for n in nodes
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
    ]
    if not returns and not _yields(nodes):
        if prints:
            found.append(
                Finding(
                    "print-not-return",
                    prints[0].lineno,
                    f"`{name}` prints its answer but never returns it. `print` only shows the "
                    "value on screen; the tests look at the value the function *gives back*, "
                    "which is `None` without a `return`. Use `return` to hand the answer back.",
                )
            )
        else:
            found.append(
                Finding(
                    "no-return",
                    func.lineno,
                    f"`{name}` never uses `return` with a value, so calling it gives `None`. "
                    "End the function by returning the answer you computed.",
                )
            )
    in_loop = _return_in_loop(func)
    if in_loop:
        found += in_loop
    elif returns and _falls_through(func.body):
        found.append(
            Finding(
                "missing-return",
                func.lineno,
                f"Some paths through `{name}` reach the end without a `return`, and then the "
                "function gives `None`. Check each `if`/`else` branch (and what happens after "
                "a loop ends): does every way through end with `return`?",
            )
        )
    used = {n.id for n in nodes if isinstance(n, ast.Name)}
    for arg in func.args.args + func.args.kwonlyargs:
        if arg.arg not in used and arg.arg not in ("self", "cls") and not arg.arg.startswith("_"):
            found.append(
                Finding(
                    "unused-parameter",
                    func.lineno,
                    f"`{name}` never uses its parameter `{arg.arg}`. The answer should depend "
                    "on it: did you type a different name, or use a variable from outside "
                    "the function instead?",
                )
            )
    return found


def _yields(nodes: list[ast.AST]) -> bool:
    return any(isinstance(n, ast.Yield | ast.YieldFrom) for n in nodes)


def _falls_through(body: list[ast.stmt]) -> bool:
    """True when running ``body`` can reach its end without return/raise."""
    if not body:
        return True
    if any(isinstance(stmt, ast.Return | ast.Raise) for stmt in body):
        return False  # lines after it never run (a "never-runs" finding says so)
    last = body[-1]
    if isinstance(last, ast.If):
        return _falls_through(last.body) or _falls_through(last.orelse)
    if isinstance(last, ast.While) and _always_true(last.test):
        return any(isinstance(n, ast.Break) for n in _loop_own_nodes(last))
    if isinstance(last, ast.With):
        return _falls_through(last.body)
    if isinstance(last, ast.Try):
        return _falls_through(last.body + last.finalbody) or any(
            _falls_through(h.body) for h in last.handlers
        )
    if isinstance(last, ast.Match):
        return True
    return True


def _return_in_loop(func: ast.FunctionDef) -> list[Finding]:
    found = []
    for node in _own_nodes(func):
        if isinstance(node, ast.For) and node.body and isinstance(node.body[-1], ast.Return):
            if any(isinstance(s, ast.If | ast.Continue) for s in node.body[:-1]):
                continue  # a `continue` before it means not every pass returns
            ret = node.body[-1]
            found.append(
                Finding(
                    "return-in-loop",
                    ret.lineno,
                    f"The `return` on line {ret.lineno} is inside the `for` loop, so the "
                    "function stops during the very first pass. If the loop should finish "
                    "first, move the `return` out of the loop (one indentation level less).",
                )
            )
    return found


def _shadowed(tree: ast.AST) -> list[Finding]:
    found = []
    seen: set[str] = set()
    for node in ast.walk(tree):
        names: list[tuple[str, int]] = []
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append((node.id, node.lineno))
        elif isinstance(node, ast.arg):
            names.append((node.arg, node.lineno))
        elif isinstance(node, ast.FunctionDef):
            names.append((node.name, node.lineno))
        for name, line in names:
            if name in SHADOWABLE and name not in seen:
                seen.add(name)
                found.append(
                    Finding(
                        "shadowed-builtin",
                        line,
                        f"Line {line} uses `{name}` as a name of your own. That hides Python's "
                        f"built-in `{name}`, so using the built-in later fails with a confusing "
                        f"error (like \"'int' object is not callable\"). Pick another name, "
                        f"such as `my_{name}` or a word that says what it holds.",
                    )
                )
    return found


def _always_true(test: ast.expr) -> bool:
    return isinstance(test, ast.Constant) and bool(test.value)


def _loop_own_nodes(loop: ast.While) -> Iterator[ast.AST]:
    """Nodes of a loop body, not entering nested loops (their `break` is not ours) or defs."""
    stack: list[ast.AST] = list(loop.body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.For | ast.While | ast.FunctionDef | ast.Lambda | ast.ClassDef):
            continue
        stack.extend(ast.iter_child_nodes(node))


def _loops(tree: ast.AST) -> list[Finding]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.While):
            continue
        own = list(_loop_own_nodes(node))
        exits = any(isinstance(n, ast.Break | ast.Return | ast.Raise) for n in own)
        if exits:
            continue
        if _always_true(node.test):
            found.append(
                Finding(
                    "endless-loop",
                    node.lineno,
                    f"The `while True:` loop on line {node.lineno} has no `break` or `return`, "
                    "so it can never end and your code hangs. Add a condition that stops it.",
                )
            )
            continue
        tested = _condition_names(node.test)
        changed = _changed_names(node)
        if tested and not tested & changed:
            names = ", ".join(f"`{n}`" for n in sorted(tested))
            found.append(
                Finding(
                    "loop-never-changes",
                    node.lineno,
                    f"The loop on line {node.lineno} keeps going while its condition is true, "
                    f"but nothing inside it changes {names}. Once it starts it never stops: "
                    "update the variable inside the loop (for example add 1 to a counter).",
                )
            )
    return found


def _condition_names(test: ast.expr) -> set[str]:
    """Names a loop condition depends on, leaving out calls and their arguments when it
    has others: in ``i < len(items)`` the counter ``i`` is what must change."""
    inside_calls = {
        id(n) for call in ast.walk(test) if isinstance(call, ast.Call) for n in ast.walk(call)
    }
    direct = {n.id for n in ast.walk(test) if isinstance(n, ast.Name) and id(n) not in inside_calls}
    return direct or {n.id for n in ast.walk(test) if isinstance(n, ast.Name)}


def _changed_names(loop: ast.While) -> set[str]:
    changed: set[str] = set()
    for n in ast.walk(loop):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del):
            changed.add(n.id)
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            # items.pop(), items.append(x): a method call may change the object it is called on
            target = n.func.value
            if isinstance(target, ast.Name):
                changed.add(target.id)
        elif (
            isinstance(n, ast.Subscript | ast.Attribute)
            and isinstance(n.ctx, ast.Store)
            and isinstance(n.value, ast.Name)
        ):
            changed.add(n.value.id)
    return changed


def _len_of(node: ast.expr) -> str | None:
    """``x`` when node is ``len(x)``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "len"
        and len(node.args) == 1
    ):
        return ast.unparse(node.args[0])
    return None


def _ranges(tree: ast.AST) -> list[Finding]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            seq = _len_of(node.slice)
            if seq is not None and seq == ast.unparse(node.value):
                found.append(
                    Finding(
                        "off-by-one",
                        node.lineno,
                        f"Line {node.lineno} reads `{ast.unparse(node)}`, which is always one "
                        f"past the end: the positions of `{seq}` go from 0 to `len({seq}) - 1`.",
                    )
                )
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id != "range" or not node.args:
            continue
        args = node.args
        stop = args[-1] if len(args) <= 2 else args[1]
        start = args[0] if len(args) >= 2 else None
        src = ast.unparse(node)
        if isinstance(stop, ast.BinOp) and isinstance(stop.op, ast.Add):
            seq = _len_of(stop.left)
            if seq and isinstance(stop.right, ast.Constant) and stop.right.value == 1:
                found.append(
                    Finding(
                        "off-by-one",
                        node.lineno,
                        f"`{src}` on line {node.lineno} goes one step too far: the last "
                        f"position of `{seq}` is `len({seq}) - 1`, and `range` already stops "
                        f"just before its end value. Using `{seq}[i]` there raises IndexError.",
                    )
                )
        elif isinstance(stop, ast.BinOp) and isinstance(stop.op, ast.Sub):
            seq = _len_of(stop.left)
            if seq and isinstance(stop.right, ast.Constant) and stop.right.value == 1:
                found.append(
                    Finding(
                        "off-by-one",
                        node.lineno,
                        f"`{src}` on line {node.lineno} stops before the last item of "
                        f"`{seq}`: `range` already leaves out its end value. Is skipping the "
                        "last one what you want?",
                    )
                )
        elif (
            start is not None
            and isinstance(start, ast.Constant)
            and start.value == 1
            and _len_of(stop)
        ):
            found.append(
                Finding(
                    "off-by-one",
                    node.lineno,
                    f"`{src}` on line {node.lineno} starts at 1, so it skips the first item: "
                    "positions in Python start at 0. Is skipping the first one what you want?",
                )
            )
    return found


def _compare_statements(tree: ast.AST) -> list[Finding]:
    return [
        Finding(
            "compare-not-assign",
            node.lineno,
            f"Line {node.lineno} compares with `==` but does nothing with the result. "
            "To store a value in a variable, use a single `=`.",
        )
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Compare)
        and isinstance(node.value.ops[0], ast.Eq)
    ]
