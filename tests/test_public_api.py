"""The public API: each package's ``__all__``, pinned (httpx's test_exported_members, ours).

A name added to or removed from a package's API fails here first: change the list below on
purpose, with docs/design.md. Modules a package does not export are internal; the docs import
only exported names (the last test).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PUBLIC_API: dict[str, list[str]] = {
    "eduproject": [
        "__version__",
        "check",
        "enable_error_help",
        "panel",
        "start",
    ],
    "eduproject.core": [
        "Cell",
        "Exercise",
        "ExerciseInfo",
        "ExerciseResult",
        "Lesson",
        "LessonPack",
        "PACK_NAME",
        "Role",
        "Status",
        "SubmissionResult",
        "TestCase",
        "TestOutcome",
        "TestResult",
        "VisibleTest",
        "default_grader_dir",
        "exercise_policy",
        "guard_data",
        "lesson_policies",
        "normalize_learner_id",
        "open_store",
        "read_bundle",
        "solution_region",
        "write_bundle",
    ],
    "eduproject.core.policy": [
        "ACTIONS",
        "ACTION_LABELS",
        "AI_ACTIONS",
        "Action",
        "AiPolicy",
        "CourseSettings",
        "LAYER_KEYS",
        "MAX_HINT_LEVEL",
        "PolicyLayer",
        "PolicyProblem",
        "course_layer",
        "layer_from_cell",
        "layer_from_table",
        "resolve",
    ],
    "eduproject.models.providers": [
        "Chunk",
        "EndpointKind",
        "GenerationParams",
        "Provider",
        "ProviderFactory",
        "build_providers",
        "register",
    ],
    "eduproject.runner": [
        "Backend",
        "DaskExecutor",
        "Engine",
        "Executor",
        "GradeJob",
        "Limits",
        "LocalPool",
        "Mutant",
        "Zygote",
        "detect_backend",
        "discover",
        "make_executor",
        "preload_for",
        "read_notebook",
    ],
    "eduproject.models": [
        "Attempt",
        "Config",
        "Ledger",
        "ModelFamily",
        "ModelRequest",
        "ModelResponse",
        "OFFLINE",
        "ProviderSpec",
        "Registry",
        "RenderedPrompt",
        "ResponseStream",
        "RouteConfig",
        "Router",
        "SummaryRow",
        "SyncResponseStream",
        "Timeouts",
        "TutorConfig",
        "Usage",
        "default_families",
        "default_registry",
        "find_bundled_smollm2",
        "load_config",
    ],
    "eduproject.authoring": [
        "ReleaseResult",
        "ValidationReport",
        "find_lessons",
        "learner_notebook",
        "learner_pack",
        "load_lesson",
        "release",
        "stale_files",
        "validate_lesson",
        "validate_lessons",
    ],
    "eduproject.authoring.importers": [
        "ImportReport",
        "import_nbgrader",
        "import_otter",
    ],
    "eduproject.grading": [
        "GradeRunSummary",
        "Gradebook",
        "grade_lesson",
        "print_summary",
        "simulate_class",
        "write_feedback",
        "write_report",
    ],
    "eduproject.tutor": [
        "GuardVerdict",
        "Quota",
        "Tutor",
        "TutorReply",
        "check_leak",
        "check_reply",
    ],
    "eduproject.completion": [
        "Completer",
        "Completion",
        "CompletionInput",
        "model_request",
        "parse_input",
        "trim_to_block",
    ],
    "eduproject.learner": [
        "CheckResult",
        "GatewayTutor",
        "Panel",
        "enable_error_help",
        "find_gateway",
        "make_tutor",
        "panel",
        "start",
    ],
    "eduproject.gateway": [
        "TutorService",
        "create_app",
        "make_server",
        "serve",
    ],
    "eduproject.bench": [
        "BenchItem",
        "BenchOptions",
        "BenchReport",
        "Grade",
        "Record",
        "SandboxGrader",
        "TaskMetrics",
        "check_identifiers",
        "humaneval_items",
        "load_suite",
        "pass_at_k",
        "run_bench",
        "summary_table",
        "write_report",
    ],
    "eduproject.lti": [
        "SigningKey",
        "SyncReport",
        "make_keys",
        "sync_lesson",
    ],
    "eduproject.cli": [
        "app",
        "main",
    ],
}


@pytest.mark.parametrize("package", sorted(PUBLIC_API))
def test_the_exported_names_are_pinned(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == PUBLIC_API[package]


@pytest.mark.parametrize("package", sorted(PUBLIC_API))
def test_every_exported_name_resolves_and_none_is_a_submodule_name(package: str) -> None:
    module = importlib.import_module(package)
    submodules = {info.name for info in pkgutil.iter_modules(getattr(module, "__path__", []))}
    lazy = "__getattr__" in vars(module)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
        # A lazy package's `from package import name` would give the submodule once that
        # is imported, unless the package binds the name itself when it loads (as an eager
        # package does, after importing the submodule).
        if lazy and name in submodules:
            importlib.import_module(f"{package}.{name}")
            assert not isinstance(getattr(module, name), types.ModuleType), (
                f"{package}.{name} is also a submodule"
            )


_IMPORT = re.compile(r"^\s*from (eduproject(?:\.\w+)*) import ([\w, ]+)$", re.MULTILINE)


def test_docs_import_only_public_names() -> None:
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    found = []
    for page in pages:
        for package, names in _IMPORT.findall(page.read_text(encoding="utf-8")):
            for name in (n.strip() for n in names.split(",")):
                if name not in PUBLIC_API.get(package, ()):
                    found.append(f"{page.name}: from {package} import {name}")
    assert found == []
