"""Exception types of glnet. The command line prints ``glnet: error: <message>`` for any of them."""

from __future__ import annotations

__all__ = ["GlnetError", "InputError", "ClassTableError", "CheckpointError", "Cancelled"]


class GlnetError(Exception):
    """An error the user can fix; its message is one line that says what and how."""


class InputError(GlnetError):
    """A bad input file or argument."""


class ClassTableError(GlnetError):
    """A class table that cannot be read or does not fit the data."""


class CheckpointError(GlnetError):
    """A model checkpoint that cannot be loaded."""


class Cancelled(GlnetError):
    """The caller cancelled a run; its outputs were removed (nothing was written)."""
