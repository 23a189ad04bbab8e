"""The one exception type for mistakes a user can make and fix.

The CLI turns it into a single line on stderr and exit code 2; everything else is a bug and keeps
its traceback.
"""


class UserError(Exception):
    """A problem with the user's input; the message says what is wrong and how to fix it."""
