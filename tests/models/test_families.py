"""Prompt rendering per model family."""

from __future__ import annotations

import pytest

from eduproject.models.families import (
    FimFormat,
    Message,
    ModelFamily,
    RenderedPrompt,
    default_families,
    extract_code_block,
)
from eduproject.models.types import ModelRequest

FAMILIES = default_families()
HINT = ModelRequest(
    task="hint",
    instruction="Give one hint.",
    system="Never write code for the student.",
    context="def f(x):\n    return x +",
)


def test_registry_names_match_the_configuration_names() -> None:
    assert set(FAMILIES) == {
        "starcoder2",
        "starcoder2-instruct",
        "codellama-instruct",
        "wizardcoder",
        "qwen2.5-coder-instruct",
        "smollm2-instruct",
        "qwen2.5-coder",
        "codellama",
        "deepseek-coder",
    }


def test_starcoder2_fim_and_plain_completion() -> None:
    sc2 = FAMILIES["starcoder2"]
    fim = sc2.render(
        ModelRequest(task="completion", prefix="def add(a, b):\n", suffix="\nprint(add(1, 2))")
    )
    assert fim.prompt == "<fim_prefix>def add(a, b):\n<fim_suffix>\nprint(add(1, 2))<fim_middle>"
    assert {"<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>", "<|endoftext|>"} <= set(
        fim.stop
    )
    plain = sc2.render(ModelRequest(task="completion", prefix="def add(a, b):\n", stop=("\ndef ",)))
    assert plain.prompt == "def add(a, b):\n" and "\ndef " in plain.stop and not plain.code_block


@pytest.mark.parametrize(
    ("family", "prompt", "stop"),
    [
        (
            "qwen2.5-coder",
            "<|fim_prefix|>a = <|fim_suffix|>\nprint(a)<|fim_middle|>",
            "<|fim_pad|>",
        ),
        # Meta's reference infilling format: spaces around the sentinel tokens.
        ("codellama", "<PRE> a =  <SUF>\nprint(a) <MID>", "<EOT>"),
        (
            "deepseek-coder",
            "<\uff5cfim\u2581begin\uff5c>a = <\uff5cfim\u2581hole\uff5c>\nprint(a)"
            "<\uff5cfim\u2581end\uff5c>",
            "<\uff5cend\u2581of\u2581sentence\uff5c>",
        ),
    ],
)
def test_base_code_models_get_their_own_fim_template(family: str, prompt: str, stop: str) -> None:
    for task in ("completion", "complete"):
        rendered = FAMILIES[family].render(
            ModelRequest(task=task, prefix="a = ", suffix="\nprint(a)")  # type: ignore[arg-type]
        )
        assert (rendered.prompt, rendered.code_block) == (prompt, False)
        assert stop in rendered.stop


def test_instruction_models_complete_with_the_cursor_marked() -> None:
    rendered = FAMILIES["qwen2.5-coder-instruct"].render(
        ModelRequest(task="complete", prefix="a = ", suffix="\nprint(a)"), chat=False
    )
    assert rendered.code_block and rendered.prompt is not None
    assert "a = <CURSOR>\nprint(a)" in rendered.prompt
    assert rendered.prompt.startswith("<|im_start|>system\n")


def test_starcoder2_questions_are_issue_shaped() -> None:
    rendered = FAMILIES["starcoder2"].render(HINT)
    assert rendered.prompt == (
        "<issue_start>user: Never write code for the student.\n\nGive one hint.\n\n"
        "```python\ndef f(x):\n    return x +\n```\n<issue_comment>user: "
    )
    assert "<issue_comment>" in rendered.stop and "<issue_closed>" in rendered.stop


def test_starcoder2_instruct_template_from_the_model_card() -> None:
    rendered = FAMILIES["starcoder2-instruct"].render(
        ModelRequest(task="ask", instruction="Why?"), chat=False
    )
    assert rendered.prompt == (
        "<|endoftext|>You are an exceptionally intelligent coding assistant that consistently "
        "delivers accurate and reliable responses to user instructions.\n\n"
        "### Instruction\nWhy?\n\n### Response\n"
    )
    assert set(rendered.stop) >= {"<|endoftext|>", "###"}


def test_families_without_a_system_role_fold_it_into_the_user_turn() -> None:
    rendered = FAMILIES["starcoder2-instruct"].render(HINT, chat=True)
    assert rendered.messages is not None and [m.role for m in rendered.messages] == ["user"]
    assert rendered.messages[0].content.startswith(
        "Never write code for the student.\n\nGive one hint."
    )


def test_codellama_inst_with_sys_block() -> None:
    rendered = FAMILIES["codellama-instruct"].render(HINT, chat=False)
    assert rendered.prompt is not None
    assert rendered.prompt.startswith(
        "[INST] <<SYS>>\nNever write code for the student.\n<</SYS>>\n\nGive one hint."
    )
    assert rendered.prompt.endswith(" [/INST]") and "<s>" not in rendered.prompt


def test_wizardcoder_alpaca_template() -> None:
    rendered = FAMILIES["wizardcoder"].render(
        ModelRequest(task="ask", instruction="Why?"), chat=False
    )
    assert rendered.prompt == (
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\nWhy?\n\n### Response:\n"
    )


@pytest.mark.parametrize("name", ["qwen2.5-coder-instruct", "smollm2-instruct"])
def test_chatml_families(name: str) -> None:
    rendered = FAMILIES[name].render(HINT, chat=False)
    assert rendered.prompt is not None
    assert rendered.prompt.startswith(
        "<|im_start|>system\nNever write code for the student.<|im_end|>\n"
    )
    assert rendered.prompt.endswith("<|im_start|>assistant\n")
    assert "<|im_end|>" in rendered.stop


def test_qwen_default_system_prompt_only_without_one() -> None:
    rendered = FAMILIES["qwen2.5-coder-instruct"].render(
        ModelRequest(task="ask", instruction="Hi"), chat=True
    )
    assert rendered.messages is not None
    assert rendered.messages[0] == Message(
        "system", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    )


def test_completion_for_instruction_models_asks_for_a_code_block() -> None:
    rendered = FAMILIES["smollm2-instruct"].render(
        ModelRequest(task="completion", prefix="def inc(x):\n", suffix="\n# end"), chat=True
    )
    assert rendered.code_block and rendered.messages is not None
    assert "def inc(x):\n<CURSOR>\n# end" in rendered.messages[-1].content
    assert extract_code_block("Here:\n```python\n    return x + 1\n```\nDone") == "    return x + 1"
    assert extract_code_block("no fences") == "no fences"


def test_a_new_family_is_one_entry() -> None:
    mine = ModelFamily(
        name="mine",
        description="test",
        context_window=2048,
        chat=False,
        stop=("<END>",),
        leak_tokens=("<END>",),
        fim=FimFormat("<PRE>", "<SUF>", "<MID>"),
        code_shaped=True,
    )
    families = FAMILIES | {"mine": mine}
    rendered = families["mine"].render(ModelRequest(task="completion", prefix="a", suffix="b"))
    assert rendered == RenderedPrompt(prompt="<PRE>a<SUF>b<MID>", stop=("<END>",))
