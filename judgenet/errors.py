"""One exception hierarchy for judgenet.

Every message says what was expected, what was found, and how to fix it.
The CLI turns a :class:`JudgenetError` into a one-line message and exit code 2.
"""
from __future__ import annotations


class JudgenetError(Exception):
    """Base class of all errors judgenet raises on purpose."""


class ConfigError(JudgenetError, ValueError):
    """A bad argument, option or configuration value."""


class WeightsNotFoundError(JudgenetError, FileNotFoundError):
    """A backbone's weights file is not on disk and cannot be downloaded now (offline, or no download by name)."""


class ImageError(JudgenetError):
    """An image could not be decoded (raised only in strict mode)."""


class CacheError(JudgenetError):
    """The feature cache is inconsistent or was written by another backbone."""


class LabelError(JudgenetError, ValueError):
    """A label file is malformed: names file, row, column and the expectation."""


class NumericalError(JudgenetError, ArithmeticError):
    """A statistic cannot be computed (singular covariance, too few samples, ...)."""


class ArtifactError(JudgenetError):
    """A saved artifact (predictor, statistics, report) does not match what it is used with."""


class OutputError(JudgenetError):
    """An output file could not be written (disk full, read-only folder, a file where a folder is expected)."""
