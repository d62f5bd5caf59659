"""Detect a dataset's format and field mapping from its columns and a few rows.

The guess is shown to the person, never applied silently: ``FormatDetection`` says which
format, which column fills which field, how sure it is and why. An explicit ``format`` or
``field_mapping`` from the config overrides the guess (``resolve_format``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from loralab.data.convert import SQUAD_NO_ANSWER, convert_row
from loralab.data.fields import FORMAT_FIELDS, FORMAT_PRIORITY, format_task, normalise_name
from loralab.data.records import RowError
from loralab.errors import DataError, FieldProblem

__all__ = ["FormatDetection", "detect_format", "format_fields", "resolve_format"]


class FormatDetection(BaseModel):
    """The format of a dataset, which column fills which field, and how it was decided.

    ``format`` is ``None`` when no known format fits. ``confidence`` (0-1) is the share of the
    sampled rows that convert cleanly, lowered when a column matched only by an alias or when
    another format fits as well. ``detected`` is ``False`` when the person chose the format
    and every field.
    """

    format: str | None
    field_mapping: dict[str, str] = Field(default_factory=dict)
    confidence: float = 0.0
    notes: list[str] = Field(default_factory=list)
    detected: bool = True
    task: Literal["sft", "preference"] | None = None


def format_fields(format: str) -> list[dict[str, Any]]:
    """The fields of ``format`` (name, required, automatic column names), for forms and help."""
    return [
        {"name": f.name, "required": f.required, "columns": list(f.names)}
        for f in FORMAT_FIELDS[format]
    ]


def detect_format(
    columns: Sequence[str], sample_rows: Sequence[Mapping[str, Any]]
) -> FormatDetection:
    """Guess the format and field mapping from column names and sample rows.

    Columns fill fields by exact normalised name (case and punctuation ignored), never by
    substring. Among the formats whose required fields are all filled, the one whose sample
    rows convert best wins; ties go to the more specific format. A format that reads the same
    columns as another and more (prompt/completion with a label) wins over it whenever most of
    its rows convert, so a few bad labels are reported as bad rows rather than dropped unseen.

    Returns:
        A ``FormatDetection``; its ``format`` is ``None`` (with a note) when nothing fits.
    """
    candidates = []
    for order, fmt in enumerate(FORMAT_PRIORITY):
        mapping, aliased = _auto_mapping(fmt, columns)
        if not _complete(fmt, mapping) or not _shape_fits(fmt, mapping, sample_rows):
            continue
        share, first_problem = _convert_share(fmt, mapping, sample_rows)
        candidates.append((share, len(mapping), -order, fmt, mapping, aliased, first_problem))
    candidates = [c for c in candidates if not _covered(c, candidates)]
    if not candidates:
        return FormatDetection(
            format=None,
            confidence=0.0,
            notes=[
                f"No known format fits the columns {', '.join(columns) or '(none)'}. "
                "Choose a format and map its fields."
            ],
        )
    candidates.sort(reverse=True)
    share, _, _, fmt, mapping, aliased, first_problem = candidates[0]
    others = [c[3] for c in candidates[1:] if c[0] > 0]
    confidence = share * (0.9 if aliased else 1.0) * (0.85 if others else 1.0)
    notes = [f"Detected `{fmt}` from the column names; please review the mapping."]
    notes += [f"`{column}` fills `{field}`." for field, column in aliased.items()]
    unused = [c for c in columns if c not in mapping.values()]
    if unused:
        notes.append(f"Not used: {', '.join(unused)}.")
    if others:
        notes.append(f"Also fits: {', '.join(others)}.")
    if first_problem:
        notes.append(f"{1 - share:.0%} of the sampled rows do not convert, e.g. {first_problem}.")
    if fmt == "squad":
        notes.append(f'Unanswerable questions (no answers) get the reply "{SQUAD_NO_ANSWER}"')
    return FormatDetection(
        format=fmt,
        field_mapping=mapping,
        confidence=round(confidence, 3),
        notes=notes,
        task=format_task(fmt),
    )


def resolve_format(
    columns: Sequence[str],
    sample_rows: Sequence[Mapping[str, Any]],
    *,
    format: str = "auto",
    field_mapping: Mapping[str, str] | None = None,
) -> FormatDetection:
    """The format and complete field mapping to use: the person's choices, the rest detected.

    Args:
        columns: the dataset's column names.
        sample_rows: the first rows, to check shapes and break ties.
        format: ``"auto"`` or a format name; a name is used as given.
        field_mapping: format field -> column; fields left out are filled by column name.
            With ``format="auto"``, the format is the one whose fields the mapping names.

    Raises:
        DataError: no format fits, a mapped column does not exist, a mapping key is not a field
            of the format, or a required field has no column. Every problem is listed, with
            ``loc`` ``format`` or ``field_mapping.<field>``.
    """
    user_mapping = dict(field_mapping or {})
    if format == "auto" and not user_mapping:
        detection = detect_format(columns, sample_rows)
        if detection.format is None:
            raise DataError(
                detection.notes[0],
                fix="Set `format` and map fields, e.g. --format question_answer "
                "--map question=COLUMN --map answer=COLUMN.",
                problems=[FieldProblem(loc="format", message="no known format fits the columns")],
            )
        return detection
    if format == "auto":
        options = [f for f in FORMAT_PRIORITY if set(user_mapping) <= _field_names(f)]
        if not options:
            raise _unknown_fields_error(user_mapping, None)
        best = None
        for fmt in options:
            problems = _mapping_problems(fmt, columns, user_mapping)
            if not problems:
                return _user_detection(fmt, columns, sample_rows, user_mapping, chosen=False)
            if best is None or len(problems) < len(best[1]):
                best = (fmt, problems)
        assert best is not None
        raise _mapping_error(best[0], best[1])
    if format not in FORMAT_FIELDS:
        raise DataError(
            f"Unknown format {format!r}; formats are: {', '.join(FORMAT_FIELDS)}.",
            problems=[FieldProblem(loc="format", message="unknown format")],
        )
    unknown = set(user_mapping) - _field_names(format)
    if unknown:
        raise _unknown_fields_error({k: user_mapping[k] for k in unknown}, format)
    problems = _mapping_problems(format, columns, user_mapping)
    if problems:
        raise _mapping_error(format, problems)
    return _user_detection(format, columns, sample_rows, user_mapping, chosen=True)


# --- helpers -------------------------------------------------------------------------------


def _field_names(fmt: str) -> set[str]:
    return {f.name for f in FORMAT_FIELDS[fmt]}


def _auto_mapping(fmt: str, columns: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Field -> column by exact normalised name; also returns the fields filled by an alias."""
    by_name: dict[str, str] = {}
    for column in columns:
        by_name.setdefault(normalise_name(column), column)
    mapping: dict[str, str] = {}
    aliased: dict[str, str] = {}
    for spec in FORMAT_FIELDS[fmt]:
        for i, name in enumerate(spec.names):
            column = by_name.get(normalise_name(name))
            if column is not None and column not in mapping.values():
                mapping[spec.name] = column
                if i > 0 or normalise_name(column) != spec.name:
                    aliased[spec.name] = column
                break
    return mapping, aliased


