"""The one error type of offgate's own: an error a person can act on, whose message says what
went wrong and, where it helps, what to do. The command line prints it and exits with its
code (offgate/cli/common.py, once for every command); the dashboard answers it as JSON.

Each room's errors subclass one of the two below, by what the person should do about it.
The proxy and the native host never let one reach the traffic: they fail open on their own.
"""

from __future__ import annotations

# Exit codes: 0 done, 1 something failed at run time, 2 bad input (arguments, config, files).
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class OffgateError(Exception):
    """Something failed at run time (a store that is down, a tool that failed): running
    again later, or after fixing the machine, may work."""

    exit_code = EXIT_FAILED


class BadInputError(OffgateError):
    """The input cannot be used as given (an argument, a setting, a file): fix it and run again."""

    exit_code = EXIT_BAD_INPUT
