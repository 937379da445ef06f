"""Errors raised by the origin emulator (all `RigError`s: `stitcher.http` maps them to statuses)."""

from stitcher.errors import RigError


class OriginError(RigError):
    """Base class for every error the origin emulator raises on purpose."""

    status = 400


class CueError(OriginError, ValueError):
    """A requested SCTE-35 cue cannot be encoded (a field out of range, a combination that makes no
    sense)."""


class MediaError(RigError):
    """Media could not be built or read (ffmpeg failed, cache damaged, invariant broken)."""
