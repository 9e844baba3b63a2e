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
        self.sent = 0  # characters passed through
        self.held = ""  # text not passed through yet: trailing backticks, or all from a fence
        self.fenced = False  # a fence was seen: nothing more passes
        self._pieces: list[str] = []
        self._after: list[str] = []  # fed after the held part once fenced

    @property
    def text(self) -> str:
        """Everything fed so far."""
        return self._shown + self.held + "".join(self._after)

    def feed(self, delta: str) -> str:
        """The part of the text so far that may be shown now (not shown before).

        Only the held-back tail (a few backticks) is looked at again, never the whole text.
        """
        if self.fenced:
            self._after.append(delta)
            return ""
        self.held += delta
        # Everything from the first fence on waits for the verdict (shown whole at the end).
        end = self.held.find(FENCE)
        if end != -1:
            self.fenced = True
        else:
            end = len(self.held.rstrip("`"))  # trailing backticks may start a fence
        out, self.held = self.held[:end], self.held[end:]
        self.sent += len(out)
        self._pieces.append(out)
        return out

    @property
    def _shown(self) -> str:
        if len(self._pieces) > 1:
            self._pieces[:] = ["".join(self._pieces)]
        return self._pieces[0] if self._pieces else ""
