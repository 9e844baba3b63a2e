"""Python errors explained in plain words, with "did you mean" suggestions.

Reads whatever the learner has: a full (possibly coloured) IPython traceback, one line such
as ``NameError: name 'totl' is not defined``, or ``check``'s friendly one-liner ("your code
raised ZeroDivisionError: division by zero (in `f`, line 3)")::

    >>> print(explain_error("NameError: name 'totl' is not defined", "total = 0"))  # doctest: +SKIP
    **NameError** means Python met a name it does not know: `totl`. Did you mean `total`? ...
"""

from __future__ import annotations

import ast
import builtins
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

from eduproject.tutor.static_checks import static_findings, syntax_problem

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# The message part needs the colon: "a KeyError when counting" names an error, nothing more.
_ERROR_LINE = re.compile(
    r"\b([A-Z][A-Za-z]*(?:Error|Exception|Interrupt|Exit))\b(?::[ \t]*([^\n]*))?"
)
_LINE_NO = re.compile(r"\bline (\d+)")
# What learners reach for, mapped to what Python calls it (difflib misses these).
_METHOD_SYNONYMS = {
    "add": "append",
    "push": "append",
    "length": "len(...)",
    "size": "len(...)",
    "len": "len(...)",
    "contains": "the `in` operator",
    "tolower": "lower",
    "toupper": "upper",
    "lowercase": "lower",
    "uppercase": "upper",
    "trim": "strip",
    "remove_all": "replace",
}
_COMMON_MODULES = ("pandas", "numpy", "math", "random", "matplotlib", "collections", "string")


@dataclass(frozen=True)
class ParsedError:
    kind: str  # exception class name, "" when none was found
    message: str
    line: int | None


def parse_error(error: str) -> ParsedError:
    """The last ``SomethingError: message`` in the text, and a line number when given."""
    text = _ANSI.sub("", error or "")
    matches = list(_ERROR_LINE.finditer(text))
    if matches:
        kind, message = matches[-1].group(1), (matches[-1].group(2) or "").strip()
    else:
        kind, message = "", text.strip()
    numbers = [int(n) for n in _LINE_NO.findall(text)]
    return ParsedError(kind, message, numbers[-1] if numbers else None)


def explain_error(error: str, code: str = "") -> str:
    """Markdown that says what went wrong, where, and what to try next."""
    problem = syntax_problem(code) if code.strip() else None
    if problem is not None and (
        "SyntaxError" in error or "IndentationError" in error or not error.strip()
    ):
        return explain_syntax(problem, code)
    parsed = parse_error(error)
    if parsed.kind in ("SyntaxError", "IndentationError", "TabError"):
        return _syntax_from_text(parsed, code)  # it shows the line itself
    explain = _EXPLAINERS.get(parsed.kind)
    body = explain(parsed, code) if explain else _generic(parsed)
    where = _where(parsed.line, code)
    return body + (f"\n\n{where}" if where else "")


def explain_syntax(problem: SyntaxError, code: str) -> str:
    """A SyntaxError/IndentationError in the learner's own words, with the line shown."""
    msg = problem.msg or "invalid syntax"
    line = problem.lineno
    kind = type(problem).__name__
    tips = []
    low = msg.lower()
    if "expected ':'" in low:
        tips.append(
            "A line that starts a block (`def`, `if`, `elif`, `else`, `for`, `while`) must end with a colon `:`."
        )
    elif "indent" in low:
        tips.append(
            "Python uses indentation to know which lines belong to a `def`, `if` or loop. "
            "Lines of the same block must start at the same column (use 4 spaces), and the "
            "line after a colon `:` must be indented one level more."
        )
    elif "never closed" in low or "unmatched" in low or "does not match" in low:
        tips.append(
            "A bracket `(`, `[` or `{` is opened but not closed (or the other way round). Count them on that line and the line before."
        )
    elif "unterminated string" in low or "eol while scanning" in low:
        tips.append("A text in quotes is missing its closing quote.")
    elif "maybe you meant '=='" in low or "cannot assign" in low:
        tips.append(
            "Use `==` to compare two values (in an `if` or `while`); a single `=` stores a value."
        )
    elif "invalid character" in low:
        tips.append(
            "The line contains a character Python does not accept, such as a curly quote copied from a document. Retype it."
        )
    else:
        tips.append(
            "Look for a missing colon, bracket, quote or comma on that line or the line just before it."
        )
    head = f"**{kind}**: Python could not read your code, so it did not run any of it. It says: *{msg}*."
    where = _where(line, code)
    return "\n\n".join(p for p in (head, " ".join(tips), where) if p)


def _where(line: int | None, code: str) -> str:
    lines = code.splitlines()
    if line is None or not 1 <= line <= len(lines) or not lines[line - 1].strip():
        return ""
    return f"Line {line} of your code:\n\n```python\n{lines[line - 1].rstrip()}\n```"


def _defined_names(code: str) -> set[str]:
    names = {n for n in dir(builtins) if not n.startswith("_")}
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return names | set(re.findall(r"[A-Za-z_]\w*", code))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


