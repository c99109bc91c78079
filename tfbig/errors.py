"""The one error type users see.

Anything wrong with the user's input (a config field, a data file line, a missing run folder)
is raised as :class:`TfbigError`. The CLIs print it as one line ``error: <message>`` and exit
with status 2; library users catch it as the ``ValueError`` it also is.
"""


class TfbigError(ValueError):
    """A problem with the user's input: the message says what, where, and what was expected."""
