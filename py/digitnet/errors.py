"""The errors a person can act on. Each is a ``DigitnetError`` whose message is one sentence: the command
line prints it on one line, the page shows it; any other exception is a fault of digitnet's own and
keeps its traceback."""

from __future__ import annotations


class DigitnetError(Exception):
    """Something the person can put right (a file, a value, a missing download); the message is one sentence."""


class InputError(DigitnetError, ValueError):
    """A value given to digitnet that it cannot take (too few drawings, strokes that are no strokes, …)."""
