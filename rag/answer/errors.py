"""Errors of the answer path: the generator answered, but the answer cannot be used.

RagError
└── GeneratorError               (rag.generation.errors)
    └── AnswerError              a generated answer is unusable
        ├── AnswerTruncatedError still cut by max_tokens after the one retry with a larger budget
        └── AnswerInvalidError   not JSON, or JSON that breaks the schema it was generated for
"""

from rag.generation.errors import GeneratorError


class AnswerError(GeneratorError):
    pass


class AnswerTruncatedError(AnswerError):
    pass


class AnswerInvalidError(AnswerError):
    pass
