"""Explanations: own identifiers mentioned, none invented (the explain task's acceptance)."""

from __future__ import annotations

import pytest

from eduproject.bench.identifiers import check_identifiers, code_names

CODE = '''def count_vowels(text):
    """Return the number of vowels (a, e, i, o, u; any case) in text."""
    count = 0
    for letter in text.lower():
        if letter in "aeiou":
            count += 1
    return count
'''


def test_code_names_reads_spans_and_blocks() -> None:
    text = 'Calls `text.lower()` on `"AEIOU"`, then:\n```python\nfor letter in text:\n    pass\n```'
    assert list(code_names(text)) == [
        ["for"],
        ["letter"],
        ["in"],
        ["text"],
        ["pass"],
        ["text", "lower"],
    ]


@pytest.mark.parametrize(
    "text",
    [
        "`count_vowels` walks over `text.lower()` one `letter` at a time and adds 1 to `count`.",
        "It uses a `for` loop, the `in` operator and `str.lower`, then `return count`.",
        "The docstring says it counts `vowels` in any `case`.",  # words of the code's strings
        "It could also use `len()` or `sum()` with a `generator`.".replace("`generator`", "`re`"),
    ],
)
def test_accepted_explanations(text: str) -> None:
    check = check_identifiers(text, CODE)
    assert check.invented == (), check
    assert check.ok == bool(check.mentioned)


@pytest.mark.parametrize(
    ("text", "invented"),
    [
        ("It calls `text.lowercase()` first.", ("text.lowercase",)),
        ("It counts with `vowel_total` and `letter`.", ("vowel_total",)),
        ("It uses `math.vowels` to count.", ("math.vowels",)),
        ("```python\nfor ch in text:\n    total += 1\n```", ("ch", "total")),
    ],
)
def test_invented_names(text: str, invented: tuple[str, ...]) -> None:
    check = check_identifiers(text, CODE)
    assert check.invented == invented
    assert not check.ok and "invents identifiers" in check.reason


def test_must_mention_own_names() -> None:
    check = check_identifiers("It returns a number using a loop.", CODE)
    assert check.mentioned == () and not check.ok
    assert check.reason == "names none of the code's own identifiers"
    # One-letter own names do not count in prose ("a"), only in code format.
    assert check_identifiers("It adds a value.", "def f(a):\n    return a").mentioned == ()
    assert check_identifiers("It adds `a`.", "def f(a):\n    return a").mentioned == ("a",)


def test_imported_modules_bring_their_names() -> None:
    code = "def average(df):\n    return round(df['temp_c'].mean(), 1)"
    setup = "import pandas as pd\nweather = pd.read_csv('data/weather.csv')"
    ok = check_identifiers(
        "`average` takes `df`, calls `.mean()` on `df['temp_c']`; see `pd.DataFrame`.",
        code,
        context=setup,
    )
    assert ok.invented == () and ok.ok
    bad = check_identifiers("It calls `pd.read_excelsior` on `df`.", code, context=setup)
    assert bad.invented == ("pd.read_excelsior",)


def test_prose_in_backticks_is_not_parsed_as_code() -> None:
    code = 'def greet(name):\n    return "Hello, " + name + "!"'
    check = check_identifiers("`greet` returns `Hello, Ada!` for `name` Ada.", code)
    assert check.invented == ("Ada",)  # a name the code never has
    assert check_identifiers("`greet` returns `Hello, ` plus `name`.", code).ok
