"""code: is the completion's Python valid (``ast.parse``), and does it pass the given tests?

The tests (assert statements) run only in the bubblewrap sandbox, one sandboxed process per
completion, and only where the server allows custom code (they are code from the request).
"""

from __future__ import annotations

import ast
import re

from pydantic import Field

from loralab.config.strict import StrictModel
from loralab.rewards.answers import section
from loralab.rewards.base import Context, RewardPreset, Sample
from loralab.rewards.sandbox import SandboxLimits, run_tests

_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)


class CodeParams(StrictModel):
    tests: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Python statements (e.g. `assert add(2, 3) == 5`) run after the "
        "completion's code in the sandbox; the score is the share that pass.",
    )
    tests_field: str | None = Field(
        default=None,
        max_length=128,
        description="A dataset column with more tests for each row (a string or a list).",
    )
    timeout_s: float = Field(default=5.0, gt=0, le=60, description="Time limit per completion.")


def extract_code(text: str, ctx: Context) -> str:
    """The last fenced code block, else the solution section, else the whole completion."""
    blocks = _FENCE.findall(text)
    if blocks:
        return blocks[-1]
    found = section(text, ctx.markers.solution_start, ctx.markers.solution_end)
    return found if found is not None else text


def _tests(sample: Sample, params: CodeParams) -> list[str]:
    tests = list(params.tests)
    if params.tests_field:
        extra = sample.row.get(params.tests_field)
        if isinstance(extra, str):
            tests.append(extra)
        elif isinstance(extra, list):
            tests += [str(t) for t in extra]
    return tests


def score(sample: Sample, params: CodeParams, ctx: Context) -> float:
    code = extract_code(sample.completion, ctx)
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return 0.0
    tests = _tests(sample, params)
    if not tests:
        return 1.0
    passed = run_tests(code, tests, SandboxLimits(timeout_s=params.timeout_s))
    return sum(passed) / len(tests)


def runs_code(params: CodeParams) -> bool:
    return bool(params.tests or params.tests_field)


PRESET = RewardPreset(
    name="code",
    title="Python code",
    description="0.0 when the code (the last ```python block, else the solution section, else "
    "everything) is not valid Python; else 1.0, or with tests the share of tests it passes "
    "in the sandbox (tests need LORALAB_ALLOW_CUSTOM_REWARDS).",
    score_range=(0.0, 1.0),
    params=CodeParams,
    score=score,
    runs_code=runs_code,
    sandboxed=True,
    example={"name": "code", "params": {"tests": ["assert add(2, 3) == 5"]}},
)
