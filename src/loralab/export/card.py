"""The export's README.md: a model card that says what it is and how to run each file."""

from __future__ import annotations

from typing import Any

__all__ = ["render_card"]


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _parity_lines(parity: dict[str, Any] | None) -> list[str]:
    if not parity:
        return ["Parity was not checked."]
    lines = [
        "| file | tokenization | greedy agreement | max logit diff | verdict |",
        "| --- | --- | --- | --- | --- |",
    ]
    for item in parity["quantizations"]:
        verdict = {True: "pass", False: "FAIL", None: "reported"}[item["passed"]]
        lines.append(
            f"| {item['file']} | {'equal' if item['tokenization_equal'] else 'DIFFERENT'} "
            f"| {item['agreement']:.0%} of {item['tokens']} | {item['max_logit_diff']:.4f} "
            f"| {verdict} |"
        )
    return lines


def render_card(
    *,
    name: str,
    base_label: str,
    adapter_label: str,
    run_card: dict[str, Any] | None,
    files: list[dict[str, Any]],
    parity: dict[str, Any] | None,
    modelfile_note: str | None,
) -> str:
    """The model card (Markdown)."""
    card = run_card or {}
    config = card.get("config") or {}
    metrics = card.get("metrics") or {}
    data = card.get("data") or {}
    lines = [
        f"# {name}",
        "",
        f"A LoRA fine-tune of **{base_label}** (adapter `{adapter_label}`), exported by loralab.",
        "",
        "## Training",
        "",
        f"- Base model: `{base_label}`",
        f"- Method: {card.get('method') or 'unknown'}; steps: {card.get('step', 'unknown')}",
        f"- Data: {data.get('source') or (config.get('data') or {}).get('source') or 'unknown'}"
        + (f" ({data['train_examples']} training examples)" if data.get("train_examples") else ""),
    ]
    lora = config.get("lora") or {}
    if lora:
        lines.append(f"- LoRA: r={lora.get('r')}, alpha={lora.get('alpha')}")
    shown = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    if shown:
        lines.append("- Metrics: " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(shown.items())))
    lines += ["", "## Files", "", "| file | format | size |", "| --- | --- | --- |"]
    for f in files:
        kind = f["format"] + (f" {f['quantization']}" if f.get("quantization") else "")
        lines.append(f"| `{f['name']}` | {kind} | {_size(f['size_bytes'])} |")
    lines += ["", "## Parity (merged HF model against each GGUF)", "", *_parity_lines(parity)]
    lines += ["", "## How to run", ""]
    names = {f["name"] for f in files}
    if "merged" in names:
        lines += [
            "With transformers (the `merged/` folder):",
            "",
            "```python",
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            'tok = AutoTokenizer.from_pretrained("merged")',
            'model = AutoModelForCausalLM.from_pretrained("merged")',
            'ids = tok.apply_chat_template([{"role": "user", "content": "Hello"}],',
            '                              add_generation_prompt=True, return_tensors="pt")',
            "print(tok.decode(model.generate(ids, max_new_tokens=64)[0]))",
            "```",
            "",
        ]
    if "adapter" in names:
        lines += [
            "With PEFT (the `adapter/` folder on the base model):",
            "",
            "```python",
            "from peft import AutoPeftModelForCausalLM",
            'model = AutoPeftModelForCausalLM.from_pretrained("adapter")',
            "```",
            "",
        ]
    ggufs = sorted(n for n in names if n.endswith(".gguf"))
    if ggufs:
        lines += [
            "With llama.cpp (`llama-cli`, or llama-cpp-python):",
            "",
            "```sh",
            f"llama-cli -m {ggufs[0]} -cnv",
            "```",
            "",
            "```python",
            "from llama_cpp import Llama",
            f'llm = Llama(model_path="{ggufs[0]}")',
            'print(llm.create_chat_completion([{"role": "user", "content": "Hello"}]))',
            "```",
            "",
        ]
    if "Modelfile" in names:
        lines += [
            "With Ollama (the Modelfile points at a GGUF beside it):",
            "",
            "```sh",
            f"ollama create {name.lower()} -f Modelfile",
            f"ollama run {name.lower()}",
            "```",
            "",
            f"The Modelfile's TEMPLATE: {modelfile_note}.",
            "",
        ]
    return "\n".join(lines)
