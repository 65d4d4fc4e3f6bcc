"""The answer path: retrieve, gate by relevance, pack, generate under a schema, validate.

A profile of the extractive backend replaces packing and generation by quoting: the
sentences of the passing passages that best answer the question (`rag.answer.extractive`).
The relevance gate is the same for every profile: a passage's cosine to the question, and
the question's names, years and figures found in the passages that pass (`rag.answer.terms`).

Retrieval, relevance and packing are blocking CPU work (FAISS, the embedder, tokenizers) and
run in a worker thread; only generation is awaited on the event loop. A generation cut by
`max_tokens` is retried once with twice the budget (the packing leaves room for it), then
fails as `AnswerTruncatedError`. Decoding is greedy on both backends, so the retry repeats
the truncated text before extending it: the streaming form sends only the new part.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from rag.answer.errors import AnswerError, AnswerTruncatedError
from rag.answer.extractive import extract, quoted_answer
from rag.answer.grounding import RunInfo, abstention, checked_output, grounded_answer
from rag.answer.packing import MIN_CUT_TOKENS, pack_passages, render_passages
from rag.answer.prompt import MAX_ANSWER_CHARS, answer_schema, system_message, user_message
from rag.answer.relevance import above, relevance
from rag.answer.settings import AnswerSettings
from rag.answer.terms import key_terms, missing_terms
from rag.answer.types import (
    Answer,
    AnswerEvent,
    AnswerRequest,
    DeltaEvent,
    Passage,
    PassagesEvent,
    StreamEvent,
    Timings,
)
from rag.errors import InvalidInputError
from rag.generation.base import Generation, Generator, JSONSchema, Message, Usage
from rag.generation.router import GeneratorRouter
from rag.generation.schema import check_user_schema
from rag.kb import OpenKB
from rag.retrieval.query import informative_query
from rag.types import Hit

# Chat-template tokens around the messages (role markers, the generation prompt).
TEMPLATE_SLACK = 32


@dataclass(frozen=True)
class Prepared:
    """Everything decided before generation: passages, prompt, schema and token budgets."""

    request: AnswerRequest
    profile: str
    generator: Generator | None  # None: the profile quotes instead of generating
    model: str
    passages: tuple[Passage, ...]
    messages: tuple[Message, ...]
    schema: JSONSchema  # empty when no passage was relevant
    budgets: tuple[int, ...]  # the first attempt's max_tokens, then the retry's if it fits
    timings: Timings


class Answerer:
    """Answers questions over an opened KB with the generator its profile names."""

    def __init__(
        self, router: GeneratorRouter, settings: AnswerSettings = AnswerSettings()
    ) -> None:
        self.router = router
        self.settings = settings

    @property
    def k(self) -> int:
        """Passages retrieved when a request does not say."""
        return self.settings.k

    @property
    def min_relevance(self) -> float:
        """The relevance threshold when a request does not say."""
        return self.settings.min_relevance

    async def answer(self, kb: OpenKB, request: AnswerRequest) -> Answer:
        """The validated answer to `request`, or a structured abstention."""
        prep = await asyncio.to_thread(self.prepare, kb, request)
        if not prep.passages:
            return self._nothing_relevant(prep)
        if prep.generator is None:
            return await asyncio.to_thread(self.quote, kb, prep)
        started = time.perf_counter()
        usage = Usage(0, 0)
        for attempt, budget in enumerate(prep.budgets, start=1):
            generation = await prep.generator.generate(prep.messages, prep.schema, budget)
            usage = _add(usage, generation.usage)
            if generation.finish_reason == "stop":
                return self._finish(prep, generation, usage, attempt, time.perf_counter() - started)
        raise _truncated(prep)

    async def stream(self, kb: OpenKB, request: AnswerRequest) -> AsyncIterator[StreamEvent]:
        """Passages first, then text deltas of the generated JSON, then the final answer."""
        prep = await asyncio.to_thread(self.prepare, kb, request)
        yield PassagesEvent(prep.passages)
        if not prep.passages:
            yield AnswerEvent(self._nothing_relevant(prep))
            return
        generator = prep.generator
        if generator is None:
            quoted = await asyncio.to_thread(self.quote, kb, prep)
            # One delta holding the answer object, as a generator would have streamed it,
            # so every consumer of deltas (the chat stream's field parser) reads it the same.
            yield DeltaEvent(quoted_json(quoted))
            yield AnswerEvent(quoted)
            return
        started = time.perf_counter()
        usage = Usage(0, 0)
        sent = ""
        for attempt, budget in enumerate(prep.budgets, start=1):
            text = ""
            items = generator.stream(prep.messages, prep.schema, budget)
            try:
                async for item in items:
                    if isinstance(item, Generation):
                        usage = _add(usage, item.usage)
                        if item.finish_reason == "stop":
                            seconds = time.perf_counter() - started
                            yield AnswerEvent(self._finish(prep, item, usage, attempt, seconds))
                            return
                        break
                    text += item
                    common = min(len(text), len(sent))
                    if text[:common] != sent[:common]:
                        raise AnswerError("the retry after truncation diverged from the text sent")
                    if len(text) > len(sent):
                        yield DeltaEvent(text[len(sent) :])
                        sent = text
            finally:
                # Leaving early (an error, a consumer that stopped) must stop the decode too.
                close = getattr(items, "aclose", None)
                if close is not None:
                    await close()
        raise _truncated(prep)

    def prepare(self, kb: OpenKB, request: AnswerRequest) -> Prepared:
        """Retrieve, gate and pack for `request` (blocking); generation is left to do."""
        if request.schema is not None:
            check_user_schema(request.schema)  # before any work: a bad schema is the caller's
        name = self.router.resolve(kb.config.domain, request.profile, request.schema is not None)
        if not self.router.fills_schemas(name):
            return self._prepare_quote(kb, request, name)
        generator = self.router.generator(name)
        t0 = time.perf_counter()
        scored = self.retrieve(kb, request)
        t1 = time.perf_counter()
        system = system_message(request.schema)
        passages, budgets = self._fit(name, generator, system, request, scored)
        messages = (system, user_message(request.question, render_passages(passages)))
        # At most one character per token of the first budget: numbers tokenize digit by
        # digit, and a looping model fills every character it is allowed.
        chars = min(MAX_ANSWER_CHARS, budgets[0])
        schema = answer_schema(request.schema, len(passages), chars) if passages else {}
        timings = Timings(retrieve=t1 - t0, pack=time.perf_counter() - t1)
        return Prepared(
            request,
            name,
            generator,
            generator.name,
            tuple(passages),
            messages,
            schema,
            budgets,
            timings,
        )

    def _prepare_quote(self, kb: OpenKB, request: AnswerRequest, name: str) -> Prepared:
        """Retrieve and gate for a quoting profile: every passing passage, whole, unpacked."""
        if request.schema is not None:
            raise InvalidInputError(
                f"profile {name!r} quotes passages and cannot fill a JSON schema; send the "
                "schema with a profile that generates: " + ", ".join(self.router.schema_profiles)
            )
        t0 = time.perf_counter()
        scored = self.retrieve(kb, request)
        passages = tuple(
            Passage(n, hit, score, hit.chunk.text.strip())
            for n, (hit, score) in enumerate(scored, start=1)
        )
        timings = Timings(retrieve=time.perf_counter() - t0)
        return Prepared(
            request, name, None, self.model_name(kb, name), passages, (), {}, (), timings
        )

    def model_name(self, kb: OpenKB, name: str) -> str:
        """The model that answers for profile `name`: a generator's, or the quoting embedder."""
        if self.router.fills_schemas(name):
            return self.router.generator(name).name
        return f"extractive ({kb.embedder.name})"

    def quote(self, kb: OpenKB, prep: Prepared) -> Answer:
        """The answer quoting the passages' best sentences (blocking: it embeds them)."""
        started = time.perf_counter()
        question = prep.request.question
        # The question, not the retrieval query: a chat follow-up is retrieved with the turns
        # before it, but the sentences must answer what was asked.
        vector = kb.retriever.embed_query(question)
        picked = extract(question, vector, prep.passages, kb.embedder.embed)
        timings = replace(prep.timings, generate=time.perf_counter() - started)
        run = RunInfo(prep.profile, prep.model, Usage(0, 0), timings, attempts=0)
        return quoted_answer(question, picked, prep.passages, run)

    def retrieve(self, kb: OpenKB, request: AnswerRequest) -> list[tuple[Hit, float]]:
        """The hits relevant enough to show the model, with their relevance, best first.

        The query is embedded once: dense search and the relevance gate share the vector.
        """
        k = request.k or self.k
        query = request.question if request.query is None else request.query
        if self.settings.focus_query:
            query = informative_query(query)
        vector = kb.retriever.embed_query(query)
        fusion = kb.retriever.fusion_for(request.fusion, request.fusion_weight)
        hits = kb.retriever.search(
            query, request.mode, k, request.filters, vector=vector, fusion=fusion
        )
        scores = relevance(hits, vector, kb.store, kb.embedder)
        threshold = self.min_relevance if request.min_relevance is None else request.min_relevance
        passing = above(hits, scores, threshold)
        # Close in meaning is not enough: a question naming a company, year or figure that
        # no passing passage names asks about something the KB does not hold.
        texts = [f"{hit.chunk.title}\n{hit.chunk.text}" for hit, _ in passing]
        if missing_terms(key_terms(request.question), texts):
            return []
        return passing

    def _fit(
        self,
        name: str,
        generator: Generator,
        system: Message,
        request: AnswerRequest,
        scored: list[tuple[Hit, float]],
    ) -> tuple[list[Passage], tuple[int, ...]]:
        """Passages packed into the profile's context, and the generation budgets left."""
        profile = self.router.profile(name)
        max_tokens = profile.max_tokens if request.max_tokens is None else request.max_tokens
        if max_tokens < 1:
            raise InvalidInputError(f"max_tokens must be at least 1, got {max_tokens}")
        if not scored:
            return [], (max_tokens,)
        frame = generator.count_tokens(system.content) + TEMPLATE_SLACK
        frame += generator.count_tokens(user_message(request.question, "").content)
        # Room for the retry's doubled budget is kept, so a retry never overflows.
        room = profile.context_window - 2 * max_tokens - frame
        if room < MIN_CUT_TOKENS:
            raise InvalidInputError(
                f"max_tokens {max_tokens} and the question leave no room for passages in "
                f"the {profile.context_window}-token context of profile {name!r}"
            )
        passages = pack_passages(scored, room, generator.count_tokens)
        used = generator.count_tokens(render_passages(passages))
        return passages, _budgets(max_tokens, profile.context_window - frame - used)

    def _nothing_relevant(self, prep: Prepared) -> Answer:
        run = RunInfo(prep.profile, prep.model, Usage(0, 0), prep.timings, attempts=0)
        return abstention(prep.request.question, "no_relevant_passages", (), run)

    def _finish(
        self, prep: Prepared, generation: Generation, usage: Usage, attempts: int, seconds: float
    ) -> Answer:
        output = checked_output(generation, prep.schema)
        timings = replace(prep.timings, generate=seconds)
        run = RunInfo(prep.profile, generation.model, usage, timings, attempts)
        analyst = prep.request.schema is not None
        return grounded_answer(prep.request.question, output, prep.passages, analyst, run)


def quoted_json(answer: Answer) -> str:
    """The answer object of the default schema that a quoted answer stands for, as JSON."""
    cited = [c.passage for c in answer.citations]
    body = {"answer": answer.answer, "citations": cited, "answerable": answer.answerable}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _budgets(max_tokens: int, room: int) -> tuple[int, ...]:
    retry = min(2 * max_tokens, room)
    return (max_tokens, retry) if retry > max_tokens else (max_tokens,)


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(a.prompt_tokens + b.prompt_tokens, a.completion_tokens + b.completion_tokens)


def _truncated(prep: Prepared) -> AnswerTruncatedError:
    return AnswerTruncatedError(
        f"the answer did not fit in {prep.budgets[-1]} tokens (finish_reason 'length', "
        f"{len(prep.budgets)} attempt(s)); raise max_tokens of profile {prep.profile!r} "
        "or ask a narrower question"
    )
