"""Errors of the rig package (CLI, settings, media build); each says what is wrong and what to do."""


class RigError(Exception):
    """Base class: a failure the CLI reports as one clear line (exit code 2)."""


class ConfigError(RigError):
    """A settings file or environment variable that cannot be used."""


class MediaError(RigError):
    """Media could not be built or read (ffmpeg failed, cache damaged, invariant broken)."""