def _quoted(message: str) -> list[str]:
    return re.findall(r"'([^']*)'", message)


def _did_you_mean(word: str, options: set[str] | list[str]) -> str | None:
    close = difflib.get_close_matches(word, [o for o in options if o != word], n=1, cutoff=0.7)
    if not close:
        lowered = {o.lower(): o for o in options if o != word}
        close = [lowered[word.lower()]] if word.lower() in lowered else []
    return close[0] if close else None


def _name_error(err: ParsedError, code: str) -> str:
    names = _quoted(err.message)
    name = names[0] if names else "?"
    if (
        "referenced before assignment" in err.message
        or "not associated with a value" in err.message
    ):
        return (
            f"**UnboundLocalError**: inside your function, `{name}` is used before it gets a "
            "value. Python treats every variable you assign anywhere in a function as local to "
            f"that function, so give `{name}` its starting value inside the function, before "
            "the line that uses it."
        )
    text = f"**NameError** means Python met a name it does not know: `{name}`."
    guess = _did_you_mean(name, _defined_names(code))
    if guess:
        text += f" Did you mean `{guess}`?"
    text += (
        " Names must be spelt exactly the same everywhere (capital letters count). If the "
        "name is defined in another cell, run that cell first; if it is a text, put it in quotes."
    )
    return text


def _type_error(err: ParsedError, code: str) -> str:
    msg = err.message
    arity = re.search(
        r"(\w+)\(\) takes (\d+) positional arguments? but (\d+) (?:was|were) given", msg
    )
    missing = re.search(
        r"(\w+)\(\) missing (\d+) required (?:positional|keyword-only) arguments?: (.*)", msg
    )
    if arity or missing:
        func = (arity or missing).group(1)  # type: ignore[union-attr]
        sig = _signature(func, code)
        if arity:
            said = f"`{func}` accepts {arity.group(2)} argument(s), but the call gave it {arity.group(3)}."
        else:
            said = f"`{func}` needs {missing.group(2)} more argument(s): {missing.group(3)}."  # type: ignore[union-attr]
        where = f" It is defined as `{sig}`." if sig else ""
        return f"**TypeError**: {said}{where} Make the call pass exactly the values the `def` line asks for, in the same order."
    if "NoneType" in msg:
        return _none_explained("TypeError", msg)
    if "can only concatenate str" in msg or ("unsupported operand" in msg and "'str'" in msg):
        return (
            f"**TypeError**: *{msg}*. You are joining text with a number. Python will not "
            "guess which you mean: turn the number into text with `str(...)` to join them, or "
            "the text into a number with `int(...)` to do arithmetic."
        )
    if "unsupported operand" in msg:
        return f"**TypeError**: *{msg}*. The two values on each side of the operator have types that cannot be combined this way. Print them with `type(...)` to see what they are."
    if "object is not callable" in msg:
        kind = (_quoted(msg) or ["value"])[0]
        shadow = [f.message for f in static_findings(code) if f.kind == "shadowed-builtin"]
        text = f"**TypeError**: you put `( )` after a {kind} value as if it were a function."
        if shadow:
            text += " " + shadow[0]
        else:
            text += " Often a variable has the same name as a function you call later: rename the variable."
        return text
    if "not supported between instances" in msg:
        return f"**TypeError**: *{msg}*. You are comparing values of different types (for example a number with a text). Convert one of them first."
    if "has no len()" in msg:
        return f"**TypeError**: *{msg}*. `len(...)` works on lists, texts and dictionaries, not on a single number."
    if "indices must be integers" in msg:
        return f"**TypeError**: *{msg}*. The position inside `[ ]` must be a whole number, like `items[0]`. If you loop with `for x in items`, `x` is already the item itself, not its position."
    if "does not support item assignment" in msg:
        return f"**TypeError**: *{msg}*. Texts (and tuples) cannot be changed in place. Build a new text instead, for example by adding pieces together."
    if "not iterable" in msg:
        return f"**TypeError**: *{msg}*. A `for` loop needs something with several items (a list, a text, a `range(...)`). To repeat *n* times, loop over `range(n)`."
    return f"**TypeError**: *{msg}*. A value of the wrong type was used. Print the values involved with `print(type(x), x)` to see what they really are."


def _signature(func: str, code: str) -> str | None:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == func:
            return f"def {func}({ast.unparse(node.args)})"
    return None


def _none_explained(kind: str, msg: str) -> str:
    return (
        f"**{kind}**: *{msg}*. A value you used is `None`, which usually means it came from a "
        "function that has no `return` (it gives back `None`), or from a method that changes "
        "a list in place and returns nothing, such as `items.sort()` or `items.append(x)`. "
        "Check where that value was made."
    )


