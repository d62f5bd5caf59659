"""Hugging Face hub datasets (and local dataset folders) through ``datasets.load_dataset``.

``datasets`` is imported here, inside the functions, and nowhere else in ``loralab.data``: the
web server imports this package and must never import the ML stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from loralab.data.records import Record
from loralab.errors import DataError, FieldProblem, HubUnavailable, NotFound, Unsupported

__all__ = ["iter_hub_records"]


def iter_hub_records(source: str, *, split: str = "train", subset: str | None = None):
    """Stream a hub dataset (or a local dataset folder) as ``Record(row_number, row)``.

    The dataset is opened with ``streaming=True``; when the hub cannot be reached, a copy in
    the local ``datasets`` cache is used instead.

    Raises:
        HubUnavailable: not cached, and the hub cannot be reached.
        NotFound: no such dataset on the hub (or it is gated or private), or an empty folder.
        DataError: an unknown split or subset (the message lists the ones there are).
        Unsupported: the ``datasets`` package is not installed.
    """
    dataset = _open(source, split=split, subset=subset)
    return _iterate(dataset, source)


def _iterate(dataset: Any, source: str) -> Iterator[Record]:
    number = 0
    try:
        for row in dataset:
            number += 1
            yield Record(number, dict(row))
    except ConnectionError as exc:
        raise _unavailable(source) from exc
    except OSError as exc:
        raise DataError(f"{source}: reading stopped after row {number}: {exc}") from exc


def _open(source: str, *, split: str, subset: str | None) -> Any:
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets is a dependency
        raise Unsupported(
            "Reading hub datasets needs the `datasets` package.", fix="pip install datasets"
        ) from exc
    from datasets.exceptions import DatasetNotFoundError

    try:
        try:
            return datasets.load_dataset(source, name=subset, split=split, streaming=True)
        except ConnectionError:
            # Streaming needs the hub; a dataset downloaded before is read from the cache.
            return datasets.load_dataset(source, name=subset, split=split)
    except ConnectionError as exc:
        raise _unavailable(source) from exc
    except DatasetNotFoundError as exc:
        raise NotFound(
            f"Dataset {source} was not found on the hub.",
            fix="Check the id; for a gated or private dataset, log in with a token.",
            problems=[FieldProblem(loc="source", message=str(exc))],
        ) from exc
    except FileNotFoundError as exc:
        raise NotFound(
            f"No data files found in {source}.",
            problems=[FieldProblem(loc="source", message=str(exc))],
        ) from exc
    except ValueError as exc:
        raise _choice_error(source, str(exc), split=split, subset=subset) from exc


def _unavailable(source: str) -> HubUnavailable:
    return HubUnavailable(
        f"Dataset {source} is not in the local cache and the hub cannot be reached; "
        "download it or upload the file.",
        fix="Upload the data as a .jsonl, .csv or .parquet file, or connect to the hub once.",
        problems=[FieldProblem(loc="source", message="hub unreachable, not cached")],
    )


def _choice_error(source: str, text: str, *, split: str, subset: str | None) -> DataError:
    # datasets says "Bad split: x. Available splits: [...]" or "BuilderConfig 'x' not found.
    # Available: [...]"; the lists are what a person needs to fix the choice.
    available = re.search(r"Available(?: splits)?: (\[.*?\])", text)
    options = available.group(1) if available else ""
    if "split" in text.lower():
        return DataError(
            f"Dataset {source} has no split {split!r}. Splits: {options}",
            problems=[FieldProblem(loc="split", message=f"unknown split {split!r}")],
        )
    if "config" in text.lower() or "subset" in text.lower():
        return DataError(
            f"Dataset {source} has no subset {subset!r}. Subsets: {options}",
            fix="Set `subset` to one of them.",
            problems=[FieldProblem(loc="subset", message=text)],
        )
    return DataError(f"Cannot open dataset {source}: {text}")
