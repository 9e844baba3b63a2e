"""otter-assign test cells -> code that raises when the check fails.

An otter (OK-format) test cell is a doctest: the cell's code, compared with the
output recorded in the master notebook. We turn the comparison into an ``assert``::

    sieve(2) == {2}      (output True)   ->  assert sieve(2) == {2}
    len(sieve(100))      (output 25)     ->  assert len(sieve(100)) == 25
    df.shape             (output (3, 2)) ->  assert df.shape == (3, 2)
    square               (output <function square ...>) -> assert repr(square) == '<function ...'

An exception-based test (a lone ``def test_x(f): ...``) gets a call ``test_x(f)``.
"""

from __future__ import annotations

import ast
import doctest
import io
import re
import tokenize
from dataclasses import dataclass, field
from typing import Any

import yaml

from eduproject.authoring.importers.otter_solutions import CodeError, Converted, drop_ignored

BEGIN_TEST_CONFIG = re.compile(r'(?:.\s*=\s*)?"""?\s*#\s*BEGIN\s*TEST\s*CONFIG', re.IGNORECASE)
END_TEST_CONFIG = re.compile(r'"""?\s*#\s*END\s*TEST\s*CONFIG', re.IGNORECASE)


@dataclass
class TestCell:
    """One otter test case read from a test cell."""

    code: str
    hidden: bool
    points: float | None
    name: str | None = None  # the test config's `name`, if any
    notes: list[str] = field(default_factory=list)


def read_test(cell: dict[str, Any], text: str) -> TestCell:
    """Split an otter test cell into hidden flag, config and converted code."""
    lines = text.split("\n")
    first = lines[0]
    hidden = bool(first.lstrip().startswith("#") and re.search(r"\bhidden\b", first, re.IGNORECASE))
    start = 1 if hidden else 0
    config: dict[str, Any] = {}
    if BEGIN_TEST_CONFIG.match(first):
        end = next((i for i, line in enumerate(lines) if i and END_TEST_CONFIG.match(line)), None)
        if end is None:
            raise CodeError(
                "the test config is never closed", 'end it with a line `""" # END TEST CONFIG`'
            )
        try:
            loaded = yaml.safe_load("\n".join(lines[1:end])) or {}
        except yaml.YAMLError as exc:
            raise CodeError(f"the test config is not valid YAML: {exc}", "fix the YAML") from None
        if not isinstance(loaded, dict):
            raise CodeError("the test config is not a YAML mapping", "write `key: value` lines")
        config, start = loaded, end + 1
    notes: list[str] = []
    hidden = bool(config.get("hidden", hidden))
    points = config.get("points")
    if points is not None and (
        isinstance(points, bool) or not isinstance(points, int | float) or points < 0
    ):
        raise CodeError(f"test points {points!r} is not a number >= 0", "write e.g. `points: 2`")
    if config.get("success_message"):
        notes.append(
            f"success_message {config['success_message']!r} kept only as a comment (eduproject "
            "shows its own message for a passing test)"
        )
    known = {"hidden", "points", "success_message", "failure_message", "name"}
    for key in sorted(set(config) - known):
        notes.append(f"test config key {key!r} ignored (otter knows {', '.join(sorted(known))})")
    name = config.get("name")
    body = drop_ignored("\n".join(lines[start:]))
    converted = convert_check(body, _recorded_output(cell), cell.get("execution_count"))
    code = converted.code
    if config.get("failure_message"):
        code = with_failure_message(code, str(config["failure_message"]))
    if config.get("success_message"):
        code = f"# success message: {config['success_message']}\n{code}"
    return TestCell(
        code,
        hidden,
        None if points is None else float(points),
        None if name is None else str(name),
        notes + converted.notes,
    )


def with_failure_message(code: str, message: str) -> str:
    """``code`` whose failing check (an AssertionError) shows ``message``, as otter shows a
    test's ``failure_message``; other errors keep their own message.

    Code holding a multi-line string keeps the message as a comment (indenting the code
    would change the string)."""
    if _multiline_string(code):
        return f"# failure message: {message}\n{code}"
    body = "\n".join(f"    {line}" if line.strip() else "" for line in code.split("\n"))
    return f"try:\n{body}\nexcept AssertionError:\n    raise AssertionError({message!r}) from None"


def _multiline_string(code: str) -> bool:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return True
    return any(t.type == tokenize.STRING and t.start[0] != t.end[0] for t in tokens)


def _recorded_output(cell: dict[str, Any]) -> tuple[str, str]:
    """What otter compares with, split into printed text and displayed results."""
    printed, shown = "", ""
    for output in cell.get("outputs") or []:
        stream = output.get("text", "")
        printed += "".join(stream) if isinstance(stream, list) else str(stream)
        plain = (output.get("data") or {}).get("text/plain")
        if plain:
            shown += "".join(plain) if isinstance(plain, list) else str(plain)
    return printed, shown


