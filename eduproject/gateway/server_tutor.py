"""Streaming a server-side tutor reply: fenced code waits for the final verdict.

On the server the full lesson is loaded, so the Tutor (given ``runner``) rejects a model reply
whose code passes the exercise's tests, hidden ones included. That verdict comes only at the
end of the reply, so while it streams, fenced code is held back: a learner reading the raw
stream never sees a block the guard goes on to reject.
"""

from __future__ import annotations

FENCE = "```"


class FencedCodeGate:
    """Passes streamed text through until the first fenced code block; the rest waits for
    the final reply (which carries the whole text once the guards have passed it).

    >>> gate = FencedCodeGate()
    >>> gate.feed("Try this: ``"), gate.feed("`python\\nx = 1\\n"), gate.feed("```\\nDone.")
    ('Try this: ', '', '')
    """

    def __init__(self) -> None:
        self.text = ""
        self.sent = 0

    def feed(self, delta: str) -> str:
        """The part of the text so far that may be shown now (not shown before)."""
        self.text += delta
        end = self._visible_end()
        if end <= self.sent:
            return ""
        out = self.text[self.sent : end]
        self.sent = end
        return out

    def _visible_end(self) -> int:
        # Everything from the first fence on waits for the verdict (shown whole at the end).
        fence = self.text.find(FENCE, self.sent)
        if fence != -1:
            return fence
        # Trailing backticks may be the start of a fence.
        return len(self.text.rstrip("`"))
