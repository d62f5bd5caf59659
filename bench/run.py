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
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "formats" / "finetome_sample.parquet"


def _run(script: str, args: list[str], env: dict[str, str]) -> dict:
    started = time.perf_counter()
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
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    # The whole process, start-up, imports, model load and tokenizing included: the scripts'
    # own "seconds" cover different spans (TRL's trainer.train() vs loralab's whole run).
    row["wall_s"] = round(time.perf_counter() - started, 2)
    return row


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
            ("loralab_run.py", ["--defaults"]),
        ]
        rows = []
        for repeat in range(a.repeats):  # A B C A B C: drift hits every configuration alike
            for i, (script, extra) in enumerate(plan):
                out = str(Path(tmp) / f"out-{repeat}-{i}")
                rows.append(_run(script, [*common, *extra, "--out", out], env))
                print(json.dumps(rows[-1]), file=sys.stderr)

    print(
        f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"Command: make bench ARGS='--steps {a.steps} --repeats {a.repeats}'\n")
    print(
        "| implementation | torch threads | whole process (s) | in-script seconds | samples/s "
        "| tokens/s | peak RSS (MB) | final loss |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['impl']} | {r['threads']} | {r['wall_s']} | {r['seconds']} "
            f"| {r['samples_per_second']} | "
            f"{r.get('tokens_per_second') or 'n/a'} | {r['peak_rss_mb']} | {r['final_loss']} |"
        )
    _print_medians(rows)


def _print_medians(rows: list[dict]) -> None:
    """Medians per configuration, as ratios to the plain TRL script with its own defaults."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["impl"], r["threads"]), []).append(r)
    baseline = next((g for (impl, _), g in groups.items() if impl == "trl-script"), None)
    if baseline is None:
        return
    base_wall = statistics.median(r["wall_s"] for r in baseline)
    print("\nMedians (whole process), against the first TRL row:\n")
    print("| implementation | torch threads | runs | whole process (s) | vs TRL | peak RSS (MB) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (impl, threads), group in groups.items():
        wall = statistics.median(r["wall_s"] for r in group)
        rss = statistics.median(r["peak_rss_mb"] for r in group)
        speed = base_wall / wall
        print(
            f"| {impl} | {threads} | {len(group)} | {wall:.2f} "
            f"| {speed:.2f}x {'faster' if speed >= 1 else '(slower)'} | {rss:.0f} |"
        )


if __name__ == "__main__":
    main()
