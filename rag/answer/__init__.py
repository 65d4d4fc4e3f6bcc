"""Grounded answers: retrieve, pack numbered passages, generate under a schema, cite."""

from rag.answer.errors import AnswerError, AnswerInvalidError, AnswerTruncatedError
from rag.answer.service import Answerer
from rag.answer.settings import AnswerSettings
from rag.answer.types import (
    NOT_IN_KB,
    Answer,
    AnswerEvent,
    AnswerRequest,
    Citation,
    DeltaEvent,
    Passage,
    PassagesEvent,
    StreamEvent,
    Timings,
)

__all__ = [
    "NOT_IN_KB",
    "Answer",
    "AnswerError",
    "AnswerEvent",
    "AnswerInvalidError",
    "AnswerRequest",
    "AnswerSettings",
    "AnswerTruncatedError",
    "Answerer",
    "Citation",
    "DeltaEvent",
    "Passage",
    "PassagesEvent",
    "StreamEvent",
    "Timings",
]
