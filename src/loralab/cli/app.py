"""Build the Typer app from the command groups and run it with loralab's error handling."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from loralab.errors import LoralabError

app = typer.Typer(
    name="loralab",
    help="Fine-tune open LLMs with LoRA: from a dataset file to a trained adapter.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


def _register() -> None:
    # Imported here so `loralab --help` stays fast and each group owns its module.
    from loralab.cli import (
        adapters_cmd,
        bench_cmd,
        config_cmd,
        data_cmd,
        export_cmd,
        models_cmd,
        rewards_cmd,
        serve_cmd,
        train_cmd,
    )

    app.add_typer(config_cmd.app, name="config", help="Show presets and the config schema.")
    app.add_typer(data_cmd.app, name="data", help="Inspect and validate datasets.")
    app.add_typer(
        models_cmd.app, name="models", help="The model catalog, memory estimates, tiny models."
    )
    app.add_typer(
        adapters_cmd.app,
        name="adapters",
        help="Trained, promoted and registered LoRA adapters.",
    )
    app.add_typer(rewards_cmd.app, name="rewards", help="Reward presets for GRPO; test them.")
    train_cmd.register(app)
    serve_cmd.register(app)
    export_cmd.register(app)
    bench_cmd.register(app)


def main() -> None:
    """Console entry point: prints ``error[code]: message`` and exits non-zero on a LoralabError."""
    _register()
    try:
        # In non-standalone mode click returns a typer.Exit's code instead of exiting.
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except LoralabError as exc:
        # Escaped: "[invalid_data]" would otherwise be read as a rich style tag and vanish.
        err_console.print(f"[bold red]{escape(f'error[{exc.code}]')}[/]: {escape(str(exc))}")
        sys.exit(2)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code or 0)
    except Exception as exc:
        # Usage errors: typer bundles its own click, so match by shape rather than by class.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        raise
