"""Time streaming redraws of uPlot, ECharts and Recharts in headless Chromium.

Run from web/bench:  npm ci && npm run build && ../../.venv/bin/python run_bench.py
Prints one JSON line per (library, size), then markdown tables (redraw times, bundle sizes) for
docs/benchmarks.md#charts. Chromium is Debian's (/usr/bin/chromium), headless, software-rendered.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
DIST = HERE / "dist"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LIBS = ["uplot", "echarts", "recharts"]
SIZES = [int(a) for a in sys.argv[1:]] or [10_000, 50_000]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve() -> tuple[http.server.ThreadingHTTPServer, int]:
    handler = functools.partial(_Quiet, directory=str(DIST))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def bundle_size(lib: str) -> tuple[int, int]:
    """Minified and gzipped bytes of the JS a one-chart page ships (size/<lib> built alone)."""
    env = dict(os.environ, LIB=lib)
    subprocess.run(
        ["npx", "vite", "build", "-c", "vite.size.config.ts"], cwd=HERE, env=env, check=True
    )
    data = b"".join(p.read_bytes() for p in (HERE / "dist-size" / lib).rglob("*.js"))
    return len(data), len(gzip.compress(data, 9))


def main() -> None:
    server, port = serve()
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        for n in SIZES:
            for lib in LIBS:
                page = browser.new_page(viewport={"width": 1000, "height": 500})
                page.goto(f"http://127.0.0.1:{port}/index.html?lib={lib}&n={n}&budget=90000")
                page.wait_for_function("window.__bench !== undefined", timeout=180_000)
                result = page.evaluate("window.__bench")
                print(json.dumps(result), flush=True)
                rows.append(result)
                page.close()
        browser.close()
    server.shutdown()
    print(
        "\n| library | points | redraw median (ms) | redraw p95 (ms) | last redraw (ms) "
        "| frame median (ms) | 100 appends total (s) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        pts = f"{r['points']:,}" + ("" if r["finished"] else f" of {r['n']:,} (stopped at 90 s)")
        print(
            f"| {r['lib']} | {pts} | {r['sync_median_ms']} | {r['sync_p95_ms']} "
            f"| {r['sync_last_ms']} | {r['frame_median_ms']} | {r['total_ms'] / 1000:.1f} |"
        )
    print("\n| library | minified JS (KB) | gzipped (KB) |")
    print("| --- | --- | --- |")
    sizes = {lib: bundle_size(lib) for lib in ["uplot", "echarts", "recharts", "react"]}
    react_min, react_gz = sizes.pop("react")
    for lib, (size, gz) in sizes.items():
        if lib == "recharts":
            size, gz = size - react_min, gz - react_gz
        print(f"| {lib} | {size / 1024:.0f} | {gz / 1024:.0f} |")


if __name__ == "__main__":
    main()
