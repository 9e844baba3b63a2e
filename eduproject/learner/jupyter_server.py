"""A Jupyter Server extension that keeps a reopened lesson notebook calm.

Widgets live in the kernel: a notebook saved with the tutor panels in it reopens with
"Error displaying widget: model not found" under every exercise, since the new kernel has
no such widget. Before a notebook is written to disk, this hook replaces the tutor's widget
outputs with a short note, so the reopened notebook says what to do instead:

- the output of a panel cell (``metadata.eduproject.role == "panel"``) becomes
  "Tutor panel: run the first cell ... then this one";
- an "Explain this error" box (recognised by its ``text/plain`` marker) is dropped; the
  traceback above it stays.

The live session is untouched (only the saved file changes). Installing eduproject enables
the ``eduproject`` server extension (``etc/jupyter/jupyter_server_config.d/eduproject.json``),
which loads this module and the inline completer, for JupyterLab and Notebook 7;
``jupyter server extension disable eduproject`` turns both off.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ERROR_HELP_MARKER", "PLACEHOLDER", "calm_widgets"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PLACEHOLDER = "Tutor panel: run the first cell of the notebook (it loads the tutor), then this one."
ERROR_HELP_MARKER = "Explain this error (eduproject)"
_PLACEHOLDER_HTML = (
    '<div style="color:#57606a;font-style:italic;border-left:4px solid #2f6fb3;'
    'padding:2px 8px">' + PLACEHOLDER + "</div>"
)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "eduproject.learner.jupyter_server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    serverapp.contents_manager.register_pre_save_hook(calm_widgets)


def calm_widgets(model: dict[str, Any], **_: Any) -> None:
    """Pre-save hook: the tutor's widget outputs become what a reopened notebook can show."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    for cell in model["content"].get("cells", ()):
        outputs = cell.get("outputs")
        if not outputs:
            continue
        meta = cell.get("metadata", {}).get("eduproject")
        is_panel = isinstance(meta, dict) and meta.get("role") == "panel"
        kept = []
        for output in outputs:
            data = output.get("data") or {}
            if WIDGET_VIEW not in data:
                kept.append(output)
            elif _text(data) == ERROR_HELP_MARKER:
                continue  # the traceback stays; its button comes back with the tutor
            elif is_panel:
                kept.append(_placeholder(output))
            else:
                kept.append(output)
        cell["outputs"] = kept


def _text(data: dict[str, Any]) -> str:
    text = data.get("text/plain", "")
    return "".join(text) if isinstance(text, list) else str(text)


def _placeholder(output: dict[str, Any]) -> dict[str, Any]:
    placeholder: dict[str, Any] = {
        "output_type": "display_data",
        "data": {"text/plain": PLACEHOLDER, "text/html": _PLACEHOLDER_HTML},
        "metadata": {},
    }
    if output.get("output_type") == "execute_result":
        placeholder["output_type"] = "execute_result"
        placeholder["execution_count"] = output.get("execution_count")
    return placeholder
