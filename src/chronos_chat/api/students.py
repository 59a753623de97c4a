"""Student routes: erasing everything stored about a student (the service only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from chronos_chat.api.deps import Caller, Store, require
from chronos_chat.api.schemas import StudentForgotten

router = APIRouter(prefix="/api/chat", tags=["students"])


@router.delete("/students/{student_id}", response_model=StudentForgotten)
async def forget_student(
    student_id: Annotated[str, Path(min_length=1, max_length=128)], store: Store, caller: Caller
) -> StudentForgotten:
    """Erase a student (a data-deletion request): their sessions with every message, their name
    and stored request responses, in one transaction. The service only; the app behind it
    decides who may ask."""
    require(caller.role == "service", "only the service erases a student's data")
    deleted = await store.forget_student(student_id)
    return StudentForgotten(student_id=student_id, deleted_sessions=deleted)
