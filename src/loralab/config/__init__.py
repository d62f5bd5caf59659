"""The one schema: ``RunConfig`` and its sections, presets, YAML in and out, and ``Settings``."""

from loralab.config.io import (
    PRESETS,
    apply_overrides,
    check_run_config,
    dump_run_config,
    load_preset,
    load_run_config,
    parse_run_config,
)
from loralab.config.run import (
    DATA_FORMATS,
    TRAIN_METHODS,
    DataConfig,
    LoraConfig,
    ModelConfig,
    OutputConfig,
    RunConfig,
    SFTConfig,
    TrainBase,
    TrainConfig,
    method_name,
    run_config_model,
    train_section,
)
from loralab.config.settings import Settings
from loralab.config.strict import StrictModel, find_nul

__all__ = [
    "DATA_FORMATS",
    "PRESETS",
    "TRAIN_METHODS",
    "DataConfig",
    "LoraConfig",
    "ModelConfig",
    "OutputConfig",
    "RunConfig",
    "SFTConfig",
    "Settings",
    "StrictModel",
    "TrainBase",
    "TrainConfig",
    "apply_overrides",
    "check_run_config",
    "dump_run_config",
    "find_nul",
    "load_preset",
    "load_run_config",
    "method_name",
    "parse_run_config",
    "run_config_model",
    "train_section",
]
