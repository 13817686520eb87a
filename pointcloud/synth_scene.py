"""The scene of the generated demo sequence: road, buildings, actors and their motion.

Everything here is in the *road frame*, in metres: ``u`` along the road (the
direction the ego vehicle drives), ``v`` to the left, ``w`` up along the normal
of the road surface, which is the plane ``w = 0``. The world frame of the
sequence is the road frame pitched nose-up by the road grade (``road_rotation``).
Times are seconds from the first frame. ``pointcloud.synth`` casts lidar rays
into this scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

FRAME_DT = 0.1
"""Seconds between frames (a 10 Hz spinning lidar)."""
GRADE = 0.015
"""Road grade (rise over run) of the world frame: 1.5 %, climbing along +u."""
LANE_WIDTH = 3.3
EGO_LANE_V = -1.5 * LANE_WIDTH
INNER_LANE_V = -0.5 * LANE_WIDTH
BIKE_LANE_V = -7.35
PARKING_V = 9.2
CURB_V = 10.3
"""Lateral position of both curbs (|v|), metres."""
CURB_HEIGHT = 0.15
SIDEWALK_V = 14.3
"""Lateral position (|v|) where the sidewalk ends and the building line begins."""
SENSOR_HEIGHT = 1.8
EGO_SPEED = 10.0
MARKINGS: tuple[tuple[float, float, bool], ...] = (
    (-0.12, 0.06, False),
    (0.12, 0.06, False),
    (-LANE_WIDTH, 0.06, True),
    (LANE_WIDTH, 0.06, True),
    (-2 * LANE_WIDTH, 0.07, False),
    (2 * LANE_WIDTH, 0.07, False),
)
"""Painted lines as (v centre, half width, dashed), metres."""


@dataclass(frozen=True)
class Box:
    """An oriented box: centre (u, v, w), full size (along its x, y, z), yaw about +w.

    In an actor's part list the centre is in the actor's own frame (x forward,
    y left, z up from the ground contact); otherwise it is in the road frame.
    ``reflectivity`` is the surface albedo in 0..1.
    """

    center: tuple[float, float, float]
    size: tuple[float, float, float]
    reflectivity: float
    yaw: float = 0.0


@dataclass(frozen=True)
class Motion:
    """Planar motion of an actor's ground contact point along the road.

    ``heading`` is the travel direction in radians (0 = +u, pi = -u; for a
    standing actor, the way it faces). ``speed`` (m/s) drops by ``decel``
    (m/s^2) during ``brake`` (start, end) seconds. ``v`` moves from ``v0`` to
    ``v1`` during ``lane_change`` (start, end) seconds along a smoothstep.
    ``ground`` is the height of the surface it stands on (road or sidewalk).
    """

    u0: float
    v0: float
    speed: float = 0.0
    heading: float = 0.0
    decel: float = 0.0
    brake: tuple[float, float] = (0.0, 0.0)
    v1: float | None = None
    lane_change: tuple[float, float] = (0.0, 0.0)
    ground: float = 0.0


@dataclass(frozen=True)
class Actor:
    """A labelled object: ``size`` is (length, width, height) of its ground-truth cuboid."""

    track_id: str
    label: str
    size: tuple[float, float, float]
    parts: tuple[Box, ...]
    motion: Motion


@dataclass(frozen=True)
class Tag:
    """A behaviour of one track during (start, end) seconds."""

    tag: str
    track_id: str
    start: float
    end: float
    related: str | None = None


@dataclass(frozen=True)
class Scene:
    """Static boxes (buildings, poles) in the road frame plus the moving actors."""

    statics: tuple[Box, ...]
    actors: tuple[Actor, ...]
    tags: tuple[Tag, ...]


@dataclass(frozen=True)
class ActorState:
    """An actor at one instant: ground contact (u, v, w) in metres, yaw rad, speed m/s."""

    center: tuple[float, float, float]
    yaw: float
    speed: float


def wrap_angle(angle: float) -> float:
    """Wrap an angle in radians into (-pi, pi]."""
    return math.pi - (math.pi - angle) % (2 * math.pi)


def road_rotation() -> FloatArray:
    """Rotation (3, 3) from the road frame to the world frame: pitch up by the grade."""
    norm = math.hypot(1.0, GRADE)
    forward = np.array([1.0, 0.0, GRADE]) / norm
    up = np.array([-GRADE, 0.0, 1.0]) / norm
    return np.column_stack([forward, np.array([0.0, 1.0, 0.0]), up])


def ego_state(t: float) -> tuple[float, float, float]:
    """Sensor position (u, v) in metres and yaw in radians at time ``t`` seconds.

    The ego drives at EGO_SPEED in its lane with a small lane-keeping sway.
    """
    amp, period = 0.08, 3.7
    phase = 2 * math.pi * t / period
    v = EGO_LANE_V + amp * math.sin(phase)
    dv = amp * 2 * math.pi / period * math.cos(phase)
    return EGO_SPEED * t, v, math.atan2(dv, EGO_SPEED)


def _smoothstep(x: float) -> tuple[float, float]:
    """Smoothstep value and derivative for x clipped to [0, 1]."""
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x), 6 * x * (1 - x)


def actor_state(actor: Actor, t: float) -> ActorState:
    """Where ``actor`` is at time ``t`` seconds (road frame)."""
    m = actor.motion
    b0, b1 = m.brake
    dur = max(b1 - b0, 0.0)
    inside = min(max(t - b0, 0.0), dur)
    speed = m.speed - m.decel * inside
    braked = inside * inside / 2 + dur * max(t - b1, 0.0)
    dist = m.speed * t - m.decel * braked
    v, dv = m.v0, 0.0
    if m.v1 is not None:
        l0, l1 = m.lane_change
        s, ds = _smoothstep((t - l0) / (l1 - l0))
        v, dv = m.v0 + (m.v1 - m.v0) * s, (m.v1 - m.v0) * ds / (l1 - l0)
    along = 1.0 if math.cos(m.heading) >= 0 else -1.0
    yaw = wrap_angle(m.heading + math.atan2(along * dv + 0.0, speed))
    return ActorState((m.u0 + along * dist, v, m.ground), yaw, speed)


def actor_boxes(actor: Actor, state: ActorState) -> list[Box]:
    """The actor's parts as boxes in the road frame."""
    c, s = math.cos(state.yaw), math.sin(state.yaw)
    u, v, w = state.center
    boxes = []
    for p in actor.parts:
        x, y, z = p.center
        center = (u + c * x - s * y, v + s * x + c * y, w + z)
        boxes.append(Box(center, p.size, p.reflectivity, state.yaw))
    return boxes


