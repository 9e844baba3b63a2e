"""The tutor: hints, explanations and answers with guards, quotas and an offline tutor.

The in-kernel tutor and the gateway both build on :class:`~eduproject.tutor.tutor.Tutor`;
the learner's kernel picks one with :func:`eduproject.learner.make_tutor`::

    from eduproject.tutor import Tutor
    tutor = Tutor.from_config(LessonPack.find())
    reply = tutor.hint("sum_evens", code, results, level=1)
"""
