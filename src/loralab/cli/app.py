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


# Each top-level command, the module that owns it and how it joins the app. ``main()`` imports
# only the one named on the command line: the store and services behind ``adapters`` cost about
# half a second of imports that ``loralab train`` (measured by ``loralab bench sft-tiny``) does
# not need. ``--help``, no command or an unknown one registers them all.
_GROUPS = {
    "config": "Show presets and the config schema.",
    "data": "Inspect and validate datasets.",
    "models": "The model catalog, memory estimates, tiny models.",
    "adapters": "Trained, promoted and registered LoRA adapters.",
    "rewards": "Reward presets for GRPO; test them.",
}
_COMMANDS = ("train", "serve", "export", "bench")
COMMANDS = (*_GROUPS, *_COMMANDS)


@app.callback()
def _root() -> None:
    # No docstring: Typer would show it as the app's help in place of ``help=`` above. The
    # callback keeps ``loralab train ...`` a subcommand when it is the only one registered (a
    # Typer app with one command and no callback runs that command as the app itself).
    pass


def _register(only: str | None = None) -> None:
    """Add the command ``only`` to the app, or every command when ``only`` is None."""
    import importlib

    for name in COMMANDS if only is None else (only,):
        module = importlib.import_module(f"loralab.cli.{name}_cmd")
        if name in _GROUPS:
            app.add_typer(module.app, name=name, help=_GROUPS[name])
        else:
            module.register(app)


def _command_named(argv: list[str]) -> str | None:
    """The top-level command on the command line, when it is a known one and comes first."""
    first = argv[1] if len(argv) > 1 else None
    return first if first in COMMANDS else None


def main() -> None:
    """Console entry point: prints ``error[code]: message`` and exits non-zero on a LoralabError."""
    _register(_command_named(sys.argv))
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
