"""Model families: how one kind of model wants to be prompted.

A family turns a :class:`~eduproject.models.types.ModelRequest` into a
:class:`RenderedPrompt` -- chat messages for chat endpoints, or the family's own raw
template for completion endpoints -- and says which strings end a turn (``stop``) and
which template tokens must never appear in an answer (``leak_tokens``).

StarCoder2 base models are not instruction models, so their family renders every task in
the shape of their training data: fill-in-the-middle for code completion and a GitHub
issue thread (``<issue_start>``/``<issue_comment>``) for questions.

The registry is a plain value (:func:`default_families`); adding a family is one entry::

    families = default_families() | {"mine": ModelFamily(name="mine", ...)}
    families["starcoder2"].render(ModelRequest(task="completion", prefix="def f(", suffix=""))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from eduproject.models.types import ModelRequest

if TYPE_CHECKING:
    from eduproject.models.registry import Registry

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class RenderedPrompt:
    """What a provider sends: exactly one of ``prompt`` (raw text) or ``messages`` (chat)."""

    prompt: str | None = None
    messages: tuple[Message, ...] | None = None
    stop: tuple[str, ...] = ()
    # The answer is asked for inside a fenced code block (completion by an instruction
    # model); :func:`extract_code_block` takes it out of the final text.
    code_block: bool = False

    @property
    def is_chat(self) -> bool:
        return self.messages is not None

    def text(self) -> str:
        """The whole prompt as one string (for token estimates and cache keys)."""
        if self.messages is not None:
            return "\n".join(f"{m.role}: {m.content}" for m in self.messages)
        return self.prompt or ""

    def message_dicts(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in self.messages or ()]


@dataclass(frozen=True)
class FimFormat:
    """Fill-in-the-middle tokens, prefix-suffix-middle order."""

    prefix: str
    suffix: str
    middle: str

    def render(self, prefix: str, suffix: str) -> str:
        return f"{self.prefix}{prefix}{self.suffix}{suffix}{self.middle}"


Template = Callable[[Sequence[Message]], str]
# Tasks that fill in code at a cursor: the benchmark's "completion" and inline "complete".
COMPLETION_TASKS = ("completion", "complete")


@dataclass(frozen=True)
class ModelFamily:
    """One family of models and its prompt conventions.

    ``chat`` says whether its routes use the chat endpoint unless the route says
    otherwise; ``template`` renders messages as raw text for completion endpoints
    (``None`` for base models, which get code-shaped prompts instead).
    """

    name: str
    description: str
    context_window: int
    chat: bool
    stop: tuple[str, ...]
    leak_tokens: tuple[str, ...]
    template: Template | None = None
    fim: FimFormat | None = None
    system_role: bool = True
    code_shaped: bool = False
    default_system: str = ""

    def render(self, request: ModelRequest, *, chat: bool | None = None) -> RenderedPrompt:
        """Render ``request`` for a chat endpoint (``chat=True``) or a raw completion endpoint.

        >>> fam = default_families()["starcoder2"]
        >>> fam.render(ModelRequest(task="completion", prefix="a = ", suffix="\\nprint(a)")).prompt
        '<fim_prefix>a = <fim_suffix>\\nprint(a)<fim_middle>'
        """
        use_chat = self.chat if chat is None else chat
        if request.task in COMPLETION_TASKS:
            return self._render_completion(request, use_chat)
        if self.code_shaped and not use_chat:
            return RenderedPrompt(
                prompt=_issue_thread(request), stop=_merge(self.stop, request.stop)
            )
        messages = self._messages(request, _instruction_text(request))
        return self._finish(messages, use_chat, request.stop)

    def _render_completion(self, request: ModelRequest, use_chat: bool) -> RenderedPrompt:
        stop = _merge(self.stop, request.stop)
        if not use_chat and (self.code_shaped or self.fim is not None):
            if self.fim is not None and request.suffix.strip():
                return RenderedPrompt(
                    prompt=self.fim.render(request.prefix, request.suffix), stop=stop
                )
            # Plain left-to-right completion: the standard HumanEval setting.
            return RenderedPrompt(prompt=request.prefix, stop=stop)
        messages = self._messages(request, _completion_instruction(request))
        rendered = self._finish(messages, use_chat, request.stop)
        return replace(rendered, code_block=True)

    def _messages(self, request: ModelRequest, user_text: str) -> list[Message]:
        system = request.system or self.default_system
        if not system:
            return [Message("user", user_text)]
        if self.system_role:
            return [Message("system", system), Message("user", user_text)]
        return [Message("user", f"{system}\n\n{user_text}")]

    def _finish(
        self, messages: list[Message], use_chat: bool, stop: Sequence[str]
    ) -> RenderedPrompt:
        stops = _merge(self.stop, stop)
        if use_chat:
            return RenderedPrompt(messages=tuple(messages), stop=stops)
        template = self.template or _plain_template
        return RenderedPrompt(prompt=template(messages), stop=stops)


def _merge(*groups: Sequence[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        for item in group:
            if item:
                seen.setdefault(item, None)
    return tuple(seen)


def _fenced(code: str) -> str:
    return f"```python\n{code.rstrip()}\n```"


def _instruction_text(request: ModelRequest) -> str:
    parts = [request.instruction.strip()]
    if request.context.strip():
        parts.append(_fenced(request.context))
    return "\n\n".join(p for p in parts if p)


def _completion_instruction(request: ModelRequest) -> str:
    """Ask an instruction model for the missing code only (no FIM tokens it may not know)."""
    lead = request.instruction.strip() or "Complete the following Python code."
    text = f"{lead}\nReply with only the code that goes at <CURSOR>, in one code block.\n\n"
    code = f"{request.prefix}<CURSOR>{request.suffix}"
    return text + _fenced(code)


def _issue_thread(request: ModelRequest) -> str:
    """A GitHub-issue-shaped question for a base code model (StarCoder2 training data)."""
    question = "\n\n".join(p for p in (request.system.strip(), _instruction_text(request)) if p)
    return f"<issue_start>user: {question}\n<issue_comment>user: "


def _plain_template(messages: Sequence[Message]) -> str:
    return "\n\n".join(m.content for m in messages) + "\n\n"


def _chatml(messages: Sequence[Message]) -> str:
    turns = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"


_SC2_INSTRUCT_PREAMBLE = (
    "<|endoftext|>You are an exceptionally intelligent coding assistant that consistently "
    "delivers accurate and reliable responses to user instructions.\n\n"
)


def _starcoder2_instruct(messages: Sequence[Message]) -> str:
    instruction = "\n\n".join(m.content for m in messages)
    return f"{_SC2_INSTRUCT_PREAMBLE}### Instruction\n{instruction}\n\n### Response\n"


def _codellama_inst(messages: Sequence[Message]) -> str:
    # No literal <s>: servers add BOS themselves and a second one hurts the output.
    system = next((m.content for m in messages if m.role == "system"), "")
    user = "\n\n".join(m.content for m in messages if m.role != "system")
    if system:
        user = f"<<SYS>>\n{system}\n<</SYS>>\n\n{user}"
    return f"[INST] {user} [/INST]"


_ALPACA_PREAMBLE = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
)


def _alpaca(messages: Sequence[Message]) -> str:
    instruction = "\n\n".join(m.content for m in messages)
    return f"{_ALPACA_PREAMBLE}### Instruction:\n{instruction}\n\n### Response:\n"


_SC2_SPECIAL = (
    "<fim_prefix>",
    "<fim_middle>",
    "<fim_suffix>",
    "<fim_pad>",
    "<repo_name>",
    "<file_sep>",
    "<gh_stars>",
    "<issue_start>",
    "<issue_comment>",
    "<issue_closed>",
    "<jupyter_start>",
    "<jupyter_text>",
    "<jupyter_code>",
    "<jupyter_output>",
    "<jupyter_script>",
    "<empty_output>",
    "<|endoftext|>",
)
_CHATML_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")
_QWEN_FIM = FimFormat("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")
_QWEN_SPECIAL = (
    "<|fim_prefix|>",
    "<|fim_suffix|>",
    "<|fim_middle|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
    *_CHATML_TOKENS,
)
# Code Llama's infilling format puts spaces around its tokens (Meta's reference code).
_CODELLAMA_FIM = FimFormat("<PRE> ", " <SUF>", " <MID>")
_CODELLAMA_SPECIAL = ("<PRE>", "<SUF>", "<MID>", "<EOT>", "</s>")
# DeepSeek-Coder's tokens use U+FF5C (fullwidth vertical line) and U+2581 (lower block).
_DEEPSEEK_FIM = FimFormat(
    "<\uff5cfim\u2581begin\uff5c>", "<\uff5cfim\u2581hole\uff5c>", "<\uff5cfim\u2581end\uff5c>"
)
_DEEPSEEK_SPECIAL = (
    _DEEPSEEK_FIM.prefix,
    _DEEPSEEK_FIM.suffix,
    _DEEPSEEK_FIM.middle,
    "<\uff5cend\u2581of\u2581sentence\uff5c>",
    "<|EOT|>",
)


def default_families() -> dict[str, ModelFamily]:
    """The built-in families, keyed by the names used in ``eduproject.toml``."""
    families = [
        ModelFamily(
            name="starcoder2",
            description="StarCoder2 base 3B/7B/15B: FIM and code- or issue-shaped prompts",
            context_window=16384,
            chat=False,
            code_shaped=True,
            fim=FimFormat("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
            stop=(
                "<fim_prefix>",
                "<fim_suffix>",
                "<fim_middle>",
                "<file_sep>",
                "<|endoftext|>",
                "<issue_comment>",
                "<issue_closed>",
                "<issue_start>",
            ),
            leak_tokens=_SC2_SPECIAL,
        ),
        ModelFamily(
            name="starcoder2-instruct",
            description="StarCoder2-15B-Instruct: ### Instruction / ### Response, no system role",
            context_window=16384,
            chat=True,
            system_role=False,
            template=_starcoder2_instruct,
            stop=("<|endoftext|>", "###"),
            leak_tokens=(*_SC2_SPECIAL, "### Instruction", "### Response"),
        ),
        ModelFamily(
            name="codellama-instruct",
            description="Code Llama Instruct: [INST] ... [/INST] with <<SYS>>",
            context_window=16384,
            chat=True,
            template=_codellama_inst,
            stop=("</s>", "[INST]"),
            leak_tokens=("[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "</s>"),
        ),
        ModelFamily(
            name="wizardcoder",
            description="WizardCoder: Alpaca ### Instruction: / ### Response:",
            context_window=8192,
            chat=True,
            system_role=False,
            template=_alpaca,
            stop=("###", "</s>", "<|endoftext|>"),
            leak_tokens=("### Instruction:", "### Response:", "</s>", "<|endoftext|>"),
        ),
        ModelFamily(
            name="qwen2.5-coder-instruct",
            description="Qwen2.5-Coder Instruct: ChatML",
            context_window=32768,
            chat=True,
            template=_chatml,
            default_system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
            stop=("<|im_end|>", "<|im_start|>", "<|endoftext|>"),
            leak_tokens=(*_CHATML_TOKENS, "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
        ),
        ModelFamily(
            name="qwen2.5-coder",
            description="Qwen2.5-Coder base: FIM <|fim_prefix|>...<|fim_suffix|>...<|fim_middle|>",
            context_window=32768,
            chat=False,
            fim=_QWEN_FIM,
            stop=_QWEN_SPECIAL,
            leak_tokens=_QWEN_SPECIAL,
        ),
        ModelFamily(
            name="codellama",
            description="Code Llama base 7B/13B: infilling <PRE> ... <SUF>... <MID>",
            context_window=16384,
            chat=False,
            fim=_CODELLAMA_FIM,
            stop=_CODELLAMA_SPECIAL,
            leak_tokens=_CODELLAMA_SPECIAL,
        ),
        ModelFamily(
            name="deepseek-coder",
            description="DeepSeek-Coder base: FIM " + _DEEPSEEK_FIM.render("...", "..."),
            context_window=16384,
            chat=False,
            fim=_DEEPSEEK_FIM,
            stop=_DEEPSEEK_SPECIAL,
            leak_tokens=_DEEPSEEK_SPECIAL,
        ),
        ModelFamily(
            name="smollm2-instruct",
            description="SmolLM2 Instruct (tiny general model, not a code model): ChatML",
            context_window=8192,
            chat=True,
            template=_chatml,
            stop=("<|im_end|>", "<|im_start|>", "<|endoftext|>"),
            leak_tokens=_CHATML_TOKENS,
        ),
    ]
    return {f.name: f for f in families}


_FENCE = re.compile(r"```[\w+-]*[ \t]*\n(.*?)(?:\n```|$)", re.DOTALL)


def extract_code_block(text: str) -> str:
    """The body of the first fenced code block in ``text``, or ``text`` if there is none.

    >>> extract_code_block("Sure:\\n```python\\nreturn 1\\n```\\nDone.")
    'return 1'
    """
    match = _FENCE.search(text)
    return match.group(1) if match else text


def register(registry: Registry) -> None:
    """The built-in families (part of eduproject's own ``eduproject.providers`` hook)."""
    for family in default_families().values():
        registry.add_family(family)


def family_names(families: Mapping[str, ModelFamily]) -> str:
    return ", ".join(sorted(families))
