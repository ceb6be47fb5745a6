"""The one error the RCA engine raises for input a person can fix (a CSV, a graph file, a window).

    RcaInputError   bad or unusable input; the message says what to fix, in one line
"""

from __future__ import annotations


class RcaInputError(ValueError):
    """Input the ranking cannot use: the message names the file, column or window to fix."""
