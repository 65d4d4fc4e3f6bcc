"""What the client returns: the API's own wire models (`api.schemas`), under the client's names.

The client validates every answer with the models the service serializes it with, so the
two cannot drift apart; a body a model rejects raises `InvalidResponseError`.
"""

from __future__ import annotations

from pydantic import BaseModel

from api.schemas import (
    AnswerOut,
    DeltaOut,
    DocumentOut,
    DocumentPage,
    HitOut,
    JobOut,
    KBOut,
    PassagesOut,
    TokenResponse,
)
from indexer.jobs.model import FINAL_STATES, JobState

KB = KBOut
Document = DocumentOut
Job = JobOut
Hit = HitOut
Answer = AnswerOut
Token = TokenResponse
PassagesEvent = PassagesOut  # first event of a streamed answer: the passages the model is given
DeltaEvent = DeltaOut  # a piece of the generated JSON text
TERMINAL_STATES = FINAL_STATES


class AnswerEvent(BaseModel):
    """Last event of a streamed answer: the validated answer (the event's data is the answer)."""

    answer: Answer


StreamEvent = PassagesEvent | DeltaEvent | AnswerEvent

__all__ = [
    "KB",
    "TERMINAL_STATES",
    "Answer",
    "AnswerEvent",
    "DeltaEvent",
    "Document",
    "DocumentPage",
    "Hit",
    "Job",
    "JobState",
    "PassagesEvent",
    "StreamEvent",
    "Token",
]
