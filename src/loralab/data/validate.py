"""The validation report of a dataset, built in one streaming pass with bounded memory.

Rows are never all held: duplicates are found by 64-bit content hashes, lengths are counted per
value (``LengthCounter``) for exact quantiles and a histogram, and the lists of problems are
capped while their counts are kept.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, Field

from loralab.config import DataConfig
from loralab.data.convert import check_role_order
from loralab.data.dataset import convert_record, open_dataset
from loralab.data.formats import FormatDetection
from loralab.data.records import RowIssue
from loralab.data.sources import source_fingerprint
from loralab.data.stats import LengthCounter, LengthStats
from loralab.data.templates import ChatTemplate, render_chat
from loralab.data.tokens import count_tokens
from loralab.errors import DataError

__all__ = ["ValidationReport", "conversation_texts", "validate_dataset"]

MAX_LISTED = 100  # problems listed per kind; the counts cover every row
_TOKEN_BATCH = 256


class ValidationReport(BaseModel):
    """What a dataset holds and what is wrong with it; JSON-serialisable for the store."""

    source: str
    kind: str
    split: str | None = None
    subset: str | None = None
    fingerprint: str
    format: str | None
    task: Literal["sft", "preference"] | None = None
    field_mapping: dict[str, str]
    detection: FormatDetection
    columns: list[str]
    total_rows: int
    valid_rows: int
    invalid_rows: int
    errors: list[RowIssue] = Field(
        default_factory=list, description=f"Invalid rows, the first {MAX_LISTED}."
    )
    errors_by_code: dict[str, int] = Field(default_factory=dict)
    empty_fields: dict[str, int] = Field(
        default_factory=dict, description="Rows whose mapped column is missing or empty."
    )
    duplicate_rows: int = 0
    duplicates: list[RowIssue] = Field(default_factory=list)
    role_order: dict[str, int] = Field(default_factory=dict)
    role_order_examples: list[RowIssue] = Field(default_factory=list)
    labels: dict[Literal["good", "bad"], int] | None = Field(
        default=None,
        description=(
            "Valid rows by label (unpaired_preference only): replies marked good and bad."
        ),
    )
    chars: LengthStats | None = None
    tokens: LengthStats | None = None
    max_seq_length: int
    truncated_rows: int | None = None
    truncated_share: float | None = None
    chat_template: str | None = Field(default=None, description="Where the template came from.")
    warnings: list[str] = Field(default_factory=list)


def validate_dataset(
    config: DataConfig,
    *,
    tokenizer: Any = None,
    chat_template: str | ChatTemplate | None = None,
    max_seq_length: int = 2048,
) -> ValidationReport:
    """Read the whole dataset once and report on it.

    Args:
        config: the data section of a run config (source, split, format, mapping, system
            prompt).
        tokenizer: a ``tokenizers.Tokenizer`` or transformers fast tokenizer; adds token
            lengths and the share of rows longer than ``max_seq_length``.
        chat_template: renders each row as training will see it (for token lengths, and to find
            rows the template rejects).
        max_seq_length: the training sequence limit.

    Returns:
        A ``ValidationReport``. Rows that cannot be read or converted are counted and listed
        (the first ``MAX_LISTED``) with their line and reason; they do not raise.

    Raises:
        NotFound, HubUnavailable: the source cannot be found or reached.
        DataError: the file is empty or unreadable as a whole, or its format cannot be resolved.
    """
    opened = open_dataset(config)
    detection = opened.detection
    acc = _Accumulator(detection, max_seq_length, tokenizer, chat_template)
    for record in opened.records:
        acc.total += 1
        if record.data is not None:
            acc.count_empty(record.data)
        row, issue = convert_record(record, detection, system_prompt=config.system_prompt)
        if row is None:
            acc.error(issue)
            continue
        acc.add(record.line, row)
    acc.flush_tokens()
    columns = list(opened.columns) + [c for c in acc.late_columns if c not in opened.columns]
    report = ValidationReport(
        source=config.source,
        kind=opened.kind,
        split=config.split if opened.kind in ("hub", "folder") else None,
        subset=config.subset,
        fingerprint=source_fingerprint(config.source, split=config.split, subset=config.subset),
        format=detection.format,
        task=detection.task,
        field_mapping=detection.field_mapping,
        detection=detection,
        columns=columns,
        total_rows=acc.total,
        valid_rows=acc.valid,
        invalid_rows=acc.total - acc.valid,
        errors=acc.errors,
        errors_by_code=dict(acc.errors_by_code),
        empty_fields=dict(acc.empty_fields),
        duplicate_rows=acc.duplicate_rows,
        duplicates=acc.duplicates,
        role_order=dict(acc.role_order),
        role_order_examples=acc.role_examples,
        labels=(
            {"good": acc.labels[True], "bad": acc.labels[False]}
            if detection.format == "unpaired_preference"
            else None
        ),
        chars=acc.chars.stats(),
        tokens=acc.tokens.stats(upper=max_seq_length) if tokenizer is not None else None,
        max_seq_length=max_seq_length,
        truncated_rows=acc.truncated if tokenizer is not None else None,
        truncated_share=(
            round(acc.truncated / acc.valid, 4) if tokenizer is not None and acc.valid else None
        ),
        chat_template=_template_origin(chat_template),
    )
    report.warnings = _warnings(report, tokenizer, chat_template)
    return report


def conversation_texts(row: dict[str, Any], chat_template: str | ChatTemplate | None) -> list[str]:
    """The texts training sees for a canonical row: one conversation (SFT), or prompt + chosen
    and prompt + rejected (preference). Without a template, the contents joined by newlines.

    Raises:
        DataError: the template rejects the row (code ``template_error``).
    """
    if "messages" in row:
        conversations = [row["messages"]]
    else:
        conversations = [row["prompt"] + row["chosen"], row["prompt"] + row["rejected"]]
    if chat_template is None:
        return ["\n".join(m["content"] for m in c) for c in conversations]
    return [render_chat(chat_template, c) for c in conversations]


class _Accumulator:
    def __init__(self, detection: FormatDetection, max_seq_length, tokenizer, chat_template):
        self.detection = detection
        self.max_seq_length = max_seq_length
        self.tokenizer = tokenizer
        self.chat_template = chat_template
        self.total = 0
        self.valid = 0
        self.errors: list[RowIssue] = []
        self.errors_by_code: Counter[str] = Counter()
        self.empty_fields: Counter[str] = Counter({c: 0 for c in detection.field_mapping.values()})
        self.late_columns: dict[str, None] = {}
        self.seen: dict[int, int] = {}  # content hash -> first line
        self.duplicate_rows = 0
        self.duplicates: list[RowIssue] = []
        self.role_order: Counter[str] = Counter()
        self.role_examples: list[RowIssue] = []
        self.labels: Counter[bool] = Counter()
        self.chars = LengthCounter()
        self.tokens = LengthCounter()
        self.truncated = 0
        self.pending: list[list[str]] = []

    def error(self, issue: RowIssue | None) -> None:
        assert issue is not None
        self.errors_by_code[issue.code] += 1
        if len(self.errors) < MAX_LISTED:
            self.errors.append(issue)

    def count_empty(self, data: dict[str, Any]) -> None:
        for column in self.empty_fields:
            if _is_empty(data.get(column)):
                self.empty_fields[column] += 1
        if len(self.late_columns) < 1000:
            for column in data:
                self.late_columns.setdefault(column, None)

    def add(self, line: int, row: dict[str, Any]) -> None:
        texts = None
        if self.tokenizer is not None or self.chat_template is not None:
            try:
                texts = conversation_texts(row, self.chat_template)
            except DataError as exc:
                self.error(RowIssue(line=line, code="template_error", message=exc.message))
                return
        self.valid += 1
        self._check_duplicate(line, row)
        if "label" in row:
            self.labels[row["label"]] += 1
        messages = row.get("messages") or row["prompt"] + row["chosen"]
        if "messages" in row:
            for code, message in check_role_order(messages):
                self.role_order[code] += 1
                if len(self.role_examples) < MAX_LISTED:
                    self.role_examples.append(RowIssue(line=line, code=code, message=message))
        chars = sum(len(m["content"]) for m in messages)
        if "rejected" in row:
            chars = max(chars, chars - _chars(row["chosen"]) + _chars(row["rejected"]))
        self.chars.add(chars)
        if self.tokenizer is not None and texts is not None:
            self.pending.append(texts)
            if len(self.pending) >= _TOKEN_BATCH:
                self.flush_tokens()

    def _check_duplicate(self, line: int, row: dict[str, Any]) -> None:
        blob = json.dumps(row, sort_keys=True, ensure_ascii=False).encode()
        key = int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "little")
        first = self.seen.setdefault(key, line)
        if first != line:
            self.duplicate_rows += 1
            if len(self.duplicates) < MAX_LISTED:
                self.duplicates.append(
                    RowIssue(line=line, code="duplicate", message=f"same content as line {first}")
                )

    def flush_tokens(self) -> None:
        if not self.pending:
            return
        flat = [t for texts in self.pending for t in texts]
        counts = iter(count_tokens(self.tokenizer, flat))
        for texts in self.pending:
            length = max(next(counts) for _ in texts)
            self.tokens.add(length)
            self.truncated += length > self.max_seq_length
        self.pending = []


def _chars(messages: list[dict[str, str]]) -> int:
    return sum(len(m["content"]) for m in messages)


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, dict)):
        return not value
    return False


def _template_origin(chat_template: str | ChatTemplate | None) -> str | None:
    if chat_template is None:
        return None
    return chat_template.origin if isinstance(chat_template, ChatTemplate) else "given"


def _warnings(report: ValidationReport, tokenizer, chat_template) -> list[str]:
    out = []
    if report.detection.detected:
        out.append("The format and field mapping were detected automatically; please review them.")
    if report.valid_rows == 0:
        out.append("No row is valid; nothing can be trained on.")
    elif report.invalid_rows:
        out.append(
            f"{report.invalid_rows} of {report.total_rows} rows are invalid and will be skipped."
        )
    if report.duplicate_rows:
        n = report.duplicate_rows
        out.append(f"{n} {'row repeats' if n == 1 else 'rows repeat'} an earlier row.")
    if report.truncated_rows:
        out.append(
            f"{report.truncated_share:.1%} of the rows are longer than {report.max_seq_length} "
            "tokens and will be truncated."
        )
    if report.labels and report.valid_rows:
        missing = [name for name, n in report.labels.items() if n == 0]
        if missing:
            other = "bad" if missing[0] == "good" else "good"
            out.append(
                f"No valid row is labelled {missing[0]}: KTO would only learn from {other} "
                "replies, with no contrast between the two."
            )
    if tokenizer is not None and chat_template is None:
        out.append("Token lengths leave out the chat template's tokens (no template given).")
    return out
