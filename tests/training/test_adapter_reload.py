"""The saved adapter is an ordinary PEFT adapter: a fresh process loads it with plain
``PeftModel.from_pretrained`` and gets the trained model's logits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import torch

FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base_dir, adapter_dir, inputs_path, out_path = sys.argv[1:]
    ids = torch.tensor([json.load(open(inputs_path))["input_ids"]])
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        base_logits = base(input_ids=ids, use_cache=False).logits
    model = PeftModel.from_pretrained(base, adapter_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)
    with torch.no_grad():
        logits = model(input_ids=ids, use_cache=False).logits
    torch.save({"logits": logits, "base_logits": base_logits, "vocab": len(tokenizer)}, out_path)
    """
)


def test_adapter_loads_in_a_fresh_process_with_the_same_logits(full_run, tiny_model, tmp_path):
    messages = [
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
    ]
    encoded = full_run.tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)
    ids = list(encoded["input_ids"])
    (tmp_path / "inputs.json").write_text(json.dumps({"input_ids": ids}))
    model = full_run.model.eval()
    with torch.no_grad():
        expected = model(input_ids=torch.tensor([ids]), use_cache=False).logits

    script = tmp_path / "load_adapter.py"
    script.write_text(FRESH_PROCESS)
    args = [tiny_model, full_run.result.adapter_dir, tmp_path / "inputs.json", tmp_path / "out.pt"]
    subprocess.run(
        [sys.executable, str(script), *map(str, args)],
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=180,
    )
    got = torch.load(tmp_path / "out.pt")

    assert got["vocab"] == len(full_run.tokenizer)
    torch.testing.assert_close(got["logits"], expected, atol=1e-5, rtol=1e-5)
    # ...and the adapter is not a no-op: the base model alone answers differently.
    assert (got["base_logits"] - expected).abs().max() > 1e-3
