"""Per-learner feedback pages: scores, visible test messages and the executed notebook.

One self-contained HTML file per learner and lesson (``OUT/<lesson>/<learner>.html``): no
script, no external resource, images embedded as ``data:`` URIs, and a Content Security
Policy that forbids scripts even if something slipped through. Everything a learner
produced is escaped; rich outputs that could carry script (HTML, JavaScript, SVG,
Markdown, widgets) are never rendered -- HTML is shown as its escaped source text.
Hidden tests appear by name and points only.

    >>> write_feedback(Path("gradebook.sqlite"), Path("feedback"))          # doctest: +SKIP
    [PosixPath('feedback/01-functions/ada.html'), ...]
"""

from __future__ import annotations

import base64
import binascii
import re
from html import escape
from pathlib import Path
from typing import Any

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from eduproject.core.results import ExerciseResult, Status, SubmissionResult
from eduproject.errors import GradebookError
from eduproject.grading.export import file_stem
from eduproject.grading.gradebook import Gradebook
from eduproject.util.html import html_page
from eduproject.util.markdown import safe_html

__all__ = [
    "STATUS_COLORS",
    "STATUS_TEXT",
    "feedback_page",
    "render_notebook",
    "write_feedback",
]

STATUS_TEXT = {
    Status.GRADED: "graded",
    Status.ERROR: "your code raised an error",
    Status.TIMEOUT: "ran out of time",
    Status.KILLED: "stopped by a memory or process limit",
    Status.INVALID: "the notebook could not be read",
    Status.TAMPERED: "test or read-only cells were changed",
    Status.REVIEW: "waiting for your instructor to check a test",
    Status.PENDING: "waiting for your instructor's grading",
}
STATUS_COLORS = {
    Status.GRADED: "#2e7d32",
    Status.ERROR: "#c62828",
    Status.TIMEOUT: "#ef6c00",
    Status.KILLED: "#6a1b9a",
    Status.INVALID: "#616161",
    Status.TAMPERED: "#ad1457",
    Status.REVIEW: "#1565c0",
    Status.PENDING: "#9a6700",
}
MAX_OUTPUT_CHARS = 20_000  # per output; the grader caps output size too, this keeps pages light
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def write_feedback(db: Path, out: Path, *, lesson: str | None = None) -> list[Path]:
    """Write one feedback page per learner and lesson under ``out``; return the paths."""
    written: list[Path] = []
    with Gradebook(db, create=False) as gb:
        if lesson is not None and lesson not in gb.lessons():
            known = ", ".join(gb.lessons()) or "none"
            raise GradebookError(
                db, f"no results for lesson {lesson!r}", hint=f"lessons in it: {known}"
            )
        for result in gb.results(lesson, with_notebooks=True):
            path = out / file_stem(result.lesson) / f"{file_stem(result.learner)}.html"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(feedback_page(result), encoding="utf-8")
            except OSError as exc:
                raise GradebookError(
                    path, f"cannot write feedback: {exc.strerror or exc}", hint="check -o"
                ) from exc
            written.append(path)
    return written


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _badge(status: Status) -> str:
    return (
        f'<span class="badge" style="background:{STATUS_COLORS[status]}">'
        f"{escape(str(status))}</span>"
    )


