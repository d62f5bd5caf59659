"""A dataset's preview: its first rows rendered as training will see them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from loralab.config import Settings
from loralab.data import PreviewSample, preview_samples
from loralab.errors import DataError, Unsupported
from loralab.services.dataset_validation import data_config, public_error
from loralab.store import Database
from loralab.store import datasets as store
from loralab.store.db import reading

__all__ = ["DatasetPreview", "preview_dataset"]


class DatasetPreview(BaseModel):
    """The first rows rendered as training will see them, trained-on text marked."""

    samples: list[PreviewSample]
    format: str | None
    field_mapping: dict[str, str]
    template: str = Field(description="Which chat template rendered the samples.")


def preview_dataset(
    db: Database,
    settings: Settings,
    dataset_id: str,
    *,
    n: int = 3,
    model: str | None = None,
    max_seq_length: int | None = None,
) -> DatasetPreview:
    """The first ``n`` usable rows rendered with ``model``'s chat template (ChatML without).

    Raises:
        NotFound: no such dataset or model.
        Unsupported: a hub dataset (its rows are read by jobs, not by the server).
        DataError: the format or mapping does not fit (422, with the fields to fix).
        ModelError: the model has no chat template or tokenizer.json.
    """
    with reading(db) as session:
        row = store.get_dataset(session, dataset_id)
    if row.kind == "hub":
        raise Unsupported(
            "Previews of hub datasets are not available yet; see the validation report.",
            code="preview_unavailable",
        )
    cfg = data_config(row, settings)
    template, tokenizer = None, None
    if model:
        from loralab.services.models import load_template_and_tokenizer

        template, tokenizer = load_template_and_tokenizer(db, model)
    try:
        samples = preview_samples(
            cfg, n=n, chat_template=template, tokenizer=tokenizer, max_seq_length=max_seq_length
        )
    except DataError as exc:
        raise public_error(exc, row, cfg) from None
    origin = samples[0].template if samples else ("ChatML" if template is None else "model")
    opened_format = cfg.format if cfg.format != "auto" else row.format
    return DatasetPreview(
        samples=samples,
        format=opened_format,
        field_mapping=dict(cfg.field_mapping or row.field_mapping or {}),
        template=origin,
    )