def _attribute_error(err: ParsedError, code: str) -> str:
    msg = err.message
    if "NoneType" in msg:
        return _none_explained("AttributeError", msg)
    quoted = _quoted(msg)
    if len(quoted) >= 2:
        owner, attr = quoted[0], quoted[1]
        typ = getattr(builtins, owner, None)
        options = [a for a in dir(typ) if not a.startswith("_")] if isinstance(typ, type) else []
        guess = _METHOD_SYNONYMS.get(attr.lower()) or _did_you_mean(attr, options)
        text = f"**AttributeError**: a `{owner}` value has no `.{attr}`."
        if guess:
            text += (
                f" Did you mean `{guess}`?"
                if not guess.startswith("the ")
                else f" Did you mean {guess}?"
            )
        return text + " Check the spelling, and that the value is the type you think it is."
    return f"**AttributeError**: *{msg}*. The value before the dot does not have that attribute or method. Check the spelling and the value's type."


def _index_error(err: ParsedError, code: str) -> str:
    text = (
        f"**IndexError**: *{err.message or 'index out of range'}*. You asked for a position "
        "that does not exist. Positions start at 0, so a list of 3 items has positions 0, 1 "
        "and 2; asking for position 3 (or any position of an empty list) fails."
    )
    ranges = [f.message for f in static_findings(code) if f.kind == "off-by-one"]
    return text + (
        f" {ranges[0]}"
        if ranges
        else " Print the length and the position just before the failing line to see which one is wrong."
    )


def _key_error(err: ParsedError, code: str) -> str:
    key = err.message.strip()
    missing = (
        f"the dictionary has no key `{key}`"
        if key
        else "you read a key the dictionary does not have"
    )
    text = (
        f"**KeyError**: {missing}. Reading `d[key]` only works after that key was stored. "
        "Check with `if key in d:` first, or give the key a starting value before you add to it."
    )
    strings = set(re.findall(r"[\"']([^\"'\n]{1,40})[\"']", code))
    guess = _did_you_mean(key.strip("'\""), strings) if key else None
    return text + (
        f" Did you mean `'{guess}'`? Keys must match exactly, capital letters included."
        if guess
        else ""
    )


def _syntax_from_text(err: ParsedError, code: str) -> str:
    """A SyntaxError known only from its message (the code shown may be another cell's)."""
    problem = SyntaxError(err.message or "invalid syntax")
    problem.lineno = err.line
    if err.kind == "IndentationError":
        problem = IndentationError(err.message or "bad indentation")
        problem.lineno = err.line
    return explain_syntax(problem, code)


def _simple(text: str) -> Callable[[ParsedError, str], str]:
    return lambda err, code: text.format(msg=err.message)


def _generic(err: ParsedError) -> str:
    if not err.kind:
        return (
            "I could not find a Python error name in that text. Copy the **last line** of the "
            "error message (it looks like `SomethingError: ...`), and run the cell again to see "
            "which line of your code it points at."
        )
    return (
        f"**{err.kind}**: *{err.message}*. Python stopped at this error. Read the last line of the "
        "message: it names the problem; the lines above it show where in your code it happened."
    )


_EXPLAINERS: dict[str, Callable[[ParsedError, str], str]] = {
    "NameError": _name_error,
    "UnboundLocalError": _name_error,
    "TypeError": _type_error,
    "AttributeError": _attribute_error,
    "IndexError": _index_error,
    "KeyError": _key_error,
    "ZeroDivisionError": _simple(
        "**ZeroDivisionError**: your code divided by zero, which has no answer. Find the "
        "division and ask what the bottom number is when it fails: often a count or a "
        "length that is 0 for an empty list. Handle that case first with an `if`."
    ),
    "RecursionError": _simple(
        "**RecursionError**: a function kept calling itself and never stopped. A function "
        "that calls itself needs a *base case*: an `if` that returns without calling again, "
        "and every call must move closer to it."
    ),
    "NotImplementedError": _simple(
        "**NotImplementedError**: you haven't replaced the stub yet. The line "
        "`raise NotImplementedError()` is a placeholder: delete it (and `# YOUR CODE HERE`) "
        "and write your own code in its place."
    ),
    "ValueError": _simple(
        "**ValueError**: *{msg}*. The value has the right type but an unusable content, for "
        'example `int("abc")` (text that is not a number) or unpacking a different number '
        "of items than names. Print the value just before the failing line."
    ),
    "AssertionError": _simple(
        "**AssertionError**: a test checked something about your code and it was false: "
        "*{msg}*. Compare what the test expected with what your code gave, then try that "
        "call yourself in a cell to see the difference."
    ),
    "ModuleNotFoundError": lambda err, code: (
        f"**ModuleNotFoundError**: *{err.message}*. Python cannot find that module."
        + (
            f" Did you mean `{g}`?"
            if (g := _did_you_mean((_quoted(err.message) or [""])[0], list(_COMMON_MODULES)))
            else " Check the spelling of the `import` line."
        )
    ),
    "FileNotFoundError": _simple(
        "**FileNotFoundError**: *{msg}*. The file is not where the code looks. Paths are "
        "relative to the notebook's folder; lesson data files are in its `data/` folder."
    ),
    "KeyboardInterrupt": _simple(
        "**KeyboardInterrupt**: the code was stopped while it was still running. If it never "
        "finishes on its own, a loop probably cannot end: check that its condition changes."
    ),
}
