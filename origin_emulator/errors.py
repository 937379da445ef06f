"""Errors raised by the origin emulator: one small hierarchy, mapped to HTTP statuses in one place."""


class OriginError(Exception):
    """Base class for every error the origin emulator raises on purpose."""


class CueError(OriginError, ValueError):
    """A requested SCTE-35 cue cannot be encoded (a field out of range, a combination that makes no sense)."""
