"""The base of every error that is the user's to fix: the CLI prints it as one line, no traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input, a missing file or a missing resource, with a message that says what to do."""
