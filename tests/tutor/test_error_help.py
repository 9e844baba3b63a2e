"""Python errors explained in plain words."""

from __future__ import annotations

import pytest

from eduproject.tutor.error_help import explain_error, parse_error

TRACEBACK = (
    "\x1b[0;31m---------------------------------------------------------------------------\x1b[0m\n"
    "\x1b[0;31mNameError\x1b[0m                                 Traceback (most recent call last)\n"
    "Cell \x1b[0;32mIn[3], line 4\x1b[0m\n"
    "\x1b[0;31mNameError\x1b[0m: name 'totl' is not defined"
)
CODE = "total = 0\nfor x in [1, 2]:\n    total += x\nprint(totl)\n"


def test_parse_error_reads_coloured_tracebacks_and_one_liners() -> None:
    parsed = parse_error(TRACEBACK)
    assert (parsed.kind, parsed.message, parsed.line) == (
        "NameError",
        "name 'totl' is not defined",
        4,
    )
    assert (
        parse_error("your code raised ZeroDivisionError: division by zero (in `f`, line 3)").kind
        == "ZeroDivisionError"
    )
    assert parse_error("why do I get a KeyError here?").message == ""
    assert parse_error("it does not work").kind == ""


def test_name_error_suggests_the_close_name_and_shows_the_line() -> None:
    text = explain_error(TRACEBACK, CODE)
    assert "Did you mean `total`?" in text
    assert "Line 4 of your code:\n\n```python\nprint(totl)\n```" in text


@pytest.mark.parametrize(
    ("error", "code", "needle"),
    [
        ("NameError: name 'true' is not defined", "x = true", "Did you mean `True`?"),
        (
            "UnboundLocalError: cannot access local variable 'total' where it is not associated with a value",
            "",
            "used before it gets a value",
        ),
        (
            "TypeError: add() takes 2 positional arguments but 3 were given",
            "def add(a, b):\n    return a + b\n",
            "It is defined as `def add(a, b)`",
        ),
        (
            "TypeError: greet() missing 1 required positional argument: 'name'",
            "def greet(name):\n    return name\n",
            "needs 1 more argument(s): 'name'",
        ),
        ('TypeError: can only concatenate str (not "int") to str', "", "`str(...)`"),
        ("TypeError: 'NoneType' object is not subscriptable", "", "no `return`"),
        (
            "TypeError: 'int' object is not callable",
            "sum = 0\nsum([1])\n",
            "uses `sum` as a name of your own",
        ),
        (
            "IndexError: list index out of range",
            "def f(xs):\n    return xs[len(xs)]\n",
            "always one past the end",
        ),
        ("KeyError: 'Cat'", "counts = {'cat': 1}\ncounts['Cat']\n", "Did you mean `'cat'`?"),
        ("ZeroDivisionError: division by zero", "", "divided by zero"),
        ("RecursionError: maximum recursion depth exceeded", "", "base case"),
        ("NotImplementedError", "", "you haven't replaced the stub yet"),
        ("AttributeError: 'NoneType' object has no attribute 'append'", "", "`None`"),
        ("AttributeError: 'list' object has no attribute 'add'", "", "Did you mean `append`?"),
        ("AttributeError: 'str' object has no attribute 'lowr'", "", "Did you mean `lower`?"),
        ("ModuleNotFoundError: No module named 'panda'", "", "Did you mean `pandas`?"),
        (
            "ValueError: invalid literal for int() with base 10: 'abc'",
            "",
            "text that is not a number",
        ),
        (
            "IndentationError: expected an indented block after 'if' statement on line 2",
            "",
            "indentation",
        ),
        (
            "FileNotFoundError: [Errno 2] No such file or directory: 'weather.csv'",
            "",
            "`data/` folder",
        ),
        ("OverflowError: math range error", "", "**OverflowError**"),
        ("BrokenThingError: something odd", "", "Python stopped at this error"),
        ("it just does not work", "", "last line"),
    ],
)
def test_each_error_gets_its_explanation(error: str, code: str, needle: str) -> None:
    assert needle in explain_error(error, code)


def test_syntax_errors_in_the_code_are_explained_from_the_code() -> None:
    code = "def f(x)\n    return x\n"
    text = explain_error("SyntaxError: expected ':'", code)
    assert "must end with a colon" in text
    assert "Line 1 of your code" in text
    unclosed = explain_error("", "print((1, 2)\n")
    assert "never closed" in unclosed or "bracket" in unclosed
