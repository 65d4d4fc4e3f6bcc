"""`POST /v1/embeddings`: a KB's embedder (or the service's) in the OpenAI format.

`model` is `kb:<name>`, which gives the vectors that KB searches with (the point: a client
can embed its own texts in the KB's vector space), or the embedder's own name. Vectors are
L2-normalised float32, sent as floats or, like OpenAI's `base64`, as little-endian float32
bytes.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence

import numpy as np
from fastapi import APIRouter

from api.deps import Reader, ServicesDep
from api.openai.models import PREFIX, invalid, model_not_found, resolve_model
from api.openai.schemas import (
    MAX_EMBEDDING_INPUTS,
    EmbeddingList,
    EmbeddingObject,
    EmbeddingRequest,
    EmbeddingUsage,
)
from api.services import Services
from controlplane.principal import Principal
from rag.embedding import Embedder
from rag.embedding.base import Vectors

router = APIRouter(tags=["openai"])


def inputs(given: str | list[str] | list[int] | list[list[int]]) -> list[str]:
    """The texts to embed; 400 for token arrays, an empty list, empty strings, too many."""
    texts = [given] if isinstance(given, str) else given
    if not texts:
        raise invalid("input must not be empty", "input", "invalid_input")
    if len(texts) > MAX_EMBEDDING_INPUTS:
        raise invalid(
            f"input has {len(texts)} items; at most {MAX_EMBEDDING_INPUTS} are allowed",
            "input",
            "too_many_inputs",
        )
    out: list[str] = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise invalid("token-id arrays are not supported: send text", "input")
        if not text:
            param = "input" if isinstance(given, str) else f"input[{i}]"
            raise invalid("input strings must not be empty", param, "invalid_input")
        out.append(text)
    return out


async def embedder_for(services: Services, principal: Principal, model: str) -> Embedder:
    """The embedder `model` names: a KB's, or the service's by its name."""
    if model.startswith(PREFIX):
        kb, _ = await resolve_model(services, principal, model)
        if kb.config.embedder == services.settings.embedder:
            return services.embedder  # the shared (micro-batched) one every KB here opens with
        opened = await asyncio.to_thread(services.kbs.get, kb.stored)
        return opened.embedder
    if model in (services.settings.embedder, services.embedder.name):
        return services.embedder
    raise model_not_found(model)


def token_count(embedder: Embedder, text: str) -> int:
    """Tokens the model reads of `text`: its own tokenizer's, cut where the model truncates."""
    tokenizer = embedder.tokenizer
    return min(len(tokenizer.token_spans(text)), tokenizer.max_tokens - tokenizer.special_tokens)


def embed(embedder: Embedder, texts: Sequence[str]) -> tuple[Vectors, int]:
    """Vectors and the tokens read (blocking: run it in a thread)."""
    return embedder.embed(texts), sum(token_count(embedder, t) for t in texts)


def encode(vector: Vectors, encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]


@router.post(
    "/embeddings",
    response_model=EmbeddingList,
    summary="Embed texts with a KB's embedder (OpenAI-compatible)",
    responses={404: {"description": "no such model (`model_not_found`)"}},
)
async def create_embeddings(
    body: EmbeddingRequest, principal: Reader, services: ServicesDep
) -> EmbeddingList:
    texts = inputs(body.input)
    embedder = await embedder_for(services, principal, body.model)
    if body.dimensions is not None and body.dimensions != embedder.dim:
        raise invalid(
            f"dimensions {body.dimensions} is not supported: this embedder gives {embedder.dim}",
            "dimensions",
        )
    vectors, tokens = await asyncio.to_thread(embed, embedder, texts)
    return EmbeddingList(
        data=[
            EmbeddingObject(index=i, embedding=encode(v, body.encoding_format))
            for i, v in enumerate(vectors)
        ],
        model=body.model,
        usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
    )
