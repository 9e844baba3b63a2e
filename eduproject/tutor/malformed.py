"""Malformed and off-topic replies: what a learner should never be shown.

Empty or too short, prompt-template tokens, repetition loops, too long, not English, code
in another language than Python, test names the exercise does not have, or the tutor's
own instructions echoed back. :func:`eduproject.tutor.guards.check_malformed` wraps
:func:`reply_problem` into a verdict::

    >>> reply_problem("<|im_start|>assistant hello there my friend", "hint", set(), set(), "")
    'contains prompt-template tokens'
"""

from __future__ import annotations

import re

from eduproject.tutor.codetext import fragments, parse_code


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_TEMPLATE = re.compile(
    r"<\|[A-Za-z_]+\|>|<fim_(?:prefix|suffix|middle|pad)>|<file_sep>|<repo_name>|<gh_stars>"
    r"|<jupyter_(?:start|text|code|output)>|<issue_(?:start|comment|closed)>|\[/?INST\]"
    r"|<</?SYS>>|</?s>|^#{2,}\s*(?:Instruction|Response|System|User|Assistant)\b"
    r"|^(?:user|assistant|system)\s*:\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_OTHER_LANGS = _wordset(
    "java javascript js jsx typescript ts c cpp c++ csharp cs go golang rust rs ruby rb "
    "php kotlin swift perl scala haskell lua r matlab vb"
)
_OTHER_CODE = re.compile(
    r"console\.log|System\.out|#include|public static|\bfunction\s+\w+\s*\(|=>|"
    r"^\s*(?:let|const|var)\s+\w+\s*=|;\s*$|^\s*[{}]\s*$|\bprintf\s*\(|\bstd::",
    re.MULTILINE,
)
# Frequent English function words: prose without them is not English.
_ENGLISH = _wordset(
    "the a an of to in is it you your that this and or for on with as be are if not can "
    "what when how use each then will do does has have from by at its which so but all "
    "we they there one should would could their"
)
_TEST_MENTION = re.compile(
    r"\b(test_[A-Za-z0-9_]+)\b|`([\w-]+)`\s+test\b|\btest\s+`([\w-]+)`"
    r"|\btest\s+(?:named|called)\s+['\"`]?([\w-]+)",
    re.IGNORECASE,
)
WORD_LIMITS = {"hint": 250, "explain": 400, "ask": 400}


def reply_problem(
    text: str, task: str, tests: set[str], known: set[str], instructions: str
) -> str | None:
    """What makes ``text`` unfit to show, in a few words, or None when it is fine."""
    words = re.findall(r"[^\W\d_]+(?:'[a-z]+)?", text)
    if len(words) < 4 and len(text.strip()) < 40:  # CJK text has few "words" but many letters
        return "empty or too short"
    if _TEMPLATE.search(text):
        return "contains prompt-template tokens"
    if _looping(text):
        return "repeats itself in a loop"
    limit = WORD_LIMITS.get(task, 400)
    if len(words) > limit:
        return f"too long ({len(words)} words; the limit is {limit})"
    lang = _wrong_language(text)
    if lang:
        return lang
    invented = _invented_test(text, tests, known)
    if invented:
        return f"mentions a test `{invented}` that this exercise does not have"
    if instructions and _echoes(text, instructions):
        return "repeats the tutor's instructions instead of answering"
    return None


def _looping(text: str) -> bool:
    lines = [ln.strip().lower() for ln in text.splitlines() if len(ln.split()) >= 3]
    if any(lines.count(ln) >= 3 for ln in set(lines)):
        return True
    words = text.lower().split()
    grams = [" ".join(words[i : i + 6]) for i in range(len(words) - 5)]
    return any(grams.count(g) >= 3 for g in set(grams))


def _wrong_language(text: str) -> str | None:
    for frag in fragments(text):
        if frag.lang in _OTHER_LANGS:
            return f"contains {frag.lang} code instead of Python"
        if (
            frag.lang in ("", "python", "py", "loose")
            and "\n" in frag.code.strip()
            and parse_code(frag.code) is None
            and len(_OTHER_CODE.findall(frag.code)) >= 2
        ):
            return "contains code that is not Python"
    prose = re.sub(r"```.*?(?:```|\Z)|`[^`]*`", " ", text, flags=re.DOTALL)
    letters = [c for c in prose if c.isalpha()]
    if letters and sum(c.isascii() for c in letters) / len(letters) < 0.8:
        return "not written in English"
    prose_words = [w.lower() for w in re.findall(r"[A-Za-z]+", prose)]
    if len(prose_words) >= 12 and sum(w in _ENGLISH for w in prose_words) / len(prose_words) < 0.08:
        return "not written in English"
    return None


def _invented_test(text: str, tests: set[str], known: set[str]) -> str | None:
    lowered = {t.lower() for t in tests | known}
    for m in _TEST_MENTION.finditer(text):
        name = next(g for g in m.groups() if g)
        if name.lower() not in lowered:
            return name
    return None


def _echoes(text: str, instructions: str) -> bool:
    """A run of 10 words of the instructions repeated word for word."""
    said = " ".join(re.findall(r"\w+", text.lower()))
    rules = re.findall(r"\w+", instructions.lower())
    return any(" ".join(rules[i : i + 10]) in said for i in range(0, max(0, len(rules) - 9)))
