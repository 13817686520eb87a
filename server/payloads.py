"""The op payload shapes: the one definition of a track's, a cuboid's and a tag's fields.

An op's ``data`` (docs/protocol.md) is validated against these models; the
state the server stores, broadcasts and returns is the same fields plus
``id`` and ``revision``. The object kinds that use them are registered in
:mod:`server.kinds`, and the field table in docs/protocol.md is generated
from the descriptions here.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StrictBool, StrictInt

from server.protocol import ObjectId

Source = Literal["manual", "interpolated", "pre-label", "imported"]
MAX_FRAME = 2**31 - 1
Num = Annotated[float, Strict()]
"""A JSON number (an integer is fine): never a string or a boolean."""
FrameNo = Annotated[StrictInt, Field(ge=-MAX_FRAME, le=MAX_FRAME)]
"""A frame index: an integer (not ``"0"``, not ``false``) that fits the column; whether
the scene has that frame is a rule with its own code."""
Name = Annotated[str, Strict(), Field(min_length=1, max_length=100)]
Attributes = Annotated[
    dict[str, Any],
    Field(description="name -> value, as the taxonomy declares for the class or tag type"),
]


class Payload(BaseModel):
    """An op's ``data`` once merged: exact field names and JSON types, no coercion
    (containers may be lists where the model says tuple)."""

    model_config = ConfigDict(extra="forbid")

    def stored(self) -> dict[str, Any]:
        """The fields as the state stores them (JSON lists, not tuples)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.model_dump().items()}


def normalize_yaw(yaw: float) -> float:
    """The same angle in (-pi, pi]."""
    wrapped = math.remainder(yaw, 2 * math.pi)
    return math.pi if wrapped == -math.pi else wrapped


class TrackData(Payload):
    """An object followed through the sequence; its boxes are cuboids."""

    label: Name = Field(description="class name from `/api/taxonomy?task_id=` (the task's version)")
    attributes: Attributes = {}


class CuboidData(Payload):
    """A track's box in one frame: centre and size in metres, angles in radians."""

    track_id: ObjectId = Field(description="the track this box belongs to")
    frame: FrameNo = Field(description="0-based frame index; one box per track and frame")
    center: tuple[Num, Num, Num] = Field(
        description="[x, y, z] m in the frame's own coordinates (absolute)"
    )
    size: tuple[Num, Num, Num] = Field(description="[length, width, height] m, each > 0")
    yaw: Num = Field(description="rad about +z, 0 along +x; stored in (-pi, pi]")
    pitch: Num = Field(0.0, description="rad")
    roll: Num = Field(0.0, description="rad")
    attributes: Attributes = {}
    source: Source = Field("manual", description="who made the box")
    keyframe: StrictBool = Field(True, description="false for boxes filled in by interpolation")

    def stored(self) -> dict[str, Any]:
        """Yaw is stored in (-pi, pi]."""
        return {**super().stored(), "yaw": normalize_yaw(self.yaw)}


class TagData(Payload):
    """A behaviour over a range of frames, of a track, of the ego vehicle or of the scene."""

    tag: Name = Field(description="tag type from `/api/taxonomy`, e.g. `cut_in`")
    subject: Literal["track", "ego", "scene"] = Field(description="what the tag is about")
    track_id: ObjectId | None = Field(None, description="the subject track (subject `track` only)")
    related_track_id: ObjectId | None = Field(
        None, description="the other object involved, e.g. the car cut in front of"
    )
    related_ego: StrictBool = Field(
        False, description="the other object is the ego vehicle (where the tag type allows it)"
    )
    first_frame: FrameNo = Field(description="first frame of the range")
    last_frame: FrameNo = Field(description="last frame of the range (inclusive)")
    attributes: Attributes = {}