def car_parts(length: float, width: float, height: float, paint: float) -> tuple[Box, ...]:
    """Body, glass cabin and four wheels of a car, inset 6 cm from its cuboid."""
    inset, clearance, waist = 0.06, 0.18, 0.58 * height
    body = Box(
        (0.0, 0.0, (clearance + waist) / 2),
        (length - 2 * inset, width - 2 * inset, waist - clearance),
        paint,
    )
    cabin = Box(
        (-0.06 * length, 0.0, (waist + height - 0.04) / 2),
        (0.5 * length, width - 0.26, height - 0.04 - waist),
        0.07,
    )
    wx, wy = length / 2 - 0.95, width / 2 - 0.2
    wheels = tuple(
        Box((sx * wx, sy * wy, 0.33), (0.62, 0.22, 0.66), 0.05)
        for sx in (-1.0, 1.0)
        for sy in (-1.0, 1.0)
    )
    return (body, cabin, *wheels)


def truck_parts(length: float, width: float, height: float) -> tuple[Box, ...]:
    """Cab, cargo box, chassis and wheels of a box truck, inset 6 cm from its cuboid."""
    inset, cab = 0.06, 2.3
    cargo = length - cab - 0.5
    parts = [
        Box((length / 2 - inset - cab / 2, 0.0, 1.75), (cab, width - 0.3, 2.5), 0.45),
        Box(
            (-length / 2 + inset + cargo / 2, 0.0, (1.0 + height - 0.04) / 2),
            (cargo, width - 2 * inset, height - 1.04),
            0.7,
        ),
        Box((0.0, 0.0, 0.75), (length - 0.6, 1.0, 0.5), 0.1),
    ]
    for x in (length / 2 - 1.4, -length / 2 + 2.0):
        for sy in (-1.0, 1.0):
            parts.append(Box((x, sy * (width / 2 - 0.3), 0.5), (1.0, 0.35, 1.0), 0.05))
    return tuple(parts)


