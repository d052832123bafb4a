"""Exceptions for bad user input.

Anything a user can get wrong (a formula, a model file, a spectrum file, a negative energy)
raises :class:`InputError` with one line that names the input and what is allowed. The CLI
turns it into that line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

__all__ = ["InputError", "FitFailedError"]


class InputError(ValueError):
    """A user input (argument, model file, data file) is malformed or unphysical."""


class FitFailedError(RuntimeError):
    """A minimisation did not converge; its numbers must not be reported as results."""
