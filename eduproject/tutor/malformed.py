"""Malformed and off-topic replies: what a learner should never be shown.

Empty or too short, prompt-template tokens, repetition loops (the checks every model answer
passes, from :mod:`eduproject.models.checks`, with the rules of prose), then the checks of
prose: too long, not English, code in another language than Python, test names the exercise
does not have, the tutor's own instructions echoed back, nothing said, or "correct" while a
test fails. :func:`eduproject.tutor.guards.check_malformed` wraps
:func:`reply_problem` into a verdict::

    >>> reply_problem("<|im_start|>assistant hello there my friend", "hint", set(), set(), "")
    'contains prompt-template tokens'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from eduproject.core.codetext import fragments, parse_code
from eduproject.models.checks import find_repetition, prose_words, template_token, too_short

if TYPE_CHECKING:
    from eduproject.models.families import ModelFamily


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


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
# Sentences that carry nothing a learner can use ("I'm ready to help!", "Good luck!").
_FILLER = re.compile(
    r"^(?:(?:sure|okay|ok|of course|certainly|absolutely|great|hi|hello|hey|thanks?|thank you|"
    r"good luck|happy coding|no problem)\b[\s,!.]*)*"
    r"(?:(?:i(?:'m| am)|i'd be|i would be|i will be|i'll be) (?:ready|happy|glad|here) to help"
    r"|(?:how|what) can i (?:help|do)|let me (?:know|help)|(?:happy|glad) to help|i can help"
    r"|feel free to ask|(?:please )?(?:provide|share|send|paste|show)(?: me)? (?:your|the) code"
    r"|(?:i )?hope (?:this|that) helps|let's (?:get started|begin|take a look)"
    r"|(?:good luck|happy coding|you can do it|keep (?:it up|going))"
    r"|)\b.{0,40}$",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# "Your code is correct" while tests fail: a contradiction a learner must not be told.
_CORRECT_CLAIM = re.compile(
    r"\b(?:(?:your|the|this) (?:code|function|solution|answer|program|implementation)"
    r"(?: already)? (?:is|looks|seems|appears)(?: to be)? (?:all |completely |entirely )?"
    r"(?:correct|right|perfect|fine|good|ok|okay|working|bug-free)"
    r"|(?:all|every|both) (?:the |of the |your )?(?:visible )?tests? (?:pass|passes|are passing|succeed)"
    r"|(?:it|your code|your function) works (?:correctly|perfectly|fine|as expected)"
    r"|(?:there (?:are|is) )?no (?:bugs?|errors?|mistakes?|problems?) in your (?:code|function)"
    r"|nothing (?:is )?wrong with your (?:code|function))\b",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"\b(?:not|never|no longer|isn't|aren't|doesn't|don't|won't|almost|nearly|mostly|but|except|"
    r"however|only|if|when|until|unless|once|after|make sure|check whether)\b|n't\b",
    re.IGNORECASE,
)


def reply_problem(
    text: str,
    task: str,
    tests: set[str],
    known: set[str],
    instructions: str,
    *,
    tests_failing: bool = False,
    families: Iterable[ModelFamily] | None = None,
) -> str | None:
    """What makes ``text`` unfit to show, in a few words, or None when it is fine.

    ``tests_failing``: the learner's code fails a visible test, so a reply calling it
    correct contradicts what the learner sees. ``families``: the families whose template
    tokens a reply must not hold (by default every family of the default registry).
    """
    # The checks every model answer passes (eduproject.models.checks), with the rules of prose:
    # a reply needs a few words, and any family's template tokens count (the reply's family
    # is not known here).
    if too_short(text, words=4, chars=40):
        return "empty or too short"
    if template_token(text, any_family=True, families=families) is not None:
        return "contains prompt-template tokens"
    if find_repetition(text) is not None or _says_again(text):
        return "repeats itself in a loop"
    words = prose_words(text)
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
    if content_free(text):
        return "says nothing about your code or the exercise"
    if tests_failing and claims_correct(text):
        return "calls your code correct although a test fails"
    return None


def content_free(text: str) -> bool:
    """Only greetings, offers to help and sign-offs: fewer than 5 words of anything else.

    >>> content_free("Sure! I'm ready to help. Let me know what you need.")
    True
    """
    if "`" in text:  # code, or a name quoted from the exercise: something concrete
        return False
    said = [s for s in _SENTENCE.split(text.strip()) if s.strip()]
    rest = [s for s in said if not _FILLER.match(s.strip())]
    return len(re.findall(r"[A-Za-z]+", " ".join(rest))) < 5


def claims_correct(text: str) -> bool:
    """A sentence that says, without a hedge, that the code is correct or the tests pass.

    >>> claims_correct("Your code is correct. Well done!")
    True
    >>> claims_correct("Your code is correct for lists, but not for an empty one.")
    False
    """
    for sentence in _SENTENCE.split(text):
        if _CORRECT_CLAIM.search(sentence) and not _HEDGE.search(sentence):
            return True
    return False


def _says_again(text: str) -> bool:
    """A line of three words or more, or a run of six words, said three times anywhere.

    Prose's own loop rule, stricter than :func:`find_repetition` (five times in a row): a
    learner reading the same sentence thrice has been shown a loop. Code repeats its lines
    legitimately, so the router does not apply this to every answer.
    """
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
