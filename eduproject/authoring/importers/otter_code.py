"""Code-level conversion of otter-assign cells: solution markers and test cells.

Solutions: otter's jAssign-style markers become our ``### BEGIN SOLUTION`` regions.

- ``x = 4  # SOLUTION`` -> a one-line region (consecutive marked lines at one indentation
  share a region), preceded by the comment ``# x = ...`` because otter's learner stub
  ``x = ...`` showed the name to assign and our stub does not;
- ``# BEGIN SOLUTION`` / ``# END SOLUTION`` (also ``NO PROMPT``) -> a region;
- ``\"\"\" # BEGIN PROMPT`` ... ``\"\"\" # END PROMPT`` -> its lines as comments (we have no
  custom learner text);
- ``# SEED`` lines are kept as ordinary code; ``# IGNORE`` lines and blocks are dropped, as
  otter drops them from both of its notebooks.

Tests: an otter (OK-format) test cell is a doctest: the cell's code, compared with the
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
import re
from dataclasses import dataclass, field
from typing import Any

_ASSIGNMENT = re.compile(r"(\s*(?:[\w.]+(?:\[['\"].*['\"]\])*(?:,\s*)?)+\s*=).*?#\s?SOLUTION\s*$")
_SOLUTION_LINE = re.compile(r"#\s?SOLUTION(?: NO PROMPT)?\s*$")
_BEGIN_SOLUTION = re.compile(r"(\s*)# BEGIN SOLUTION( NO PROMPT)?\s*$")
_END_SOLUTION = re.compile(r"#\s*END SOLUTION\s*$")
_BEGIN_IGNORE = re.compile(r"\s*#\s*BEGIN\s*IGNORE\s*$", re.IGNORECASE)
BEGIN_TEST_CONFIG = re.compile(r'(?:.\s*=\s*)?"""?\s*#\s*BEGIN\s*TEST\s*CONFIG', re.IGNORECASE)
END_TEST_CONFIG = re.compile(r'"""?\s*#\s*END\s*TEST\s*CONFIG', re.IGNORECASE)


class CodeError(Exception):
    """A cell otter itself would reject; the caller adds file and cell to the message."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


@dataclass
class Converted:
    """Converted code and what it lost on the way (each note: what and why)."""

    code: str
    regions: int = 0
    notes: list[str] = field(default_factory=list)


def drop_ignored(text: str) -> str:
    """Remove ``# IGNORE`` lines and ``# BEGIN IGNORE`` / ``# END IGNORE`` blocks."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.rstrip()
        if stripped.endswith("# END IGNORE"):
            if not inside:
                raise CodeError(
                    f"`# END IGNORE` on line {number} without `# BEGIN IGNORE`", "pair the markers"
                )
            inside = False
        elif _BEGIN_IGNORE.match(line):
            if inside:
                raise CodeError(
                    f"nested `# BEGIN IGNORE` on line {number}", "close the first block first"
                )
            inside = True
        elif not inside and not stripped.endswith("# IGNORE"):
            out.append(line)
    if inside:
        raise CodeError("a `# BEGIN IGNORE` block is never closed", "add `# END IGNORE`")
    return "\n".join(out)