def _exercise_tests(e: ExerciseResult) -> str:
    rows = []
    for t in e.tests:
        if t.review:
            # The notebook passes it; points wait for the instructor (the reason is theirs).
            hidden = " <span class='muted'>(hidden test)</span>" if t.hidden else ""
            rows.append(
                f"<tr><td>{escape(t.name)}{hidden}</td><td class='muted'>review</td>"
                f"<td class='num'>{_num(t.points)} / {_num(t.max_points)}</td>"
                "<td>passed, but your instructor must confirm it</td></tr>"
            )
            continue
        if t.hidden and not t.learner_message:
            # Name, points and whether it passed: never the message, source or expected values.
            shown = "passed" if t.passed else "not run" if not t.ran else "failed"
            rows.append(
                f"<tr><td>{escape(t.name)} <span class='muted'>(hidden test)</span></td>"
                f"<td class='muted'>{shown}</td>"
                f"<td class='num'>{_num(t.points)} / {_num(t.max_points)}</td><td></td></tr>"
            )
            continue
        verdict = (
            "<span class='pass'>passed</span>"
            if t.passed
            else "<span class='muted'>not run</span>"
            if not t.ran
            else "<span class='fail'>failed</span>"
        )
        message = f"<pre>{escape(_clip(t.learner_message))}</pre>" if t.learner_message else ""
        hidden = " <span class='muted'>(hidden test)</span>" if t.hidden else ""
        rows.append(
            f"<tr><td>{escape(t.name)}{hidden}</td><td>{verdict}</td>"
            f"<td class='num'>{_num(t.points)} / {_num(t.max_points)}</td><td>{message}</td></tr>"
        )
    if not rows:
        return "<p class='note'>No test of this exercise ran.</p>"
    return (
        "<table><tr><th>Test</th><th>Result</th><th>Points</th><th>Message</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _manual(e: ExerciseResult) -> str:
    """A manually graded exercise: its points and the instructor's comment, or that they wait."""
    if e.pending:
        text = "Graded by hand: your instructor has not graded this answer yet."
        return f"<p class='note'>{escape(text)}</p>"
    if not e.manual or e.status is not Status.GRADED:
        return "<p class='note'>This answer could not be graded by hand (see the status).</p>"
    comment = (
        f"<p><b>Your instructor's comment:</b></p><pre>{escape(_clip(e.comment))}</pre>"
        if e.comment
        else ""
    )
    return f"<p>Graded by hand: {_num(e.score)} / {_num(e.max_score)} points.</p>{comment}"


def feedback_page(result: SubmissionResult) -> str:
    """The feedback page of one submission (its ``executed_notebook`` is rendered if set)."""
    explain = ""
    if result.status is not Status.GRADED:
        explain = f" <span class='muted'>{escape(STATUS_TEXT[result.status])}</span>"
    waiting = ""
    if result.pending_points:
        waiting = (
            f" <span class='muted'>({_num(result.pending_points)} more points wait for your "
            "instructor's grading)</span>"
        )
    parts = [
        f"<h1>{escape(result.lesson)}: feedback for {escape(result.learner)}</h1>",
        f"<p><b>Score: {_num(result.score)} / {_num(result.max_score)}</b>{waiting} &nbsp; "
        f"{_badge(result.status)}{explain}</p>",
    ]
    if result.detail:
        parts.append(f"<p class='warn'>{escape(_clip(result.detail))}</p>")
    parts.append(
        "<h2>Summary</h2><table><tr><th>Exercise</th><th>Score</th><th>Status</th>"
        "<th>Detail</th></tr>"
    )
    for e in result.exercises:
        detail = f"<pre>{escape(_clip(e.detail))}</pre>" if e.detail else ""
        if e.pending:
            detail = escape(STATUS_TEXT[Status.PENDING])
        score = "&ndash;" if e.pending else _num(e.score)
        parts.append(
            f"<tr><td>{escape(e.exercise)}</td><td class='num'>{score} / "
            f"{_num(e.max_score)}</td><td>{_badge(e.status)}</td><td>{detail}</td></tr>"
        )
    parts.append("</table>")
    for e in result.exercises:
        if e.manual:
            parts.append(f"<h2>{escape(e.exercise)}: graded by hand</h2>{_manual(e)}")
        else:
            parts.append(f"<h2>Tests of {escape(e.exercise)}</h2>{_exercise_tests(e)}")
    parts.append("<h2>Your notebook, as it ran</h2>")
    if result.executed_notebook is None:
        parts.append("<p class='note'>The executed notebook is not available.</p>")
    else:
        parts.append(render_notebook(result.executed_notebook))
    title = f"{result.lesson}: {result.learner}"
    return html_page(title, "\n".join(parts))


# -- notebook rendering ----------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else str(value)


def _clip(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return f"{text[:MAX_OUTPUT_CHARS]}\n... ({len(text) - MAX_OUTPUT_CHARS} more characters)"


def _plain(text: str, css: str = "") -> str:
    """Learner text as an escaped <pre> block (terminal colour codes removed)."""
    return f'<pre class="{css}">{escape(_clip(_ANSI.sub("", text)))}</pre>'


def _data_uri(mime: str, value: Any) -> str | None:
    """A data: URI for a base64 image, or None if the payload is not clean base64."""
    b64 = re.sub(r"\s+", "", _text(value))
    if not b64 or not _BASE64.match(b64):
        return None
    try:
        base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    return f"data:{mime};base64,{b64}"


def _render_output(output: Any) -> str:
    if not isinstance(output, dict):
        return ""
    kind = output.get("output_type")
    if kind == "stream":
        name = "stderr" if output.get("name") == "stderr" else "stdout"
        return _plain(_text(output.get("text", "")), name)
    if kind == "error":
        lines = output.get("traceback")
        text = "\n".join(_text(x) for x in lines) if isinstance(lines, list) else ""
        text = text or f"{_text(output.get('ename', ''))}: {_text(output.get('evalue', ''))}"
        return _plain(text, "error")
    data = output.get("data")
    if kind not in ("execute_result", "display_data") or not isinstance(data, dict):
        return ""
    for mime in _IMAGE_TYPES:
        if mime in data:
            uri = _data_uri(mime, data[mime])
            if uri is not None:
                return f'<img src="{escape(uri)}" alt="output image">'
    if "text/plain" in data:
        return _plain(_text(data["text/plain"]))
    if "text/html" in data:
        # Never rendered: learner HTML could carry script. Its source is shown as text.
        return "<p class='note'>HTML output, shown as text:</p>" + _plain(_text(data["text/html"]))
    kinds = ", ".join(sorted(str(k) for k in data))
    return f"<p class='note'>Output not shown ({escape(kinds)}).</p>"


def _markdown(source: str, attachments: dict[str, Any]) -> str:
    """A markdown cell: links only to http(s)/mailto/#anchor targets, images only embedded
    attachments (``attachment:name``) turned into data: URIs."""

    def image(src: str) -> str | None:
        if not src.startswith("attachment:"):
            return None
        bundle = attachments.get(src.removeprefix("attachment:"))
        if not isinstance(bundle, dict):
            return None
        for mime in _IMAGE_TYPES:
            if mime in bundle:
                return _data_uri(mime, bundle[mime])
        return None

    return safe_html(source, links=True, images=image, extensions=("fenced_code", "tables"))


_FORMATTER = HtmlFormatter(nowrap=True)
_LEXER = PythonLexer()
_HIGHLIGHT_CSS = _FORMATTER.get_style_defs(".input")


def render_notebook(notebook: dict[str, Any]) -> str:
    """Render an nbformat-4 notebook (as a dict) to a safe HTML fragment.

    Cells the grader marks as hidden tests are skipped (they never reach learners).
    """
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return "<p class='note'>The notebook has no readable cells.</p>"
    parts = [f"<style>{_HIGHLIGHT_CSS}</style>"]
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        meta = cell.get("metadata")
        edu = meta.get("eduproject") if isinstance(meta, dict) else None
        if isinstance(edu, dict) and edu.get("role") == "hidden-tests":
            continue
        source = _clip(_text(cell.get("source", "")))
        kind = cell.get("cell_type")
        if kind == "markdown":
            attachments = cell.get("attachments")
            html = _markdown(source, attachments if isinstance(attachments, dict) else {})
            parts.append(f'<div class="cell markdown">{html}</div>')
        elif kind == "code":
            count = cell.get("execution_count")
            prompt = f"In [{count if isinstance(count, int) else ' '}]:"
            outputs = cell.get("outputs")
            rendered = "".join(
                f'<div class="output">{html}</div>'
                for html in map(_render_output, outputs if isinstance(outputs, list) else [])
                if html
            )
            parts.append(
                f'<div class="cell code"><div class="prompt">{prompt}</div>'
                f'<div class="input"><pre>{highlight(source, _LEXER, _FORMATTER)}</pre></div>'
                f"{rendered}</div>"
            )
        else:
            parts.append(f'<div class="cell raw">{_plain(source)}</div>')
    return "\n".join(parts)
