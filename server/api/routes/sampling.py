"""Review sampling and golden tasks (docs/quality.md): a project's review policy (``GET``/
``PUT /api/quality/policy``, leads), the sampling panel of the dashboard (``GET
/api/quality/sampling``), marking golden tasks (``PUT``/``DELETE
/api/quality/golden/{task_id}``, leads) and annotators' accuracy against gold (``GET
/api/quality/golden``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from server.api.deps import MAX_ID, CurrentUser, SessionDep, needs
from server.api.routes.taxonomy import ProjectId
from server.auth import CsrfDep
from server.errors import ApiError
from server.golden_queue import accuracy, mark, unmark
from server.models import Task
from server.policy import Permission
from server.sampling import get_policy, policy_json, set_policy, summary
from server.text import check_name

router = APIRouter(prefix="/api/quality", tags=["quality"], dependencies=[CsrfDep])


class PolicyBody(BaseModel):
    """A project's review sampling policy (docs/quality.md, "Review sampling")."""

    model_config = ConfigDict(extra="forbid")
    first_n: int = Field(0, ge=0, le=10_000, description="Each annotator's first N tasks: reviewed")
    rate: float = Field(1.0, ge=0.0, le=1.0, description="Share of later tasks reviewed")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    stratify: str = Field(
        "none",
        pattern=r"^(none|class|scene|scene:[a-z][a-z0-9_]{0,31})$",
        description="none, class, scene (its name) or scene:KEY (the value of its attribute KEY)",
    )
    strata: dict[str, float] = Field(default_factory=dict, max_length=200)
    mode: Literal["rate", "aql"] = "rate"
    lot_size: int = Field(20, ge=2, le=2000, description="Tasks per lot (mode aql)")
    aql: float = Field(0.04, gt=0.0, lt=1.0, description="Acceptable quality level, fraction")
    ltpd: float = Field(0.15, gt=0.0, lt=1.0, description="Lot tolerance percent defective")
    golden_rate: float = Field(0.0, ge=0.0, le=0.5, description="Share of takes given gold")

    @model_validator(mode="after")
    def _consistent(self) -> PolicyBody:
        for key, value in self.strata.items():
            check_name(key, "a stratum")
            if not (1 <= len(key) <= 100 and 0.0 <= value <= 1.0):
                raise ValueError("a stratum is a name of 1-100 characters with a rate in 0..1")
        if self.aql >= self.ltpd:
            raise ValueError("the AQL must be below the LTPD")
        return self


@router.get("/policy", dependencies=[needs(Permission.manage_quality)])
def read_policy(session: SessionDep, project_id: ProjectId) -> dict[str, Any]:
    """The project's review sampling policy, with the acceptance plan of its lots."""
    return policy_json(session, get_policy(session, project_id))


@router.put("/policy", dependencies=[needs(Permission.manage_quality)])
def write_policy(
    body: PolicyBody, session: SessionDep, user: CurrentUser, project_id: ProjectId
) -> dict[str, Any]:
    """Set the project's review sampling policy; it applies to tasks submitted from now on."""
    policy = set_policy(session, project_id, body.model_dump(), user)
    session.commit()
    session.refresh(policy)
    return policy_json(session, policy)


@router.get("/sampling", dependencies=[needs(Permission.see_quality)])
def sampling(session: SessionDep, project_id: ProjectId) -> dict[str, Any]:
    """The policy, its decisions per annotator, the effective sampling rate and the
    defect rate of reviewed tasks and objects with 95 % confidence intervals."""
    return summary(session, project_id)


def _task(session: SessionDep, task_id: int) -> Task:
    task = session.get(Task, task_id) if 1 <= task_id <= MAX_ID else None
    if task is None:
        raise ApiError(404, "task_not_found", f"task {task_id} does not exist")
    return task


@router.put("/golden/{task_id}", dependencies=[needs(Permission.manage_quality)])
def mark_golden(task_id: int, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Mark an approved task (or an imported labelled scene's task) golden: blind copies of
    it enter annotators' queues at the project's golden rate."""
    row = mark(session, _task(session, task_id), user)
    session.commit()
    return {"task_id": row.task_id, "project_id": row.project_id, "active": row.active}


@router.delete("/golden/{task_id}", dependencies=[needs(Permission.manage_quality)])
def unmark_golden(task_id: int, session: SessionDep) -> dict[str, Any]:
    """Stop handing out copies of the golden task; its scores stay."""
    unmark(session, _task(session, task_id).id or task_id)
    session.commit()
    return {"task_id": task_id, "active": False}


@router.get("/golden", dependencies=[needs(Permission.see_quality)])
def golden_accuracy(session: SessionDep, project_id: ProjectId) -> dict[str, Any]:
    """Golden tasks, and each annotator's scores against gold over time (F1 at IoU 0.5,
    mean IoU, class accuracy)."""
    return accuracy(session, project_id)
