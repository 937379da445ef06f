"""The project's error root and the errors every server shares.

Every error the project raises on purpose derives from `RigError`. Its `status` is the HTTP status
a request failing with it gets (`stitcher.http.Guard`), and its `summary`, when set, is
put before the message in that answer. A command line reports a `RigError` as one line, exit 2.
"""


class RigError(Exception):
    """Base class: a failure that says what is wrong and what to do."""

    status = 500
    summary = ""

    def public(self) -> str:
        """The message an HTTP answer carries."""
        return f"{self.summary}: {self}" if self.summary else str(self)


class ConfigError(RigError):
    """A settings file or environment variable that cannot be used."""


class BadRequest(RigError):
    status = 400


class Unauthorised(RigError):
    status = 401


class Forbidden(RigError):
    status = 403


class NotFound(RigError, LookupError):
    status = 404
