"""eduproject: teach programming in Jupyter.

Learner-facing helpers are imported lazily so that ``import eduproject`` stays cheap:

    import eduproject
    eduproject.start()              # the first cell of a lesson: "Tutor ready ..."
    eduproject.check("sum_evens")   # run the visible tests of one exercise
    eduproject.panel("sum_evens")   # the tutor panel under an exercise
    eduproject.enable_error_help()  # an "Explain this error" button after any traceback
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "check", "enable_error_help", "panel", "start"]


def __getattr__(name: str) -> Any:
    if name == "check":
        from eduproject.learner.check import check

        return check
    if name == "enable_error_help":
        from eduproject.learner.errorhook import enable_error_help

        return enable_error_help
    if name == "panel":
        from eduproject.learner.widgets import panel

        return panel
    if name == "start":
        from eduproject.learner.widgets import start

        return start
    raise AttributeError(f"module 'eduproject' has no attribute {name!r}")


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """eduproject's Jupyter Server extensions: the inline completer's handlers, and the
    pre-save hook that keeps a reopened notebook's tutor outputs calm."""
    return [
        {"module": "eduproject.learner.completion_server"},
        {"module": "eduproject.learner.jupyter_server"},
    ]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension (for ``jupyter labextension develop``)."""
    return [{"src": "completion/labextension", "dest": "eduproject-completer"}]
