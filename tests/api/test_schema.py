"""/api/schema: the RunConfig JSON schema and the presets, for the UI's form."""

from __future__ import annotations

from loralab.config import PRESETS, RunConfig, load_preset, parse_run_config, preset_description


def test_run_config_schema_has_help_defaults_and_bounds(client):
    r = client.get("/api/schema/run-config")
    assert r.status_code == 200
    schema = r.json()
    assert schema == RunConfig.model_json_schema()
    lora = schema["$defs"]["LoraConfig"]["properties"]["r"]
    assert lora["default"] == 16 and lora["minimum"] == 1 and lora["description"]


def test_presets_are_served_by_method_and_make_valid_configs(client):
    r = client.get("/api/schema/presets")
    assert r.status_code == 200
    presets = r.json()
    assert list(presets) == list(PRESETS)
    for method, named in presets.items():
        assert list(named) == list(PRESETS[method])
        for name, preset in named.items():
            assert preset["description"] == preset_description(name, method)
            partial = {"lora": preset["lora"], "train": preset["train"]}
            assert partial == load_preset(name, method)
            train = dict(partial["train"])
            if method == "grpo":
                train["rewards"] = [{"name": "format"}]
            raw = {**partial, "train": train, "model": {"name_or_path": "Qwen/Qwen2.5-0.5B"}}
            cfg = parse_run_config({**raw, "data": {"source": "x/y"}})
            assert cfg.train.method == method
