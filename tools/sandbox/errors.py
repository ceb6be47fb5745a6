"""The sandbox's errors.

    ValueError
    └── ScenarioError      a scenario file (or topology) is wrong; the message is one line naming
                           the file, the field and what to fix
    KeyError
    └── UnknownSeries      a series was asked for a service or metric the sandbox does not have
"""

from __future__ import annotations


class ScenarioError(ValueError):
    """A scenario cannot be loaded; str(error) is one line a user can act on."""


class UnknownSeries(KeyError):
    """No such service, or the service has no such metric."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
