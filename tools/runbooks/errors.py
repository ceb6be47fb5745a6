"""The runbook errors, each one line a person can act on.

    ValueError
    └── RunbookError           base of everything below
        ├── RunbookFileError   a runbook file is wrong: file, line and reason
        ├── ParameterError     a parameter value breaks its type, pattern or the safety baseline
        ├── PolicyError        the policy file is wrong
        ├── NotAllowed         the policy does not allow this actor to do this
        ├── UnknownRunbook     no runbook by that name
        └── RequestStateError  the request cannot do that now (unknown, denied, already run, ...)
"""

from __future__ import annotations


class RunbookError(ValueError):
    """Base of the runbook errors."""


class RunbookFileError(RunbookError):
    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path, self.line, self.reason = path, line, reason
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {reason}")


class ParameterError(RunbookError):
    pass


class PolicyError(RunbookError):
    pass


class NotAllowed(RunbookError):
    pass


class UnknownRunbook(RunbookError):
    pass


class RequestStateError(RunbookError):
    pass