def _covered(candidate, candidates) -> bool:
    """Whether another candidate maps the same fields to the same columns and more, and fits
    most rows."""
    mapping = candidate[4].items()
    return any(
        other[0] >= 0.5 and mapping < other[4].items()
        for other in candidates
        if other is not candidate
    )


def _complete(fmt: str, mapping: Mapping[str, str]) -> bool:
    return all(f.name in mapping for f in FORMAT_FIELDS[fmt] if f.required)


def _shape_fits(fmt: str, mapping: Mapping[str, str], rows: Sequence[Mapping[str, Any]]) -> bool:
    # ShareGPT ({from, value}) and OpenAI ({role, content}) lists share column names; the keys
    # of the first message tell them apart.
    if fmt not in ("conversations", "messages"):
        return True
    column = mapping[fmt]
    for row in rows:
        value = row.get(column)
        if isinstance(value, (list, tuple)) and value and isinstance(value[0], Mapping):
            keys = {k for k, v in value[0].items() if v is not None}
            if fmt == "conversations":
                return "from" in keys or "value" in keys
            return "role" in keys or "content" in keys
        if value is not None:
            return False
    # No rows to look at: trust the column name.
    return normalise_name(column) == fmt


def _convert_share(fmt: str, mapping: Mapping[str, str], rows: Sequence[Mapping[str, Any]]):
    if not rows:
        return 1.0, None
    good = 0
    first_problem = None
    for row in rows:
        try:
            convert_row(row, fmt, mapping)
            good += 1
        except RowError as exc:
            first_problem = first_problem or exc.message
    return good / len(rows), first_problem


