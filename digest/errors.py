"""Errors a user can act on. The CLI prints them as one line and exits; anything else is a bug."""


class DigestError(Exception):
    """A failure with a message meant for the user (exit status 1)."""

    exit_code = 1


class ConfigError(DigestError):
    """Invalid or missing configuration: every problem at once, one line each (exit status 2)."""

    exit_code = 2

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class SourceError(DigestError):
    """A content source that cannot be read: nothing from it is stored."""

    def __init__(self, source: str, reason: str):
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class EmptyPeriodError(DigestError):
    """A digest was asked for a period that holds no items."""
