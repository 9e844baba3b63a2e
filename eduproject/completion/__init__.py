"""Inline code completion in JupyterLab, under the course's AI policy (docs/completion.md).

The front end is a JupyterLab extension shipped prebuilt in ``labextension/`` (its sources are
in the repository's ``labextension/`` folder); it asks the Jupyter server extension
(:mod:`eduproject.learner.completion_server`), which answers with the course's router or forwards to the
class gateway. ``context`` builds the model request and cuts the answer at the block's end,
``gate`` applies the policy, ``service`` makes the call, ``backends`` chooses where::

    from eduproject.completion import Completer, CompletionInput
    done = await Completer(router).complete(CompletionInput(prefix="def add(a, b):\\n    "))
"""

from __future__ import annotations

from eduproject.completion.context import CompletionInput, model_request, parse_input, trim_to_block
from eduproject.completion.service import Completer, Completion

__all__ = [
    "Completer",
    "Completion",
    "CompletionInput",
    "model_request",
    "parse_input",
    "trim_to_block",
]
