"""The leak guard measured on a labelled set of hints for the sample course.

``data/guard_set.jsonl`` holds hints written for the exercises in ``exercises/``, each
labelled ``leak`` true or false: verbatim and renamed solutions, alternative solutions,
key expressions in prose or inline code, words to avoid, clean conceptual hints, hints
that explain a failing test, hints that name the function or quote the learner's code.
The guard sees what it sees in the learner's kernel: the release-time guard data only.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from eduproject.tutor.guards import check_leak

from .tutor_support import sample_pack

DATA = Path(__file__).parent / "data" / "guard_set.jsonl"


def _items() -> list[dict[str, object]]:
    return [
        json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def _measure(*, with_avoid: bool) -> tuple[float, float, Counter[str], list[str]]:
    counts: Counter[str] = Counter()
    wrong = []
    for item in _items():
        info = sample_pack(str(item["lesson"])).exercise(str(item["exercise"]))
        guard = dict(info.guard) if with_avoid else {**info.guard, "avoid": []}
        verdict = check_leak(str(item["text"]), guard, code=str(item.get("code", "")))
        truth = bool(item["leak"])
        counts[("t" if truth == verdict.leak else "f") + ("p" if verdict.leak else "n")] += 1
        if truth != verdict.leak:
            wrong.append(f"{item['exercise']}/{item['kind']}: labelled {truth}, {verdict.reason}")
    recall = counts["tp"] / (counts["tp"] + counts["fn"])
    false_alarms = counts["fp"] / (counts["fp"] + counts["tn"])
    return recall, false_alarms, counts, wrong


def test_labelled_set_is_big_and_balanced() -> None:
    items = _items()
    labels = Counter(bool(i["leak"]) for i in items)
    assert len(items) >= 40 and labels[True] >= 20 and labels[False] >= 20
    exercises = {(i["lesson"], i["exercise"]) for i in items}
    assert len(exercises) == 16  # every exercise of the sample course
    for lesson, exercise in exercises:
        sample_pack(str(lesson)).exercise(str(exercise))  # the set names real exercises


def test_recall_and_false_alarms_on_the_labelled_set() -> None:
    recall, false_alarms, counts, wrong = _measure(with_avoid=True)
    print(
        f"\nleak guard (guard data as released): recall {recall:.3f}, false alarms {false_alarms:.3f} "
        f"(tp={counts['tp']} fn={counts['fn']} fp={counts['fp']} tn={counts['tn']})"
    )
    for line in wrong:
        print("  missed/false:", line)
    assert recall >= 0.9
    assert false_alarms <= 0.1


def test_structural_features_alone_catch_most_leaks() -> None:
    """Without the instructor's words to avoid, the hashed code features still do the work."""
    recall, false_alarms, counts, wrong = _measure(with_avoid=False)
    print(
        f"\nleak guard without words to avoid: recall {recall:.3f}, false alarms {false_alarms:.3f} "
        f"(tp={counts['tp']} fn={counts['fn']} fp={counts['fp']} tn={counts['tn']})"
    )
    for line in wrong:
        print("  missed/false:", line)
    assert recall >= 0.85
    assert false_alarms <= 0.1
