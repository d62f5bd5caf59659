"""The Hugging Face hub as the server sees it: is a dataset there, and which files are cached.

Torch-free: only ``huggingface_hub`` (imported inside the functions) is used, never ``datasets``.
"""

from __future__ import annotations

from pathlib import Path

from loralab.errors import HubUnavailable, LoralabError
from loralab.jobs.refs import HUB_ID_PATTERN, SPLIT_PATTERN
from loralab.models import hub_is_offline

__all__ = ["HUB_ID_PATTERN", "SPLIT_PATTERN", "cached_snapshot", "check_dataset"]

# Defined once, beside the reference resolution that uses them: a hub id ("owner/name") and a
# split name or slice ("train[:10%]"), never a path.
_TIMEOUT = 10.0


def _cache_root() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _repo_folder(repo_id: str, repo_type: str) -> Path:
    return _cache_root() / f"{repo_type}s--{repo_id.replace('/', '--')}"


def _unavailable(what: str) -> HubUnavailable:
    return HubUnavailable(
        f"The Hugging Face hub cannot be reached, and {what} is not in the local cache.",
        fix="Connect this machine to the internet (and unset HF_HUB_OFFLINE), or upload the "
        "data as a file instead.",
    )


def check_dataset(hub_id: str) -> None:
    """Make sure the hub has ``hub_id`` (or that it is cached for offline use).

    Raises:
        HubUnavailable: the hub cannot be reached and the dataset is not cached (503).
        LoralabError: the hub has no such dataset, or it is private (422
            ``hub_dataset_not_found``).
    """
    if _repo_folder(hub_id, "dataset").is_dir():
        return
    if hub_is_offline():
        raise _unavailable(f"dataset {hub_id}")
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HFValidationError, RepositoryNotFoundError

    try:
        HfApi().dataset_info(hub_id, timeout=_TIMEOUT)
    except (RepositoryNotFoundError, HFValidationError):
        raise LoralabError(
            f"The hub has no dataset '{hub_id}' (or it is private).",
            code="hub_dataset_not_found",
            status=422,
            fix="Check the id on huggingface.co; for a private dataset, set HF_TOKEN.",
        ) from None
    except Exception:  # network errors, timeouts, 5xx: all mean "not reachable now"
        raise _unavailable(f"dataset {hub_id}") from None


def cached_snapshot(repo_id: str, filename: str = "config.json") -> Path | None:
    """The cached snapshot folder of model ``repo_id`` that holds ``filename``, or None."""
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        found = try_to_load_from_cache(repo_id, filename)
    except HFValidationError:
        return None
    return Path(found).parent if isinstance(found, str) else None
