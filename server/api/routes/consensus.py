"""Consensus (docs/quality.md, "Consensus"): send a scene to k annotators, read the
agreement of their label sets, overlay their boxes in the workspace, and promote the
consensus label set to a new reference task."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from server.annotations import Submission
from server.api.deps import MAX_ID, CurrentUser, HubDep, SessionDep, needs
from server.auth import CsrfDep
from server.consensus import (
    ConsensusError,
    consensus_ops,
    groups,
    new_reference,
    overlay,
    results,
    send,
)
from server.errors import ApiError
from server.models import ConsensusGroup, Scene, Task, TaskTransition
from server.policy import Permission
from server.protocol import Ack, Ops

router = APIRouter(prefix="/api/quality/consensus", tags=["quality"], dependencies=[CsrfDep])
UserName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")]


class NewConsensus(BaseModel):
    """A scene and the k annotators (2-10) who each label it in their own task."""

    model_config = ConfigDict(extra="forbid", strict=True)
    scene_id: int = Field(ge=1, le=MAX_ID)
    annotators: list[UserName] = Field(min_length=2, max_length=10)


@router.post("", status_code=201, dependencies=[needs(Permission.manage_quality)])
def new_consensus(body: NewConsensus, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Send the scene to k annotators as k new tasks, one assigned to each."""
    scene = session.get(Scene, body.scene_id)
    if scene is None:
        raise ApiError(404, "scene_not_found", f"scene {body.scene_id} does not exist")
    group = send(session, scene, body.annotators, user)
    session.commit()
    return results(session, group.id or 0)


@router.get("", dependencies=[needs(Permission.see_quality)])
def list_consensus(session: SessionDep) -> list[dict[str, Any]]:
    """Every consensus group, newest first, with its tasks and their states."""
    return groups(session)


@router.get("/{group_id}", dependencies=[needs(Permission.see_quality)])
def consensus_results(
    group_id: int, session: SessionDep, limit: int = Query(200, ge=1, le=5000)
) -> dict[str, Any]:
    """Agreement per annotator pair and per class, and the objects worst first, each with
    a link into the workspace showing the k boxes."""
    return results(session, group_id, limit=limit)


@router.get("/{group_id}/frames/{index}", dependencies=[needs(Permission.see_quality)])
def consensus_frame(group_id: int, index: int, session: SessionDep) -> list[dict[str, Any]]:
    """The k label sets' boxes in one frame: the workspace's read-only overlay."""
    if not 0 <= index <= MAX_ID:
        raise ApiError(404, "frame_not_found", f"frame {index} does not exist")
    return overlay(session, group_id, index)


@router.post(
    "/{group_id}/promote", status_code=201, dependencies=[needs(Permission.manage_quality)]
)
async def promote(
    group_id: int, session: SessionDep, user: CurrentUser, hub: HubDep
) -> dict[str, Any]:
    """Write the consensus label set (majority class, median box of every object a
    majority drew) into a new approved task on the scene: the reference. Nothing is kept
    if the write is refused."""
    group, ops = consensus_ops(session, group_id)
    task = new_reference(session, group, user)
    session.commit()
    assert task.id is not None
    msg = Ops.model_validate({"type": "ops", "seq": 0,
                              "client_id": f"consensus-{uuid.uuid4().hex[:12]}", "ops": ops})  # fmt: skip
    reply = await hub.submit_trusted(Submission(task.id, user.name, msg, trusted=True,
                                                reason=f"consensus {group_id}"))  # fmt: skip
    if not isinstance(reply, Ack):
        _drop(session, task)
        raise ConsensusError(422, "consensus_unwritable",
                             f"the consensus could not be written: {reply.model_dump_json()[:300]}")  # fmt: skip
    stored = session.get(ConsensusGroup, group_id)
    assert stored is not None
    stored.reference_task_id = task.id
    stored.promoted_at = task.updated_at
    session.add(stored)
    session.commit()
    tracks = sum(1 for op in ops if op["kind"] == "track")
    return {"task_id": task.id, "tracks": tracks, "boxes": len(ops) - tracks,
            "consensus_id": group_id}  # fmt: skip


def _drop(session: Session, task: Task) -> None:
    for row in session.exec(select(TaskTransition).where(TaskTransition.task_id == task.id)):
        session.delete(row)
    session.flush()
    session.delete(task)
    session.commit()