def convert_check(body: str, recorded: tuple[str, str], execution_count: Any) -> Converted:
    """Turn a test body and its recorded (printed, shown) output into code that raises when
    the check fails."""
    if any(line.lstrip().startswith(">>>") for line in body.split("\n")):
        return _from_doctest(body)
    try:
        tree = ast.parse(body)
    except SyntaxError as exc:
        raise CodeError(
            f"test code does not parse (line {exc.lineno}: {exc.msg})",
            "fix the test; IPython magics (%...) are not allowed in test cells",
        ) from None
    if not tree.body:
        raise CodeError("the test cell has no code", "write a check, or delete the cell")
    printed, shown = recorded
    last = tree.body[-1]
    if len(tree.body) == 1 and isinstance(last, ast.FunctionDef | ast.AsyncFunctionDef):
        # An exception-based test: otter calls the function with globals of the same names.
        args = [a.arg for a in (*last.args.posonlyargs, *last.args.args)]
        return Converted(f"{body.rstrip()}\n\n{last.name}({', '.join(args)})")
    if not isinstance(last, ast.Expr):
        result = Converted(body.rstrip())
        if printed or shown:
            result.notes.append(
                f"its recorded output {_short(printed + shown)} is not compared: it does not "
                "come from the last line (write an assert)"
            )
        return result
    prefix = _text_before(body, last)
    if _is_plain_print(last.value):
        assert isinstance(last.value, ast.Call)
        args = [_segment(body, a) for a in last.value.args]
        joined = (
            f"str({args[0]})" if len(args) == 1 else f"' '.join(map(str, ({', '.join(args)},)))"
        )
        return Converted(prefix + f"assert {joined} == {printed.removesuffix(chr(10))!r}")
    result = Converted(prefix + assertion(_segment(body, last.value), shown))
    if printed:
        result.notes.append(
            f"its printed output {_short(printed)} is not compared, only the value of the last line"
        )
    if execution_count is None and not shown:
        result.notes.append(
            "the test cell was never run in the master notebook, so its expected value is "
            "unknown: converted to `assert ... is None` (what otter checks for a cell without "
            "output); run the notebook and import again"
        )
    return result


def assertion(expr: str, want: str) -> str:
    """``assert`` that ``expr`` displays as ``want`` (what a doctest of it checks)."""
    operand = expr if _is_atom(expr) else f"({expr})"
    if want in ("", "None"):
        return f"assert {operand} is None"
    if want == "True":
        # Any expression may follow `assert` except a bare tuple (it would read as a message).
        bare = "\n" not in expr and not _is_tuple(expr)
        return f"assert {expr}" if bare else f"assert ({expr})"
    if want == "False":
        return f"assert not {operand}"
    try:
        ast.literal_eval(want)
        literal = "\n" not in want
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        literal = False
    if literal:
        return f"assert {operand} == {want}"
    return f"assert repr({operand}) == {want!r}"


def _from_doctest(body: str) -> Converted:
    parser = doctest.DocTestParser()
    try:
        examples = parser.get_examples(body)
    except ValueError as exc:
        raise CodeError(
            f"doctest-style test does not parse: {exc}", "fix the `>>>` lines"
        ) from None
    lines: list[str] = []
    for example in examples:
        source = example.source.rstrip("\n")
        want = example.want.rstrip("\n")
        if not want:
            lines.append(source)
            continue
        try:
            ast.parse(source, mode="eval")
        except SyntaxError:
            raise CodeError(
                f"doctest example {source.splitlines()[0]!r} expects output but is not an expression",
                "rewrite the test as Python asserts",
            ) from None
        lines.append(assertion(source, want))
    if not lines:
        raise CodeError(
            "the doctest-style test has no `>>>` examples", "write the checks as asserts"
        )
    return Converted("\n".join(lines), notes=["doctest-style `>>>` examples converted to asserts"])


def _text_before(body: str, node: ast.stmt) -> str:
    lines = body.split("\n")
    head = lines[: node.lineno - 1]
    same_line = lines[node.lineno - 1][: node.col_offset].rstrip().rstrip(";").rstrip()
    if same_line:
        head.append(same_line)
    text = "\n".join(head).rstrip()
    return f"{text}\n" if text else ""


def _is_plain_print(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
        and not node.keywords
        and bool(node.args)
        and not any(isinstance(a, ast.Starred) for a in node.args)
    )


def _is_atom(expr: str) -> bool:
    """Whether ``expr`` can stand as an operand of ``==`` / ``assert`` without parentheses."""
    if "\n" in expr:
        return False
    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return False
    return isinstance(
        node,
        ast.Name
        | ast.Attribute
        | ast.Call
        | ast.Subscript
        | ast.Constant
        | ast.List
        | ast.Dict
        | ast.Set,
    )


def _is_tuple(expr: str) -> bool:
    try:
        return isinstance(ast.parse(expr, mode="eval").body, ast.Tuple)
    except SyntaxError:
        return False


def _segment(body: str, node: ast.expr) -> str:
    return ast.get_source_segment(body, node) or ast.unparse(node)


def _short(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= 40 else text[:37] + "...")
