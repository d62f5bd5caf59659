"""Finding the answer in a completion and comparing answers as numbers.

The answer is, in order: the text between the last pair of solution markers, the content of the
last ``\\boxed{...}``, the number after a GSM8K-style ``#### ``. A reference answer (a dataset
column) goes through the same steps, so a GSM8K ``answer`` with its working and ``#### 72``
compares as ``72``.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from loralab.config.rewards import Markers

__all__ = [
    "boxed",
    "extract_answer",
    "numbers_equal",
    "parse_number",
    "section",
    "solution_text",
]

_HASHES = re.compile(r"####\s*(.+?)\s*$", re.MULTILINE)
_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\$?\.\d+")


def section(text: str, start: str, end: str) -> str | None:
    """The text between the last ``start`` and the first ``end`` after it; when ``end`` is
    missing, everything after ``start``. None without ``start``."""
    i = text.rfind(start)
    if i < 0:
        return None
    rest = text[i + len(start) :]
    j = rest.find(end)
    return (rest if j < 0 else rest[:j]).strip()


def boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (nested braces allowed), or None."""
    i = text.rfind("\\boxed{")
    if i < 0:
        return None
    depth, start = 0, i + len("\\boxed{")
    for j in range(start, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            if depth == 0:
                return text[start:j].strip()
            depth -= 1
    return None


def extract_answer(text: str, markers: Markers | None = None) -> str | None:
    """The final answer in ``text``: the solution section, else ``\\boxed{}``, else ``#### N``.
    None when none of them is there."""
    if markers is not None:
        found = section(text, markers.solution_start, markers.solution_end)
        if found is not None:
            return boxed(found) or found
    found = boxed(text)
    if found is not None:
        return found
    hashes = _HASHES.findall(text)
    return hashes[-1] if hashes else None


def solution_text(text: str, markers: Markers) -> str:
    """The solution section when the markers are there, else the whole text (stripped)."""
    found = section(text, markers.solution_start, markers.solution_end)
    return (found if found is not None else text).strip()


def parse_number(text: str | None) -> float | None:
    """The number ``text`` holds, tolerating ``1,000``, ``$5``, ``50%``, ``3/4``, ``1000.0``,
    a trailing full stop, or a single number inside a few words (``x = 72 apples``).
    None when there is no number or several different ones."""
    if text is None:
        return None
    cleaned = text.strip().replace("\\$", "$").replace("\\%", "%").replace("{,}", ",")
    cleaned = cleaned.replace("\\,", "").replace("\u2212", "-")
    cleaned = re.sub(r"\\(?:text|mathrm)\{[^}]*\}", "", cleaned)
    found = _NUMBER.findall(cleaned)
    values = {v for v in (_to_float(n) for n in found) if v is not None}
    if len(values) != 1:
        return None
    return values.pop()


def _to_float(token: str) -> float | None:
    token = token.replace("$", "").replace(",", "")
    try:
        value = float(Fraction(token)) if "/" in token else float(token)
    except (ValueError, ZeroDivisionError):
        return None
    return value if math.isfinite(value) else None


def numbers_equal(a: float, b: float, *, rel_tol: float = 1e-6) -> bool:
    """Equal within a relative tolerance (and 1e-9 absolute, so 0 equals -0.0)."""
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-9)
