"""The one exception the command line turns into a sentence and an exit code."""


class DetectorError(Exception):
    """A problem with the user's input or options: exit code 2, one plain sentence.

    The message names the file, the column or the value, what was expected, and what to
    do. Anything else that escapes the library is an unexpected failure (exit code 1).
    """

    exit_code = 2
