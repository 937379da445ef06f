"""Errors of the stitcher package, mapped to HTTP statuses in one middleware (`stitcher.app`)."""


class StitcherError(Exception):
    """Base class; `status` is the HTTP status a request failing with it gets."""

    status = 500


class BadRequest(StitcherError):
    status = 400


class NotFound(StitcherError):
    status = 404
