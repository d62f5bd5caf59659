"""Runs that cannot train fail with a clear, coded reason, reported before the error is raised."""

from __future__ import annotations

import threading

import pytest

from loralab.errors import DataError
from loralab.training import Failed, ListReporter, Stopped, train

from .conftest import tiny_config


@pytest.mark.parametrize("name", ["malformed/empty_values.jsonl", "malformed/wrong_types.jsonl"])
def test_data_without_valid_rows_fails_with_data_error(tiny_model, formats_dir, tmp_path, name):
    reporter = ListReporter()
    config = tiny_config(tiny_model, formats_dir / name, tmp_path / "out")

    with pytest.raises(DataError) as err:
        train(config, reporter)

    failed = reporter.of(Failed)
    assert len(failed) == 1 and failed[0].code == err.value.code == "invalid_data"
    assert "no valid rows" in failed[0].reason and failed[0].traceback
    assert not (tmp_path / "out" / "adapter").exists()


def test_preference_data_is_refused_for_sft(tiny_model, formats_dir, tmp_path):
    reporter = ListReporter()
    config = tiny_config(tiny_model, formats_dir / "preference_sample.jsonl", tmp_path / "out")

    with pytest.raises(DataError) as err:
        train(config, reporter)

    assert err.value.problems[0].loc == "data.format"
    assert reporter.events[-1].type == "failed"


def test_stop_before_the_first_step_ends_cleanly_without_checkpoint(tiny_model, finetome, tmp_path):
    stop = threading.Event()
    stop.set()
    reporter = ListReporter()

    result = train(tiny_config(tiny_model, finetome, tmp_path / "out"), reporter, stop=stop)

    assert result.status == "stopped" and result.step == 0 and result.checkpoint_dir is None
    assert reporter.of(Stopped)[0].checkpoint_path is None
    assert not reporter.of(Failed)
