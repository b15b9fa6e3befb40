"""The command line's own error: bad arguments or input, reported as one line with exit status 2."""


class CliError(Exception):
    """A problem with the user's arguments or files; ``main`` prints its message and exits with 2.

    ``prog`` names the (sub)command the message belongs to, when it is known where the error arises.
    """

    def __init__(self, message: str, *, prog: str | None = None):
        super().__init__(message)
        self.prog = prog


USAGE_ERROR = 2
INTERRUPTED = 130
