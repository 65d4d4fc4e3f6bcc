"""Errors of the generators, so callers can tell "try later" from "this answer is unusable".

RagError
└── GeneratorError                 the generator failed or answered something unusable
    └── GeneratorUnavailableError  cannot be reached, overloaded (429/503 after retries), timed out
"""

from rag.errors import RagError


class GeneratorError(RagError):
    pass


class GeneratorUnavailableError(GeneratorError):
    pass