def _mapping_problems(
    fmt: str, columns: Sequence[str], user_mapping: Mapping[str, str]
) -> list[FieldProblem]:
    problems = []
    listed = ", ".join(columns) or "(none)"
    for field, column in user_mapping.items():
        if column not in columns:
            problems.append(
                FieldProblem(
                    loc=f"field_mapping.{field}",
                    message=(
                        f"Column `{column}` (mapped to `{field}`) not found; columns are: {listed}."
                    ),
                )
            )
    mapping = _merged_mapping(fmt, columns, user_mapping)
    for spec in FORMAT_FIELDS[fmt]:
        if spec.required and spec.name not in mapping and spec.name not in user_mapping:
            problems.append(
                FieldProblem(
                    loc=f"field_mapping.{spec.name}",
                    message=(
                        f"Column `{spec.name}` not found; columns are: {listed}. "
                        f"Map one to `{spec.name}`."
                    ),
                    fix=f"--map {spec.name}=COLUMN",
                )
            )
    return problems


def _merged_mapping(fmt: str, columns: Sequence[str], user_mapping: Mapping[str, str]):
    # The person's columns are taken first, so the automatic pass cannot reuse them.
    free = [c for c in columns if c not in user_mapping.values()]
    auto, _ = _auto_mapping(fmt, free)
    return {**{k: v for k, v in auto.items() if k not in user_mapping}, **user_mapping}


def _user_detection(fmt, columns, rows, user_mapping, *, chosen: bool) -> FormatDetection:
    mapping = _merged_mapping(fmt, columns, user_mapping)
    share, first_problem = _convert_share(fmt, mapping, rows)
    auto_fields = [f for f in mapping if f not in user_mapping]
    notes = [f"Format `{fmt}` {'as chosen' if chosen else 'from the mapped fields'}."]
    if auto_fields:
        notes.append(f"Filled by column name: {', '.join(auto_fields)}.")
    if first_problem:
        notes.append(f"{1 - share:.0%} of the sampled rows do not convert, e.g. {first_problem}.")
    return FormatDetection(
        format=fmt,
        field_mapping=mapping,
        confidence=round(share, 3),
        notes=notes,
        detected=bool(auto_fields) or not chosen,
        task=format_task(fmt),
    )


def _unknown_fields_error(mapping: Mapping[str, str], fmt: str | None) -> DataError:
    if fmt is None:
        where = "any format"
        valid = sorted({f.name for specs in FORMAT_FIELDS.values() for f in specs})
    else:
        where = f"format `{fmt}`"
        valid = [f.name for f in FORMAT_FIELDS[fmt]]
    problems = [
        FieldProblem(
            loc=f"field_mapping.{field}",
            message=f"`{field}` is not a field of {where}; fields are: {', '.join(valid)}.",
        )
        for field in mapping
    ]
    return DataError(problems[0].message, problems=problems)


def _mapping_error(fmt: str, problems: list[FieldProblem]) -> DataError:
    message = (
        problems[0].message if len(problems) == 1 else f"The columns do not fit format `{fmt}`."
    )
    return DataError(message, problems=problems)
