"""The ``loralab`` command line. One module per command group; ``main()`` builds the app."""

from loralab.cli.app import app, main

__all__ = ["app", "main"]
