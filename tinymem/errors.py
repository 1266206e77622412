"""The one exception type a user can cause.

Everything the CLI reports as a one-line error is a TinymemError; anything
else escaping the library is a bug in tinymem, not in the user's input.
"""


class TinymemError(Exception):
    """A problem with the user's input (file, option, budget), told in one line."""


class ModelError(TinymemError):
    """The model file is missing, unreadable, corrupted or not a TFLite flatbuffer."""


class BudgetError(TinymemError):
    """A memory budget or overhead option that cannot be parsed."""
