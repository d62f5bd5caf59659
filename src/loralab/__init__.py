"""loralab: fine-tune open LLMs with LoRA, from the browser, the REST API or the CLI."""

__version__ = "0.1.0"
