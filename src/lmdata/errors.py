"""The three error kinds every stage distinguishes (after dolma / datatrove practice).

- FatalError: configuration or programming error; the job exits non-zero and Airflow must not
  retry (exit code 2).
- RetryableError: transient (network, storage conflict, lost executor); the job exits with
  exit code 75 (EX_TEMPFAIL) and Airflow retries with backoff.
- Per-record problems are not exceptions that escape a stage: they become quarantine rows
  (lmdata.document.QUARANTINE_SCHEMA) and counters in the stage stats.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FATAL = 2
EXIT_RETRYABLE = 75


class LmdataError(Exception):
    """Base class of lmdata's own errors."""

    exit_code = EXIT_FATAL


class FatalError(LmdataError):
    exit_code = EXIT_FATAL


class ConfigError(FatalError):
    """A wrong key or value in params.yaml / CLI arguments. The message names the key."""


class RetryableError(LmdataError):
    exit_code = EXIT_RETRYABLE


class RecordError(LmdataError):
    """A problem with one input record or file. Caught by the stage and quarantined.

    `reason` is a short stable code (used in stats and the quarantine table).
    """

    def __init__(self, reason: str, message: str, *, offset: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.offset = offset
