"""Errors shared by every layer. A UserError is the user's to fix (bad file, bad
option, missing model): callers show its message, never a traceback."""


class UserError(Exception):
    """Bad input, bad option or a missing model. The message names the file and the problem."""


class ModelMissing(UserError):
    """A model the job needs is not installed."""


class JobCancelled(Exception):
    """Raised inside a job when its cancel was requested; the worker turns it into `Cancelled`."""
