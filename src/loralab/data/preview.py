"""Rendered samples of a dataset with the trained-on text marked, as training will see them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from loralab.config import DataConfig
from loralab.data.convert import split_reply
from loralab.data.dataset import convert_record, open_dataset
from loralab.data.templates import DEFAULT_CHAT_TEMPLATE, ChatTemplate, render_with_spans
from loralab.data.tokens import tokenize_with_mask
from loralab.errors import DataError

__all__ = ["PreviewSample", "Segment", "preview_samples"]


class Segment(BaseModel):
    """A piece of the rendered text; ``trained`` when the loss is computed on it."""

    text: str
    trained: bool


class PreviewSample(BaseModel):
    """One row: its line, canonical form, rendering in segments and, with a tokenizer, tokens.

    For preference pairs, ``segments`` render prompt + chosen and ``rejected_segments`` prompt +
    rejected; the replies are the trained parts. For unpaired preference rows (KTO), ``label``
    says whether the reply is a good (true) or a bad (false) example, and only the reply is
    marked trained.
    """

    line: int
    row: dict[str, Any]
    text: str
    segments: list[Segment]
    rejected_segments: list[Segment] | None = None
    label: bool | None = None
    num_tokens: int | None = None
    num_trained_tokens: int | None = None
    truncated: bool | None = None
    template: str


def preview_samples(
    config: DataConfig,
    *,
    n: int = 3,
    chat_template: str | ChatTemplate | None = None,
    tokenizer: Any = None,
    max_seq_length: int | None = None,
) -> list[PreviewSample]:
    """The first ``n`` valid rows, rendered with the chat template (ChatML when none is given).

    Reads only as far as it needs, so it is quick on large files.

    Args:
        config: the data section of a run config.
        n: how many rows.
        chat_template: the model's template; ``None`` renders ChatML.
        tokenizer: adds token counts (all and trained) and, with ``max_seq_length``, whether
            the row will be truncated.

    Raises:
        The errors of ``open_dataset``.
    """
    template = chat_template if chat_template is not None else DEFAULT_CHAT_TEMPLATE
    origin = _origin(chat_template)
    opened = open_dataset(config)
    samples: list[PreviewSample] = []
    for record in opened.records:
        if len(samples) >= n:
            break
        row, _ = convert_record(record, opened.detection, system_prompt=config.system_prompt)
        if row is None:
            continue
        try:
            samples.append(_sample(record.line, row, template, origin, tokenizer, max_seq_length))
        except DataError:
            continue  # the template rejects this row; the validation report lists it
    return samples


def _sample(line, row, template, origin, tokenizer, max_seq_length) -> PreviewSample:
    label = row.get("label")
    if "messages" in row:
        # An unpaired preference row trains on its final reply only, as KTO does.
        start = len(split_reply(row["messages"])[0]) if label is not None else 0
        text, spans = render_with_spans(template, row["messages"], train_from_message=start)
        rejected = None
    else:
        prompt = row["prompt"]
        text, spans = render_with_spans(
            template, prompt + row["chosen"], train_from_message=len(prompt)
        )
        rejected_text, rejected_spans = render_with_spans(
            template, prompt + row["rejected"], train_from_message=len(prompt)
        )
        rejected = _segments(rejected_text, rejected_spans)
    sample = PreviewSample(
        line=line,
        row=row,
        text=text,
        segments=_segments(text, spans),
        rejected_segments=rejected,
        label=label,
        template=origin,
    )
    if tokenizer is not None:
        ids, mask = tokenize_with_mask(tokenizer, text, spans)
        sample.num_tokens = len(ids)
        sample.num_trained_tokens = sum(mask if max_seq_length is None else mask[:max_seq_length])
        if max_seq_length is not None:
            sample.truncated = len(ids) > max_seq_length
    return sample


def _segments(text: str, spans: list[tuple[int, int]]) -> list[Segment]:
    out = []
    at = 0
    for start, end in spans:
        if start > at:
            out.append(Segment(text=text[at:start], trained=False))
        out.append(Segment(text=text[start:end], trained=True))
        at = end
    if at < len(text):
        out.append(Segment(text=text[at:], trained=False))
    return out


def _origin(chat_template: str | ChatTemplate | None) -> str:
    if chat_template is None:
        return "ChatML (no model chosen)"
    return chat_template.origin if isinstance(chat_template, ChatTemplate) else "given"
