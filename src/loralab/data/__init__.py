"""Datasets: sources, format detection and mapping, canonical rows, chat templates, validation.

Importing this package never imports torch, transformers or datasets: the web server uses it to
detect formats, validate uploads and preview samples. Hub datasets load ``datasets`` when read.
"""

from loralab.data.convert import SQUAD_NO_ANSWER, check_role_order, convert_row, split_reply
from loralab.data.dataset import OpenedDataset, convert_record, open_dataset
from loralab.data.encodings import binary_kind
from loralab.data.fields import FORMAT_FIELDS, FieldSpec, format_task
from loralab.data.formats import FormatDetection, detect_format, format_fields, resolve_format
from loralab.data.loading import LoadedConversations, load_conversations
from loralab.data.preview import PreviewSample, Segment, preview_samples
from loralab.data.records import Record, RowError, RowIssue
from loralab.data.sources import (
    LOCAL_SUFFIXES,
    is_local_source,
    iter_records,
    source_fingerprint,
    source_kind,
)
from loralab.data.stats import HistogramBin, LengthStats
from loralab.data.templates import (
    DEFAULT_CHAT_TEMPLATE,
    ChatTemplate,
    load_chat_template,
    render_chat,
    render_with_spans,
)
from loralab.data.tokens import (
    count_tokens,
    load_light_tokenizer,
    tokenize_many_as_arrays,
    tokenize_many_with_mask,
    tokenize_with_mask,
)
from loralab.data.validate import ValidationReport, conversation_texts, validate_dataset

__all__ = [
    "binary_kind",
    "DEFAULT_CHAT_TEMPLATE",
    "FORMAT_FIELDS",
    "LOCAL_SUFFIXES",
    "SQUAD_NO_ANSWER",
    "ChatTemplate",
    "FieldSpec",
    "FormatDetection",
    "HistogramBin",
    "LengthStats",
    "LoadedConversations",
    "OpenedDataset",
    "PreviewSample",
    "Record",
    "RowError",
    "RowIssue",
    "Segment",
    "ValidationReport",
    "check_role_order",
    "conversation_texts",
    "convert_record",
    "convert_row",
    "count_tokens",
    "detect_format",
    "format_fields",
    "format_task",
    "is_local_source",
    "iter_records",
    "load_chat_template",
    "load_conversations",
    "load_light_tokenizer",
    "open_dataset",
    "preview_samples",
    "render_chat",
    "render_with_spans",
    "resolve_format",
    "source_fingerprint",
    "source_kind",
    "split_reply",
    "tokenize_many_as_arrays",
    "tokenize_many_with_mask",
    "tokenize_with_mask",
    "validate_dataset",
]
