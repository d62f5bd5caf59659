"""Rewards: named reward presets for GRPO and evaluation, a declarative rule builder, and
custom Python rewards run in a bubblewrap sandbox.

Importing this package never imports torch; the web server lists and tests rewards with it.
"""

from loralab.rewards.answers import extract_answer, parse_number
from loralab.rewards.base import Context, RewardPreset, Sample
from loralab.rewards.build import (
    RewardFunc,
    build_reward_funcs,
    check_reward_specs,
    reward_weights,
    samples_from,
    score_samples,
    system_prompt,
)
from loralab.rewards.registry import PRESETS, get_preset
from loralab.rewards.sandbox import INSTALL_FIX, SandboxError, SandboxLimits, bwrap_path
from loralab.rewards.text import as_text, exact_match, normalize_answer, rouge_l, token_f1

__all__ = [
    "INSTALL_FIX",
    "PRESETS",
    "Context",
    "RewardFunc",
    "RewardPreset",
    "Sample",
    "SandboxError",
    "SandboxLimits",
    "as_text",
    "build_reward_funcs",
    "bwrap_path",
    "check_reward_specs",
    "exact_match",
    "extract_answer",
    "get_preset",
    "normalize_answer",
    "parse_number",
    "reward_weights",
    "rouge_l",
    "samples_from",
    "score_samples",
    "system_prompt",
    "token_f1",
]
