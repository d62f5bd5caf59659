"""Load canonical rows for training: invalid rows skipped, shuffled, capped, split for eval."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from loralab.config import DataConfig
from loralab.data.dataset import convert_record, open_dataset
from loralab.data.formats import FormatDetection
from loralab.data.records import RowIssue
from loralab.data.sources import source_kind
from loralab.errors import DataError, FieldProblem, NotFound

__all__ = ["LoadedConversations", "load_conversations"]

_KEPT_ISSUES = 20


class LoadedConversations(tuple):
    """``(train_rows, eval_rows)``, unpackable as a pair, that also says what was left out.

    Attributes:
        train, eval: lists of canonical rows.
        skipped: invalid rows left out (train and eval sources together).
        issues: the first of those rows' problems, with their lines.
        detection: the resolved format and mapping of the training source.
    """

    train: list[dict[str, Any]]
    eval: list[dict[str, Any]]
    skipped: int
    issues: list[RowIssue]
    detection: FormatDetection

    def __new__(cls, train, eval, *, skipped, issues, detection):
        self = super().__new__(cls, (train, eval))
        self.train = train
        self.eval = eval
        self.skipped = skipped
        self.issues = issues
        self.detection = detection
        return self


def load_conversations(config: DataConfig, *, seed: int = 42) -> LoadedConversations:
    """Read every valid row of ``config.source`` as a canonical row, ready for a trainer.

    SFT formats give ``{"messages": [...]}`` rows, the preference format
    ``{"prompt", "chosen", "rejected"}`` rows (see ``convert_row``). Invalid rows are skipped
    and counted. The rows are shuffled with ``seed``; ``max_samples`` keeps the first ones.
    Evaluation rows come from ``eval_split`` when set (a split name for hub datasets and
    folders, a file path for a local file), else ``eval_fraction`` of the kept rows.

    Returns:
        ``LoadedConversations``: unpacks as ``train_rows, eval_rows``; ``.skipped`` and
        ``.issues`` tell what was left out.

    Raises:
        NotFound: the source or the eval file does not exist.
        DataError: no valid row, too few rows for the eval share, or any error of
            ``open_dataset``.
    """
    rows, skipped, issues, detection = _read(config)
    if not rows:
        raise DataError(
            f"{config.source} has no valid rows ({skipped} invalid).",
            fix="Run `loralab data inspect` on it to see the problems.",
            problems=[i.to_problem() for i in issues[:10]],
        )
    random.Random(seed).shuffle(rows)
    if config.max_samples is not None:
        rows = rows[: config.max_samples]
    eval_rows: list[dict[str, Any]] = []
    if config.eval_split:
        source, split = _eval_source(config)
        eval_rows, eval_skipped, eval_issues, _ = _read(config, source=source, split=split)
        skipped += eval_skipped
        issues += eval_issues[: max(0, _KEPT_ISSUES - len(issues))]
    elif config.eval_fraction > 0:
        n_eval = max(1, round(len(rows) * config.eval_fraction))
        if n_eval >= len(rows):
            raise DataError(
                f"{len(rows)} rows are too few to hold out {config.eval_fraction:.0%} for eval.",
                problems=[FieldProblem(loc="data.eval_fraction", message="too few rows")],
            )
        eval_rows, rows = rows[:n_eval], rows[n_eval:]
    return LoadedConversations(rows, eval_rows, skipped=skipped, issues=issues, detection=detection)


def _read(config: DataConfig, *, source: str | None = None, split: str | None = None):
    opened = open_dataset(config, source=source, split=split)
    rows = []
    skipped = 0
    issues: list[RowIssue] = []
    for record in opened.records:
        row, issue = convert_record(record, opened.detection, system_prompt=config.system_prompt)
        if row is None:
            skipped += 1
            if issue is not None and len(issues) < _KEPT_ISSUES:
                issues.append(issue)
            continue
        rows.append(row)
    return rows, skipped, issues, opened.detection


def _eval_source(config: DataConfig) -> tuple[str, str | None]:
    eval_split = config.eval_split
    assert eval_split is not None
    if source_kind(config.source) in ("hub", "folder"):
        return config.source, eval_split
    # A local training file takes a file for eval: as given, or beside the training file.
    for candidate in (Path(eval_split).expanduser(), Path(config.source).parent / eval_split):
        if candidate.is_file():
            return str(candidate), None
    raise NotFound(
        f"Eval file {eval_split} does not exist.",
        fix="Set `eval_split` to a file path, or use `eval_fraction`.",
        problems=[FieldProblem(loc="data.eval_split", message="no such file")],
    )
