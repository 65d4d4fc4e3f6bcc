"""The prompt and the output contract: chat messages around the passages, and the schema.

The schema is the default answer object or the analyst's own object wrapped under `data`;
either way its citations are an `enum` of the passage numbers actually given, and at least
one must be cited, so an answer can only point at a passage the model saw.
"""

from __future__ import annotations

import json

from rag.generation.base import JSONSchema, Message
from rag.generation.schema import default_answer_schema, wrap_user_schema

# Worded so a small model copies the right value: "answerable ... is false when ..." made
# SmolLM2-135M write false after correct answers.
DEFAULT_INSTRUCTIONS = (
    "Answer the question from the numbered passages only. Reply with a JSON object: "
    "'answer' is the answer in one sentence, 'citations' are the numbers of the passages "
    "used, 'answerable' is true if the passages answer the question, and 'confidence' is "
    "from 0 to 1."
)
ANALYST_INSTRUCTIONS = (
    "Answer the question from the numbered passages only. Reply with a JSON object: "
    "'data' holds the answer and follows the schema below, 'citations' are the numbers of "
    "the passages used, and 'answerable' is true if the passages answer the question.\n"
    "Schema of 'data': "
)
QUESTION_FRAME = "Passages:\n\n{passages}\n\nQuestion: {question}"
MAX_ANSWER_CHARS = 600


def system_message(user_schema: JSONSchema | None) -> Message:
    """The instructions, naming the fields the grammar will force anyway."""
    if user_schema is None:
        return Message("system", DEFAULT_INSTRUCTIONS)
    compact = json.dumps(user_schema, separators=(",", ":"), ensure_ascii=False)
    return Message("system", ANALYST_INSTRUCTIONS + compact)


def user_message(question: str, passages_block: str) -> Message:
    """The passages, then the question last, where a small model attends best."""
    return Message("user", QUESTION_FRAME.format(passages=passages_block, question=question))


def answer_schema(
    user_schema: JSONSchema | None, n_passages: int, max_answer_chars: int = MAX_ANSWER_CHARS
) -> JSONSchema:
    """The generation schema for `n_passages` passages (n >= 1)."""
    if n_passages < 1:
        raise ValueError("an answer schema needs at least one passage to cite")
    if user_schema is None:
        schema = default_answer_schema(n_passages, max_answer_chars)
    else:
        schema = wrap_user_schema(user_schema, n_passages)
    # Every answer is grounded: even an abstention names what it read (and is then dropped).
    schema["properties"]["citations"]["minItems"] = 1
    return schema
