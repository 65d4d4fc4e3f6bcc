"""Generation benchmarks: grammar cost per token, grammar compile time, answer latency split.

What it measures, in one process, on the packaged SmolLM2-135M (CPU, float32, greedy):
1. grammar overhead: the same prompt decoded for the same number of tokens, once constrained
   by a JSON-schema grammar (bitmask fill + apply + accept per token, as rag.generation.local
   does) and once free. The schema forces a long string, so the grammar never ends the JSON
   early; the free run then decodes exactly as many tokens. Decode only (prefill timed apart);
   runs alternate, the fastest of each is kept (the machine is shared). One more row is the
   real `LocalGenerator.generate` end to end (prefill, detokenizer, worker thread included).
2. grammar compile: `GrammarCache.get` of the default answer schema and of a wrapped analyst
   schema, cold (a fresh cache) and cached (the same cache again), plus the one-off
   `TokenizerInfo` build a generator does at load.
3. answer latency: a few PubMedQA questions through `Answerer.answer` on a small KB of their
   abstracts: retrieve / pack / generate seconds each (generate includes the prefill, so its
   tok/s is below the decode rate; the first answer, which loads and compiles, is not shown).

Run `python -m bench.generation [--tokens 64] [--questions 5] [--threads N] [--json]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import torch
import xgrammar as xgr
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from bench.machine import machine_info
from bench.paths import cache_dir, require_data
from bench.report import Report, Table
from evaluation.answers import DECISION_SCHEMA
from evaluation.pubmedqa import load_pubmedqa, pubmedqa_documents
from indexer.ingest import Ingestor
from rag.answer import Answerer, AnswerRequest, AnswerSettings
from rag.config import Settings
from rag.generation.base import Message
from rag.generation.grammar import GrammarCache
from rag.generation.local import LocalGenerator
from rag.generation.packaged_model import PACKAGED_GENERATOR, packaged_model_dir
from rag.generation.profiles import GeneratorProfile
from rag.generation.router import GeneratorRouter
from rag.generation.schema import default_answer_schema, wrap_user_schema

LONG_SCHEMA = {
    "type": "object",
    "properties": {"summary": {"type": "string", "minLength": 2000}},
    "required": ["summary"],
}
PROMPT = [
    Message("system", "Reply with a JSON object holding a long summary."),
    Message("user", "Summarise what is known about how the moon causes ocean tides on Earth."),
]


def decode(
    model: Any, prompt: list[int], steps: int, grammar: xgr.CompiledGrammar | None
) -> tuple[float, float, int]:
    """Greedy decode: (prefill seconds, decode seconds, tokens decoded)."""
    vocab = int(model.config.vocab_size)
    matcher = xgr.GrammarMatcher(grammar) if grammar is not None else None
    bitmask = xgr.allocate_token_bitmask(1, vocab)
    with torch.inference_mode():
        t0 = time.perf_counter()
        out = model(input_ids=torch.tensor([prompt]), use_cache=True, logits_to_keep=1)
        t1 = time.perf_counter()
        done = 0
        while done < steps:
            logits = out.logits[:, -1, :]
            if matcher is not None:
                matcher.fill_next_token_bitmask(bitmask)
                xgr.apply_token_bitmask_inplace(logits, bitmask, vocab_size=vocab)
            token = int(torch.argmax(logits, dim=-1).item())
            done += 1
            if matcher is not None and (not matcher.accept_token(token) or matcher.is_terminated()):
                break
            out = model(
                input_ids=torch.tensor([[token]]), cache=out.cache, use_cache=True, logits_to_keep=1
            )
        return t1 - t0, time.perf_counter() - t1, done


def grammar_overhead(folder: Path, cache: Path, tokens: int, repeats: int) -> Table:
    """Tokens/s constrained vs free on the same prompt and token count."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model: Any = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=int(model.config.vocab_size))
    grammar = GrammarCache(info).get(LONG_SCHEMA)
    chat = [{"role": m.role, "content": m.content} for m in PROMPT]
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    prompt = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    best: dict[str, tuple[float, float, int]] = {}
    for repeat in range(repeats):  # alternate the order, keep the fastest of each
        # The free run decodes as many tokens as the constrained one did (known after run 1).
        n = best["constrained"][2] if best else tokens
        runs = [("constrained", grammar, tokens), ("free", None, n)]
        for label, g, steps in runs if repeat % 2 == 0 else runs[::-1]:
            run = decode(model, prompt, steps, g)
            if label not in best or run[1] < best[label][1]:
                best[label] = run
    assert best["constrained"][2] == best["free"][2], "both runs must decode the same tokens"
    table = Table(
        f"Grammar overhead: {best['free'][2]} tokens, prompt {len(prompt)} tokens, greedy",
        ["decoder", "prefill ms", "decode tok/s", "vs free"],
    )
    free_rate = best["free"][2] / best["free"][1]
    for label, (prefill, seconds, n) in best.items():
        rate = n / seconds
        table.rows.append([label, prefill * 1000, rate, f"{rate / free_rate:.3f}x"])
    table.rows.append(
        ["LocalGenerator.generate (end to end)", *_real_generator(cache, tokens, free_rate)]
    )
    return table


