"""``loralab rewards list | test``: the reward presets, and trying rewards before a GRPO run."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from loralab.config import Markers, RewardSpec, Settings
from loralab.errors import InvalidRequest
from loralab.rewards import PRESETS, Sample, score_samples
from loralab.services.rewards import MAX_ROWS, file_samples

app = typer.Typer(no_args_is_help=True)
console = Console()


def _range(preset) -> str:
    if preset.score_range is None:
        return "any"
    low, high = preset.score_range
    return f"{low:g}..{high:g}"


@app.command("list")
def list_rewards(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the reward presets with their score ranges."""
    if as_json:
        rows = [
            {
                "name": p.name,
                "title": p.title,
                "description": p.description,
                "score_range": p.score_range,
                "params_schema": p.params.model_json_schema(),
            }
            for p in PRESETS.values()
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Reward presets")
    table.add_column("name", no_wrap=True)
    table.add_column("range", no_wrap=True)
    table.add_column("what it scores")
    for p in PRESETS.values():
        table.add_row(p.name, _range(p), p.description)
    console.print(table)


def _parse_rewards(rewards: list[str], params: list[str]) -> list[RewardSpec]:
    specs: list[dict] = []
    for item in rewards:
        name, _, weight = item.partition(":")
        try:
            specs.append({"name": name, "weight": float(weight) if weight else 1.0, "params": {}})
        except ValueError:
            raise InvalidRequest(
                f"--reward {item!r}: the weight after ':' must be a number.",
                fix="Write --reward NAME or --reward NAME:WEIGHT, e.g. math_answer:2.",
            ) from None
    for item in params:
        key, sep, raw = item.partition("=")
        if not sep or not key or not specs:
            raise InvalidRequest(
                f"--param {item!r} must be KEY=VALUE after a --reward.",
                fix="e.g. --reward length --param target=120",
            )
        target = specs[-1]
        name, dot, rest = key.partition(".")
        if dot and any(s["name"] == name for s in specs):
            target = next(s for s in specs if s["name"] == name)
            key = rest
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        target["params"][key] = value
    return [RewardSpec.model_validate(s) for s in specs]


@app.command("test")
def test_rewards(
    reward: list[str] = typer.Option(
        ..., "--reward", "-r", help="A preset, with an optional weight: NAME[:WEIGHT]. Repeat."
    ),
    param: list[str] = typer.Option(
        [],
        "--param",
        "-p",
        help="KEY=VALUE for the last --reward (NAME.KEY=VALUE for another); JSON values.",
    ),
    completion: str | None = typer.Option(None, "--completion", "-c", help="Text to score."),
    prompt: str = typer.Option("", "--prompt", help="The prompt of the typed completion."),
    answer: str | None = typer.Option(None, "--answer", help="Its `answer` column."),
    dataset: str | None = typer.Option(
        None,
        "--dataset",
        help="A dataset file: score its first rows (their own answers "
        "unless --completion is given).",
    ),
    rows: int = typer.Option(5, "--rows", min=1, max=MAX_ROWS, help="How many dataset rows."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Score a completion (or a dataset's first rows) with rewards, as GRPO would."""
    specs = _parse_rewards(reward, param)
    if completion is None and dataset is None:
        raise InvalidRequest("Give --completion, --dataset, or both.")
    if dataset:
        samples = file_samples(dataset, rows=rows, completion=completion)
    else:
        row = {} if answer is None else {"answer": answer}
        samples = [Sample(prompt=prompt, completion=completion or "", row=row)]
    allow = Settings().allow_custom_rewards
    scored = score_samples(specs, Markers(), samples, allow_custom=allow)
    if as_json:
        out = [
            {"prompt": s.prompt, "completion": s.completion, **r}
            for s, r in zip(samples, scored, strict=True)
        ]
        typer.echo(json.dumps(out, indent=2))
        return
    labels = list(scored[0]["scores"]) if scored else []
    table = Table(title="Reward scores")
    table.add_column("#", justify="right")
    table.add_column("completion", overflow="fold", max_width=48)
    for label in labels:
        table.add_column(label, justify="right")
    table.add_column("total", justify="right", style="bold")
    for i, (s, r) in enumerate(zip(samples, scored, strict=True), 1):
        text = s.completion if len(s.completion) <= 120 else s.completion[:117] + "..."
        table.add_row(str(i), text, *(f"{r['scores'][k]:g}" for k in labels), f"{r['total']:g}")
    console.print(table)
