"""`make bench`: loralab's SFT recipe side by side with a plain TRL script, in one run.

Each configuration runs in a fresh process (so peak RSS is its own) on the same tiny model,
the same FineTome-format data and the same batch shape. Prints a Markdown table to paste into
docs/benchmarks.md together with the command and the machine.

    .venv/bin/python bench/run.py [--steps 20] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "formats" / "finetome_sample.parquet"


def _run(script: str, args: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run(
        [sys.executable, str(HERE / script), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{script} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--data", default=os.environ.get("LORALAB_BENCH_DATA", str(DATA)))
    p.add_argument("--arch", default="qwen2", choices=["qwen2", "llama"])
    p.add_argument("--ws", action="store_true", help="run bench/ws_fanout.py (WebSockets) instead")
    p.add_argument(
        "--inference", action="store_true", help="run bench/inference.py (generation) instead"
    )
    a, rest = p.parse_known_args()
    if a.ws:
        raise SystemExit(subprocess.call([sys.executable, str(HERE / "ws_fanout.py")]))
    if a.inference:
        raise SystemExit(subprocess.call([sys.executable, str(HERE / "inference.py"), *rest]))
    if rest:
        p.error(f"unrecognized arguments: {' '.join(rest)}")

    from loralab.models import make_tiny_model

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with tempfile.TemporaryDirectory(prefix="loralab-bench-") as tmp:
        model = Path(tmp) / "model"
        make_tiny_model(model, arch=a.arch)
        common = ["--model", str(model), "--data", a.data, "--steps", str(a.steps)]
        plan = [
            ("trl_baseline.py", ["--threads", "0"]),
            ("trl_baseline.py", ["--threads", "1"]),
            ("loralab_run.py", ["--threads", "1", "--padding-free", "off"]),
            ("loralab_run.py", ["--threads", "2", "--padding-free", "on"]),
            ("loralab_run.py", ["--threads", "1", "--padding-free", "on"]),
        ]
        rows = []
        for _ in range(a.repeats):
            for i, (script, extra) in enumerate(plan):
                out = str(Path(tmp) / f"out-{i}")
                rows.append(_run(script, [*common, *extra, "--out", out], env))
                print(json.dumps(rows[-1]), file=sys.stderr)

    print(
        f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"Command: make bench ARGS='--steps {a.steps} --repeats {a.repeats}'\n")
    print(
        "| implementation | torch threads | seconds | samples/s | tokens/s | peak RSS (MB) | final loss |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['impl']} | {r['threads']} | {r['seconds']} | {r['samples_per_second']} | "
            f"{r.get('tokens_per_second') or 'n/a'} | {r['peak_rss_mb']} | {r['final_loss']} |"
        )


if __name__ == "__main__":
    main()
