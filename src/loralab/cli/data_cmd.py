"""``loralab data inspect``: the validation report and rendered samples of a dataset."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from loralab.config import DATA_FORMATS, DataConfig
from loralab.data import (
    LengthStats,
    PreviewSample,
    Segment,
    ValidationReport,
    load_chat_template,
    load_light_tokenizer,
    preview_samples,
    validate_dataset,
)
from loralab.errors import ConfigError, FieldProblem

app = typer.Typer(no_args_is_help=True)
console = Console()


@app.command("inspect")
def inspect(
    source: str = typer.Argument(..., help="A .json, .jsonl, .csv or .parquet file, or a hub id."),
    model: Path | None = typer.Option(
        None, "--model", help="A model folder: its chat template and tokenizer give token counts."
    ),
    format: str = typer.Option("auto", "--format", help=f"One of: {', '.join(DATA_FORMATS)}."),
    mapping: list[str] = typer.Option(
        [], "--map", help="Fill a field from a column: FIELD=COLUMN (repeatable)."
    ),
    system_prompt: str | None = typer.Option(
        None, "--system-prompt", help="Put first in every row."
    ),
    max_seq_length: int = typer.Option(2048, "--max-seq-length", min=1, help="Training limit."),
    samples: int = typer.Option(3, "-n", "--samples", min=0, help="Rendered samples to show."),
    split: str = typer.Option("train", "--split", help="The split (hub datasets, folders)."),
    subset: str | None = typer.Option(None, "--subset", help="The hub dataset's subset."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON instead."),
) -> None:
    """Validate a dataset: format, mapping, problems by line, lengths, and rendered samples."""
    config = _data_config(source, format, mapping, system_prompt, split, subset)
    template = tokenizer = None
    if model is not None:
        template = load_chat_template(model)
        tokenizer = load_light_tokenizer(model)
    report = validate_dataset(
        config, tokenizer=tokenizer, chat_template=template, max_seq_length=max_seq_length
    )
    previews = (
        preview_samples(
            config,
            n=samples,
            chat_template=template,
            tokenizer=tokenizer,
            max_seq_length=max_seq_length,
        )
        if samples and report.valid_rows
        else []
    )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print_report(report)
        for sample in previews:
            _print_sample(sample)
    if not report.valid_rows:
        # Nothing here could be trained on: scripts must see a failure, not a report alone.
        raise typer.Exit(1)


def _data_config(source, format, mapping, system_prompt, split, subset) -> DataConfig:
    field_mapping = {}
    problems = []
    for item in mapping:
        field, sep, column = item.partition("=")
        if not sep or not field.strip() or not column.strip():
            problems.append(FieldProblem(loc="--map", message=f"{item!r} is not FIELD=COLUMN"))
            continue
        field_mapping[field.strip()] = column.strip()
    if problems:
        raise ConfigError("Invalid --map.", problems=problems)
    try:
        return DataConfig(
            source=source,
            format=format,
            field_mapping=field_mapping,
            system_prompt=system_prompt,
            split=split,
            subset=subset,
        )
    except ValidationError as exc:
        raise ConfigError(
            "Invalid data options.",
            problems=[
                FieldProblem(loc=".".join(map(str, e["loc"])), message=e["msg"])
                for e in exc.errors()
            ],
        ) from exc


def _print_report(report: ValidationReport) -> None:
    # Every text from the file (column names, values quoted in messages) is escaped: a column
    # called "[/x]" is rich markup otherwise, and printing it would raise.
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_row("source", escape(f"{report.source} ({report.kind})"))
    detection = report.detection
    how = "auto-detected, please review" if detection.detected else "as given"
    summary.add_row("format", f"{report.format} ({how}; confidence {detection.confidence:.0%})")
    summary.add_row("columns", escape(", ".join(report.columns)))
    summary.add_row(
        "rows",
        f"{report.total_rows} total, [green]{report.valid_rows} valid[/], "
        f"[{'red' if report.invalid_rows else 'green'}]{report.invalid_rows} invalid[/], "
        f"{report.duplicate_rows} duplicates",
    )
    if report.labels is not None:
        good, bad = report.labels["good"], report.labels["bad"]
        summary.add_row("labels", f"[green]{good} good[/], [red]{bad} bad[/]")
    summary.add_row("fingerprint", report.fingerprint)
    if report.chat_template:
        summary.add_row("chat template", escape(report.chat_template))
    console.print(Panel(summary, title="Dataset", expand=False))

    mapping = Table(title="Field mapping", title_justify="left")
    mapping.add_column("field")
    mapping.add_column("column")
    mapping.add_column("empty rows", justify="right")
    for field, column in report.field_mapping.items():
        mapping.add_row(escape(field), escape(column), str(report.empty_fields.get(column, 0)))
    console.print(mapping)
    for note in detection.notes:
        console.print(f"  [dim]{escape(note)}[/]", highlight=False)

    if report.errors:
        errors = Table(title="Invalid rows", title_justify="left")
        errors.add_column("line", justify="right")
        errors.add_column("field")
        errors.add_column("problem")
        for issue in report.errors[:20]:
            errors.add_row(
                str(issue.line),
                escape(issue.loc or ""),
                f"[red]{escape(issue.code)}[/] {escape(issue.message)}",
            )
        console.print(errors)
        if report.invalid_rows > 20:
            console.print(f"  [dim]... {report.invalid_rows - 20} more[/]")
        by_code = escape(", ".join(f"{code}: {n}" for code, n in report.errors_by_code.items()))
        console.print(f"  by reason: {by_code}", highlight=False)
    if report.role_order:
        orders = escape(", ".join(f"{code}: {n}" for code, n in report.role_order.items()))
        console.print(f"Role order: {orders}", highlight=False)

    lengths = Table(title="Lengths", title_justify="left")
    for name in ("", "rows", "min", "p50", "p95", "max", "mean"):
        lengths.add_column(name, justify="right" if name else "left")
    for name, stats in (("characters", report.chars), ("tokens", report.tokens)):
        if stats is not None:
            lengths.add_row(name, *_stat_cells(stats))
    if lengths.row_count:
        console.print(lengths)
    if report.tokens is not None:
        console.print(_histogram(report.tokens, report.max_seq_length))
        console.print(
            f"  {report.truncated_rows} rows ({report.truncated_share:.1%}) are longer than "
            f"{report.max_seq_length} tokens.",
            highlight=False,
        )
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)


def _stat_cells(stats: LengthStats) -> list[str]:
    return [str(stats.count), str(stats.min), str(stats.p50), str(stats.p95), str(stats.max)] + [
        f"{stats.mean:.0f}"
    ]


def _histogram(stats: LengthStats, limit: int) -> Table:
    table = Table(title="Token lengths", title_justify="left", box=None)
    table.add_column("tokens", justify="right")
    table.add_column("rows", justify="right")
    table.add_column("")
    top = max((b.count for b in stats.histogram), default=1) or 1
    for b in stats.histogram:
        style = "red" if b.start >= limit else "cyan"
        bar = Text("█" * max(1 if b.count else 0, round(30 * b.count / top)), style=style)
        table.add_row(f"{b.start}-{b.end - 1}", str(b.count), bar)
    return table


def _print_sample(sample: PreviewSample) -> None:
    body = _segments_text(sample.segments)
    if sample.rejected_segments is not None:
        body.append("\n── rejected ──\n", style="dim")
        body.append_text(_segments_text(sample.rejected_segments, style="bold red"))
    title = f"line {sample.line}"
    if sample.label is not None:
        title += " · [green]good[/]" if sample.label else " · [red]bad[/]"
    if sample.num_tokens is not None:
        title += f" · {sample.num_tokens} tokens, {sample.num_trained_tokens} trained"
        if sample.truncated:
            title += " (truncated)"
    console.print(Panel(body, title=title, subtitle="[bold green]trained[/] · [dim]not trained[/]"))


def _segments_text(segments: list[Segment], style: str = "bold green") -> Text:
    text = Text()
    for segment in segments:
        text.append(segment.text, style=style if segment.trained else "dim")
    return text
