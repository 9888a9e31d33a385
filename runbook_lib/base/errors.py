"""One base exception for every error a user can cause or fix.

Each error says what was wrong and what to do about it. The CLI turns a
:class:`RunbookError` into a one-line message and its :attr:`exit_code`.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_INVALID_INPUT = 2
EXIT_LOCK_HELD = 3
EXIT_STALE_PLAN = 4


class RunbookError(Exception):
    """Base class of every runbook error; the message tells what to do."""

    exit_code: int = EXIT_INVALID_INPUT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InvalidInputError(RunbookError):
    """A value given by the user (argument, parameter, file) is not acceptable."""


class WorkspaceError(RunbookError):
    """The target workspace is not in a state the operation can work on."""


class CheckFailedError(RunbookError):
    """A blocking check failed."""

    exit_code = EXIT_CHECK_FAILED


class LockHeldError(RunbookError):
    """Another process holds the target's lock."""

    exit_code = EXIT_LOCK_HELD


class StalePlanError(RunbookError):
    """The target changed since the plan was made."""

    exit_code = EXIT_STALE_PLAN
