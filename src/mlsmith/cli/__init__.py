"""The command line: a thin shell over the Python API. Each command parses, calls one function, prints."""

from . import _commands, _deploy, _features, _guards, _monitor, _profile  # noqa: F401  (registers the commands on the app)
from ._app import app, main

__all__ = ["app", "main"]