def convert_solution(text: str) -> Converted:
    """Rewrite otter's solution markers in one code cell as our regions."""
    result = Converted("")
    out: list[str] = []
    pending: tuple[str, list[str], list[str]] | None = None  # indent, lines, name hints
    block_indent: str | None = None  # inside # BEGIN SOLUTION
    block_lines = 0
    prompt_indent: str | None = None  # inside a BEGIN PROMPT string

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            indent, lines, hints = pending
            out.extend(f"{indent}# {hint} ..." for hint in hints)
            out.extend([f"{indent}### BEGIN SOLUTION", *lines, f"{indent}### END SOLUTION"])
            result.regions += 1
            pending = None

    for number, line in enumerate(drop_ignored(text).split("\n"), start=1):
        stripped = line.rstrip()
        indent = line[: len(line) - len(line.lstrip())]
        if prompt_indent is not None:
            if stripped.endswith("# END PROMPT"):
                prompt_indent = None
            else:
                out.append(_as_comment(line, prompt_indent))
            continue
        if block_indent is not None:
            if _END_SOLUTION.search(stripped):
                if block_lines == 0:
                    out.append(f"{block_indent}pass")  # our format needs something to stub
                out.append(f"{block_indent}### END SOLUTION")
                block_indent = None
            elif _BEGIN_SOLUTION.match(line):
                raise CodeError(
                    f"nested `# BEGIN SOLUTION` on line {number}", "close the first block first"
                )
            else:
                block_lines += bool(line.strip())
                out.append(
                    _SOLUTION_LINE.sub("", stripped).rstrip()
                    if _SOLUTION_LINE.search(stripped)
                    else line
                )
            continue
        if stripped.endswith("# BEGIN PROMPT"):
            flush()
            prompt_indent = indent
            result.notes.append(
                f"line {number}: the `# BEGIN PROMPT` text is kept as comments (eduproject "
                "shows its own stub, not custom learner code)"
            )
            continue
        begin = _BEGIN_SOLUTION.match(line)
        if begin:
            flush()
            block_indent, block_lines = begin.group(1), 0
            out.append(f"{block_indent}### BEGIN SOLUTION")
            if begin.group(2):
                result.notes.append(
                    f"line {number}: `# BEGIN SOLUTION NO PROMPT`: learners see eduproject's "
                    "stub here, where otter showed nothing"
                )
            result.regions += 1
            continue
        if _END_SOLUTION.search(stripped):
            raise CodeError(
                f"`# END SOLUTION` on line {number} without `# BEGIN SOLUTION`", "pair the markers"
            )
        if stripped.endswith("# SEED"):
            flush()
            out.append(stripped.removesuffix("# SEED").rstrip())
            result.notes.append(
                f"line {number}: `# SEED` line kept as ordinary code, visible to learners "
                "(eduproject does not reseed between cells)"
            )
            continue
        if _SOLUTION_LINE.search(stripped):
            assignment = _ASSIGNMENT.match(stripped)
            code = _SOLUTION_LINE.sub("", stripped).rstrip()
            if pending is not None and pending[0] != indent:
                flush()
            if pending is None:
                pending = (indent, [], [])
            pending[1].append(code)
            if assignment and "NO PROMPT" not in stripped:
                pending[2].append(assignment.group(1).strip())
            continue
        flush()
        out.append(line)
    flush()
    if block_indent is not None:
        raise CodeError(
            "a `# BEGIN SOLUTION` block is never closed", "add `# END SOLUTION` after it"
        )
    if prompt_indent is not None:
        raise CodeError("a `# BEGIN PROMPT` block is never closed", "add the `# END PROMPT` line")
    result.code = "\n".join(out)
    return result


def learner_version(text: str) -> str:
    """otter's own learner version of a solution cell (``...`` stubs), for cells we keep as
    context because eduproject cannot grade them (manually graded questions)."""
    out: list[str] = []
    inside = False
    for line in drop_ignored(text).split("\n"):
        stripped = line.rstrip()
        if any(
            stripped.endswith(s)
            for s in ("# SOLUTION NO PROMPT", "# BEGIN PROMPT", "# END PROMPT", "# SEED")
        ):
            continue
        if inside:
            inside = not stripped.endswith("# END SOLUTION")
            continue
        begin = _BEGIN_SOLUTION.match(line)
        if begin:
            inside = True
            if not begin.group(2):
                out.append(f"{begin.group(1)}...")
            continue
        assignment = _ASSIGNMENT.match(stripped)
        if assignment:
            out.append(f"{assignment.group(1)} ...")
        elif _SOLUTION_LINE.search(stripped):
            out.append(f"{line[: len(line) - len(line.lstrip())]}...")
        else:
            out.append(line)
    return "\n".join(out)


def _as_comment(line: str, indent: str) -> str:
    if not line.strip() or line.strip().startswith("#"):
        return line.rstrip()
    body = line[len(indent) :] if line.startswith(indent) else line.lstrip()
    return f"{indent}# {body.rstrip()}"


# ---------------------------------------------------------------- tests


@dataclass
class TestCell:
    """One otter test case read from a test cell."""

    code: str
    hidden: bool
    points: float | None
    notes: list[str] = field(default_factory=list)


def read_test(cell: dict[str, Any], text: str) -> TestCell:
    """Split an otter test cell into hidden flag, config and converted code."""
    import yaml

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
    for key in ("success_message", "failure_message"):
        if config.get(key):
            notes.append(
                f"{key} {config[key]!r} kept only as a comment (eduproject has no per-test messages)"
            )
    for key in sorted(set(config) - {"hidden", "points", "success_message", "failure_message"}):
        notes.append(
            f"test config key {key!r} ignored (otter knows hidden, points, success_message, failure_message)"
        )
    body = drop_ignored("\n".join(lines[start:]))
    converted = convert_check(body, _recorded_output(cell), cell.get("execution_count"))
    comments = [
        f"# {k.replace('_', ' ')}: {config[k]}"
        for k in ("success_message", "failure_message")
        if config.get(k)
    ]
    code = "\n".join([*comments, converted.code]) if comments else converted.code
    return TestCell(
        code, hidden, None if points is None else float(points), notes + converted.notes
    )


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