def pedestrian_parts(height: float, clothes: float) -> tuple[Box, ...]:
    """Legs, torso and head of a pedestrian standing at the origin, facing +x."""
    legs, torso = 0.47 * height, 0.33 * height
    head = height - 0.03 - legs - torso
    return (
        Box((0.0, 0.0, legs / 2), (0.3, 0.36, legs), clothes),
        Box((0.0, 0.0, legs + torso / 2), (0.3, 0.52, torso), clothes),
        Box((0.0, 0.0, legs + torso + head / 2), (0.22, 0.2, head), 0.3),
    )


def cyclist_parts(clothes: float) -> tuple[Box, ...]:
    """Bicycle, rider torso and head; the cuboid is 1.8 x 0.65 x 1.75 m."""
    return (
        Box((0.0, 0.0, 0.5), (1.68, 0.12, 1.0), 0.3),
        Box((-0.15, 0.0, 1.25), (0.5, 0.45, 0.6), clothes),
        Box((0.05, 0.0, 1.63), (0.22, 0.2, 0.18), 0.3),
    )


class _Ids:
    """Hands out track ids per class in creation order: car-1, car-2, truck-1, ..."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def next(self, label: str) -> str:
        self.counts[label] = self.counts.get(label, 0) + 1
        return f"{label.lower()}-{self.counts[label]}"


def _car(ids: _Ids, rng: np.random.Generator, motion: Motion) -> Actor:
    """A car of random size and paint with the given motion."""
    length, width = float(rng.uniform(4.1, 4.9)), float(rng.uniform(1.75, 1.95))
    height = float(rng.uniform(1.42, 1.75))
    paint = float(rng.choice([0.12, 0.3, 0.4, 0.55, 0.7]))
    parts = car_parts(length, width, height, paint)
    return Actor(ids.next("Car"), "Car", (length, width, height), parts, motion)


def _buildings(rng: np.random.Generator, u_min: float, u_max: float) -> list[Box]:
    """Building blocks along both sides (with alleys) and a far row behind them."""
    boxes = []
    for side in (-1.0, 1.0):
        u = u_min
        while u < u_max:
            width, depth = float(rng.uniform(12, 35)), float(rng.uniform(12, 20))
            front = SIDEWALK_V + float(rng.choice([0.0, 0.0, 0.8, 1.5]))
            height = float(rng.uniform(6, 24))
            center = (u + width / 2, side * (front + depth / 2), (height - 1) / 2)
            boxes.append(Box(center, (width, depth, height + 1), float(rng.uniform(0.2, 0.5))))
            u += width + (float(rng.uniform(4, 8)) if rng.random() < 0.3 else 0.0)
        far = ((u_min + u_max) / 2, side * 44.0, 9.0)
        boxes.append(Box(far, (u_max - u_min, 12.0, 20.0), 0.3))
    return boxes


def _poles(u_min: float, u_max: float) -> list[Box]:
    """Street-light poles every 30 m on both sidewalks."""
    us = np.arange(math.ceil(u_min / 30) * 30 + 15, u_max, 30.0)
    base = CURB_HEIGHT + 3.75
    return [
        Box((float(u), s * (CURB_V + 0.6), base), (0.25, 0.25, 7.5), 0.45)
        for u in us
        for s in (-1, 1)
    ]


def _parked(ids: _Ids, rng: np.random.Generator, u_min: float, u_max: float) -> list[Actor]:
    """Cars parked bumper to bumper in the parking lanes, right side facing +u."""
    actors = []
    for side in (-1.0, 1.0):
        u = u_min
        while u < u_max:
            heading = (0.0 if side < 0 else math.pi) + float(rng.uniform(-0.03, 0.03))
            v = side * PARKING_V + float(rng.uniform(-0.15, 0.15))
            car = _car(ids, rng, Motion(0.0, v, heading=heading))
            actors.append(replace(car, motion=replace(car.motion, u0=u + car.size[0] / 2)))
            u += car.size[0] + float(
                rng.uniform(0.8, 3.0) if rng.random() < 0.8 else rng.uniform(6, 14)
            )
    return actors


def _events(ids: _Ids, rng: np.random.Generator) -> tuple[list[Actor], list[Tag]]:
    """The labelled behaviours: a car cutting in ahead of ego and a car braking hard.

    The braking car drives ahead in the inner lane; the cut-in car starts in the
    inner lane just ahead of ego, overtakes it and merges into ego's lane.
    """
    cut_in = _car(
        ids,
        rng,
        Motion(
            6.0 + float(rng.uniform(-1, 1)),
            INNER_LANE_V,
            speed=12.0,
            v1=EGO_LANE_V,
            lane_change=(1.2, 2.8),
        ),
    )
    braking = _car(
        ids,
        rng,
        Motion(
            32.0, INNER_LANE_V, speed=15.0, decel=float(rng.uniform(5.5, 7.0)), brake=(0.8, 2.2)
        ),
    )
    tags = [
        Tag("cut_in", cut_in.track_id, 1.2, 2.8, related="ego"),
        Tag("hard_braking", braking.track_id, 0.8, 2.2),
    ]
    return [cut_in, braking], tags


def _traffic(ids: _Ids, rng: np.random.Generator) -> list[Actor]:
    """Other moving road users: followers, oncoming cars, a truck and a cyclist."""
    jitter = rng.uniform(-4, 4, size=5)
    actors = [
        _car(ids, rng, Motion(-16.0, EGO_LANE_V, speed=10.0)),
        _car(ids, rng, Motion(-28.0, INNER_LANE_V, speed=12.0)),
    ]
    for u0 in (40.0 + jitter[0], 85.0 + jitter[1], 140.0 + jitter[2]):
        actors.append(_car(ids, rng, Motion(float(u0), -INNER_LANE_V, speed=12.0, heading=math.pi)))
    for u0 in (100.0 + jitter[3], 150.0 + jitter[4]):
        actors.append(_car(ids, rng, Motion(float(u0), -EGO_LANE_V, speed=9.0, heading=math.pi)))
    truck_size = (9.5, 2.5, 3.6)
    truck_motion = Motion(62.0, -EGO_LANE_V, speed=9.0, heading=math.pi)
    actors.append(
        Actor(ids.next("Truck"), "Truck", truck_size, truck_parts(*truck_size), truck_motion)
    )
    cyclist = Motion(14.0, BIKE_LANE_V, speed=5.0)
    actors.append(
        Actor(ids.next("Cyclist"), "Cyclist", (1.8, 0.65, 1.75), cyclist_parts(0.25), cyclist)
    )
    return actors


def _pedestrians(ids: _Ids, rng: np.random.Generator) -> list[Actor]:
    """Two people walking on the sidewalks and one standing at the kerb facing the road."""
    motions = (
        Motion(22.0, -12.3, speed=1.4, ground=CURB_HEIGHT),
        Motion(48.0, 12.0, speed=1.2, heading=math.pi, ground=CURB_HEIGHT),
        Motion(52.0, -11.6, heading=math.pi / 2, ground=CURB_HEIGHT),
    )
    actors = []
    for motion in motions:
        height, clothes = float(rng.uniform(1.6, 1.85)), float(rng.uniform(0.15, 0.35))
        size = (0.55, 0.65, height)
        parts = pedestrian_parts(height, clothes)
        actors.append(Actor(ids.next("Pedestrian"), "Pedestrian", size, parts, motion))
    return actors


def build_scene(*, seed: int, duration: float) -> Scene:
    """The deterministic scene for ``seed``, covering an ego drive of ``duration`` seconds."""
    rng = np.random.default_rng(seed)
    ids = _Ids()
    end = EGO_SPEED * duration
    events, tags = _events(ids, rng)
    actors = events + _traffic(ids, rng) + _pedestrians(ids, rng)
    actors += _parked(ids, rng, -50.0, end + 80.0)
    statics = _buildings(rng, -140.0, end + 140.0) + _poles(-140.0, end + 140.0)
    return Scene(tuple(statics), tuple(actors), tuple(tags))
