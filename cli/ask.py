"""`rag ask`: a grounded answer from a KB, with the passages it cites."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from api.schemas import AnswerOut
from cli.common import opened, parse_where, reported_errors
from rag.config import Settings, get_settings
from rag.errors import InvalidInputError
from rag.types import FusionKind, SearchMode
from rag.workspace import OpenKB

# The answer path imports jsonschema and the generator backends (a tenth of a second; xgrammar
# and torch only for a schema or a local model); other commands would pay for them at start-up,
# so they are imported when a question is actually asked.
if TYPE_CHECKING:
    from rag.answer import Answer, AnswerRequest


def ask(
    kb: str = typer.Argument(..., help="knowledge base name"),
    question: str = typer.Argument(..., help="the question"),
    mode: SearchMode = typer.Option("hybrid", help="retrieval: dense, bm25 or hybrid"),
    fusion: FusionKind | None = typer.Option(
        None, help="hybrid fusion: rrf, minmax or tmm (default: the KB's)"
    ),
    fusion_weight: float | None = typer.Option(
        None, help="the dense ranking's weight in hybrid fusion, 0..1 (default: the KB's)"
    ),
    k: int | None = typer.Option(None, "-k", help="passages to retrieve (default RAG_ANSWER_K)"),
    where: list[str] = typer.Option([], help="metadata filter key=value (repeatable, ANDed)"),
    schema: Path | None = typer.Option(None, help="JSON schema file for the answer's data"),
    profile: str | None = typer.Option(None, help="generator profile (default: by KB domain)"),
    max_tokens: int | None = typer.Option(None, help="answer budget in generated tokens"),
    min_relevance: float | None = typer.Option(
        None, help="dense cosine a passage needs (default RAG_ANSWER_MIN_RELEVANCE)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the answer object as JSON"),
) -> None:
    """Answer a question from a KB; the answer cites only passages it was given."""
    from rag.answer import AnswerRequest

    with reported_errors():
        request = AnswerRequest(
            question,
            mode=mode,
            fusion=fusion,
            fusion_weight=fusion_weight,
            k=k,
            filters=parse_where(where) or None,
            schema=read_schema(schema) if schema is not None else None,
            profile=profile,
            max_tokens=max_tokens,
            min_relevance=min_relevance,
        )
        with opened(kb) as handle:
            answer = asyncio.run(answer_once(get_settings(), handle, request))
    if as_json:
        wire = AnswerOut.of(answer).model_dump(mode="json")
        typer.echo(json.dumps(wire, indent=2, ensure_ascii=False))
    else:
        typer.echo(render(answer))


def read_schema(path: Path) -> dict[str, Any]:
    """An analyst schema from a JSON file (checked later, against the grammar)."""
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInputError(f"cannot read schema file {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise InvalidInputError(f"schema file {path} is not JSON: {exc}") from exc
    if not isinstance(schema, dict):
        raise InvalidInputError(f"schema file {path} must hold a JSON object")
    return schema


async def answer_once(settings: Settings, kb: OpenKB, request: AnswerRequest) -> Answer:
    """Answer one request with generators built for it, released afterwards."""
    from rag.answer import Answerer
    from rag.composition import answer_settings, router_settings
    from rag.generation.router import GeneratorRouter

    router = GeneratorRouter.from_settings(router_settings(settings))
    try:
        return await Answerer(router, answer_settings(settings)).answer(kb, request)
    finally:
        await router.aclose()


def render(answer: Answer) -> str:
    """The answer, how it was made, and the passages it cites, as plain text."""
    if answer.data is not None:
        body = json.dumps(answer.data, indent=2, ensure_ascii=False)
    else:
        body = answer.answer
    t = answer.timings
    facts = [answer.outcome.replace("_", " ")]
    if answer.quoted:
        facts.append("quoted verbatim from the sources, not written by a model")
    if answer.confidence is not None:
        facts.append(f"confidence {answer.confidence:.2f}")
    facts.append(f"profile {answer.profile} ({answer.model})")
    facts.append(
        f"{t.total:.2f}s: retrieve {t.retrieve:.2f}, pack {t.pack:.2f}, generate {t.generate:.2f}"
    )
    lines = [body, "", " | ".join(facts)]
    if answer.citations:
        lines += ["", "Sources:"]
    for c in answer.citations:
        page = f", page {c.page}" if c.page is not None else ""
        lines.append(f"[{c.passage}] {c.title or c.doc_id}{page} ({c.doc_id})")
        lines.append(f"    {_snippet(c.text)}")
    return "\n".join(lines)


def _snippet(text: str, width: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