def _real_generator(cache: Path, tokens: int, free_rate: float) -> list[Any]:
    gen = LocalGenerator(PACKAGED_GENERATOR, cache)

    async def run() -> tuple[float, int]:
        await gen.generate(PROMPT, LONG_SCHEMA, 1)  # compiles the grammar: not what is timed
        t0 = time.perf_counter()
        result = await gen.generate(PROMPT, LONG_SCHEMA, tokens)
        return time.perf_counter() - t0, result.usage.completion_tokens

    try:
        seconds, n = asyncio.run(run())
    finally:
        gen.close()
    return ["(in total)", n / seconds, f"{n / seconds / free_rate:.3f}x"]


def compile_times(folder: Path, repeats: int) -> Table:
    """Cold and cached grammar compile of the answer schemas."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    t0 = time.perf_counter()
    vocab = int(AutoConfig.from_pretrained(folder).vocab_size)  # the logits' width, as at load
    info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab)
    info_ms = (time.perf_counter() - t0) * 1000
    table = Table(
        "Grammar compile (xgrammar, GrammarCache.get)", ["schema", "cold ms", "cached ms"]
    )
    schemas = {
        "default answer, 5 passages": default_answer_schema(5),
        "analyst (decision) wrapped, 5 passages": wrap_user_schema(DECISION_SCHEMA, 5),
    }
    for label, schema in schemas.items():
        cold = []
        for _ in range(repeats):
            cache = GrammarCache(info)
            t0 = time.perf_counter()
            cache.get(schema)
            cold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(100):
            cache.get(schema)
        cached = (time.perf_counter() - t0) / 100
        table.rows.append([label, min(cold) * 1000, cached * 1000])
    table.rows.append(["(TokenizerInfo build, once per generator)", info_ms, "-"])
    return table


def answer_latency(settings: Settings, model_cache: Path, questions: int) -> Table:
    """Retrieve / pack / generate split of real answers on a small PubMedQA KB."""
    from rag.workspace import Workspace

    items = load_pubmedqa(require_data("pubmedqa"))[:50]
    ws = Workspace(settings)
    if "bench-answers" not in {c.name for c in ws.list()}:
        ws.create("bench-answers", domain="medical")
    kb = ws.open("bench-answers")
    table = Table(
        f"Answer latency: PubMedQA questions on a {len(items)}-abstract KB, hybrid, k=5",
        [
            "question",
            "outcome",
            "retrieve ms",
            "pack ms",
            "generate s",
            "prompt",
            "tokens",
            "tok/s",
        ],
    )

    async def run() -> None:
        router = GeneratorRouter({"local": GeneratorProfile()}, "local", {}, model_cache)
        answerer = Answerer(
            router, AnswerSettings(k=5, min_relevance=settings.answer_min_relevance)
        )
        try:
            await answerer.answer(kb, AnswerRequest(items[0].question))  # load and compile
            for n, item in enumerate(items[1 : questions + 1], start=1):
                a = await answerer.answer(kb, AnswerRequest(item.question))
                t, done = a.timings, a.usage.completion_tokens
                rate = done / t.generate if t.generate else 0.0  # prefill included
                row = [n, a.outcome, t.retrieve * 1000, t.pack * 1000, t.generate]
                table.rows.append([*row, a.usage.prompt_tokens, done, rate])
        finally:
            await router.aclose()

    try:
        Ingestor.for_kb(kb, settings).ingest_documents(pubmedqa_documents(items), progress=False)
        asyncio.run(run())
    finally:
        kb.close()
    generated = [r for r in table.rows if r[1] != "no_relevant_passages"]  # no model call
    if generated:
        medians = [statistics.median(float(r[i]) for r in generated) for i in (2, 3, 4)]
        table.rows.append(["median (model called)", "", *medians, "", "", ""])
    return table


def main() -> None:
    """Run the three measurements and print one report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64, help="tokens per decode run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, fastest kept")
    parser.add_argument("--questions", type=int, default=5, help="questions in the latency split")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = Settings(data_dir=cache_dir("generation"))
    folder = packaged_model_dir(settings.cache_dir)
    report = Report(
        "Generation (packaged SmolLM2-135M, CPU)",
        machine_info(),
        {"tokens": args.tokens, "repeats": args.repeats, "threads": torch.get_num_threads()},
    )
    report.tables.append(grammar_overhead(folder, settings.cache_dir, args.tokens, args.repeats))
    report.tables.append(compile_times(folder, args.repeats))
    report.tables.append(answer_latency(settings, settings.cache_dir, args.questions))
    report.emit(args.json)


if __name__ == "__main__":
    main()
