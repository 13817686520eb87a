"""Typed errors raised by the point-cloud core. Every error has a stable ``code``."""

from __future__ import annotations


class PointCloudError(Exception):
    """Root of every error the point-cloud core raises."""

    code = "pointcloud_error"


class UnsupportedFormatError(PointCloudError):
    """The file's format (by extension or content) is not one we read."""

    code = "unsupported_format"


class CorruptFileError(PointCloudError):
    """The file cannot be decoded; the message says why and at which byte offset."""

    code = "corrupt_file"

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        self.offset = offset
        super().__init__(message if offset is None else f"{message} (at byte {offset})")


class HeaderMismatchError(CorruptFileError):
    """The file's header disagrees with the data that follows it."""

    code = "header_mismatch"


class TooLargeError(PointCloudError):
    """The file declares more points than we accept."""

    code = "too_large"


class EmptyCloudError(PointCloudError):
    """The file holds no finite points."""

    code = "empty_cloud"


class CoordinatesOutOfRangeError(PointCloudError):
    """A point lies where no sensor or map projection puts one (non-finite or past ``MAX_COORDINATE``)."""

    code = "coordinates_out_of_range"
