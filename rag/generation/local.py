"""The in-process generator: a Hugging Face causal LM on CPU, greedy, constrained by xgrammar.

Requests run one at a time on a dedicated worker thread: the event loop never runs model
code, waiting requests hold no thread, and two decodes never fight over the CPU cores.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xgrammar as xgr

from rag.errors import ConfigError, InvalidInputError
from rag.generation.base import FinishReason, Generation, JSONSchema, Message, Usage
from rag.generation.errors import GeneratorError
from rag.generation.grammar import GrammarCache
from rag.generation.packaged_model import PACKAGED_GENERATOR, PACKAGED_NAME, packaged_model_dir

Emit = Callable[[str], None]


@dataclass(frozen=True)
class _Loaded:
    model: Any
    tokenizer: Any
    grammars: GrammarCache
    vocab_size: int


class LocalGenerator:
    """`Generator` over a local model folder, or the packaged SmolLM2 (converted on first load).

    `model` is a Hugging Face causal-LM folder with a chat template, or `PACKAGED_GENERATOR`;
    `cache_dir` is where the packaged model is converted to. Nothing is read until `load()`
    (or the first request), so building one is cheap.
    """

    def __init__(
        self,
        model: str | Path,
        cache_dir: Path,
        max_context: int = 2048,
        threads: int | None = None,
        grammar_cache_size: int = 64,
    ) -> None:
        if max_context < 16:
            raise ConfigError("max_context must be at least 16 tokens")
        if threads is not None and threads < 1:
            raise ConfigError("threads must be at least 1")
        self._packaged = str(model) == PACKAGED_GENERATOR
        self._model_path = None if self._packaged else Path(model).expanduser()
        self.name = PACKAGED_NAME if self._model_path is None else self._model_path.name
        self.cache_dir = cache_dir
        self.max_context = max_context
        self._threads = threads
        self._grammar_cache_size = grammar_cache_size
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-generator")

    def load(self) -> None:
        """Convert (first time only) and load the model; blocking, so call it at startup."""
        with self._lock:
            self._ensure_loaded()

    @property
    def grammars(self) -> GrammarCache:
        """The compiled-grammar cache (loads the model's tokenizer on first use)."""
        return self._bundle().grammars

    def close(self) -> None:
        """Stop the worker thread once queued requests are done."""
        self._executor.shutdown(wait=True)

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` in the model's tokenizer, without special tokens."""
        return len(self._bundle().tokenizer.encode(text, add_special_tokens=False))

    async def generate(
        self, messages: Sequence[Message], schema: JSONSchema, max_tokens: int
    ) -> Generation:
        """Generate JSON text valid against `schema` (unless cut by `max_tokens`)."""
        _check_budget(max_tokens)
        cancel = threading.Event()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor, self._run, messages, schema, max_tokens, _discard, cancel
            )
        finally:
            cancel.set()  # a cancelled caller stops the decode at its next token

    async def stream(
        self, messages: Sequence[Message], schema: JSONSchema, max_tokens: int
    ) -> AsyncIterator[str | Generation]:
        """Yield text deltas as they decode, then the finished `Generation`."""
        _check_budget(max_tokens)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | Generation | BaseException] = asyncio.Queue()
        cancel = threading.Event()

        def put(item: str | Generation | BaseException) -> None:
            if not cancel.is_set():
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                put(self._run(messages, schema, max_tokens, put, cancel))
            except BaseException as exc:  # handed to the consumer, raised there
                put(exc)

        loop.run_in_executor(self._executor, work)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if isinstance(item, Generation):
                    return
        finally:
            cancel.set()  # the consumer left: stop decoding for nobody

    def _bundle(self) -> _Loaded:
        if self._loaded is None:
            self.load()
        assert self._loaded is not None
        return self._loaded

    def _ensure_loaded(self) -> _Loaded:
        if self._loaded is not None:
            return self._loaded
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = packaged_model_dir(self.cache_dir) if self._model_path is None else self._model_path
        if not (path / "config.json").is_file():
            raise ConfigError(f"not a Hugging Face model folder: {path}")
        if self._threads is not None:
            torch.set_num_threads(self._threads)  # process-wide: torch has one intra-op pool
        # Weights come from disk only: a hub lookup would fail on an offline machine.
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        if tokenizer.chat_template is None:
            raise ConfigError(f"{path} has no chat template; an instruct model is needed")
        # float32: bf16 matmuls are slower than fp32 on CPUs without AMX.
        model: Any = AutoModelForCausalLM.from_pretrained(
            path, dtype=torch.float32, local_files_only=True
        )
        model.eval()
        limit = getattr(model.config, "max_position_embeddings", None)
        if limit is not None and self.max_context > limit:
            raise ConfigError(f"max_context {self.max_context} exceeds the model's {limit}")
        # The logits' width, which may exceed the tokenizer's vocabulary (padding).
        vocab_size = int(model.config.vocab_size)
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
        grammars = GrammarCache(info, self._grammar_cache_size, threads=self._threads or 2)
        self._loaded = _Loaded(model, tokenizer, grammars, vocab_size)
        return self._loaded

    def _run(
        self,
        messages: Sequence[Message],
        schema: JSONSchema,
        max_tokens: int,
        emit: Emit,
        cancel: threading.Event,
    ) -> Generation:
        with self._lock:
            bundle = self._ensure_loaded()
            prompt = _prompt_ids(bundle.tokenizer, messages)
            if len(prompt) + max_tokens > self.max_context:
                raise InvalidInputError(
                    f"prompt ({len(prompt)} tokens) plus max_tokens ({max_tokens}) exceeds "
                    f"the context of {self.max_context} tokens"
                )
            try:
                grammar = bundle.grammars.get(schema)
            except RuntimeError as exc:
                raise InvalidInputError(f"the schema cannot be compiled: {exc}") from exc
            text, finish, generated = _decode(bundle, prompt, grammar, max_tokens, emit, cancel)
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        return Generation(text, data, finish, Usage(len(prompt), generated), self.name)


def _check_budget(max_tokens: int) -> None:
    if max_tokens < 1:
        raise InvalidInputError("max_tokens must be at least 1")


def _discard(_: str) -> None:
    pass


def _prompt_ids(tokenizer: Any, messages: Sequence[Message]) -> list[int]:
    chat = [{"role": m.role, "content": m.content} for m in messages]
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    # The template already holds the special tokens; adding them again would double BOS.
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _decode(
    bundle: _Loaded,
    prompt: list[int],
    grammar: xgr.CompiledGrammar,
    max_tokens: int,
    emit: Emit,
    cancel: threading.Event,
) -> tuple[str, FinishReason, int]:
    """Greedy decoding under the grammar, with a KV cache: (text, finish reason, tokens)."""
    import torch

    matcher = xgr.GrammarMatcher(grammar)
    bitmask = xgr.allocate_token_bitmask(1, bundle.vocab_size)
    detok = IncrementalDetokenizer(bundle.tokenizer)
    parts: list[str] = []
    finish: FinishReason = "length"
    inputs = torch.tensor([prompt])
    cache = None  # the KV cache: each step feeds only the newest token
    generated = 0
    with torch.inference_mode():
        while generated < max_tokens and not cancel.is_set():
            # logits_to_keep=1: only the last position's logits (the prompt's would be wasted).
            out = bundle.model(input_ids=inputs, cache=cache, use_cache=True, logits_to_keep=1)
            cache = out.cache
            logits = out.logits[:, -1, :]
            matcher.fill_next_token_bitmask(bitmask)
            xgr.apply_token_bitmask_inplace(logits, bitmask, vocab_size=bundle.vocab_size)
            token = int(torch.argmax(logits, dim=-1).item())
            if not matcher.accept_token(token):
                raise GeneratorError(f"the grammar rejected token {token} it had allowed")
            generated += 1
            if matcher.is_terminated():  # the stop token: the JSON is complete
                finish = "stop"
                break
            delta = detok.push(token)
            if delta:
                parts.append(delta)
                emit(delta)
            inputs = torch.tensor([[token]])
    tail = detok.flush()
    if tail:
        parts.append(tail)
        emit(tail)
    return "".join(parts), finish, generated


class IncrementalDetokenizer:
    """Turns a growing list of token ids into text deltas without splitting a character.

    A byte-level token can end inside a multi-byte UTF-8 character; decoding it alone gives
    U+FFFD. The delta waits until the character is complete, and it is cut from a decode
    of a short window that starts one step back, so tokenizers that change a token's text
    by its neighbour (a leading space) still produce the right characters.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._prefix = 0  # window start
        self._read = 0  # tokens already turned into text

    def push(self, token_id: int) -> str:
        """Add one token; return the text it completes (may be empty)."""
        self._ids.append(token_id)
        seen = self._text(self._prefix, self._read)
        text = self._text(self._prefix, len(self._ids))
        if len(text) <= len(seen) or text.endswith("\ufffd"):
            return ""
        self._prefix, self._read = self._read, len(self._ids)
        return text[len(seen) :]

    def flush(self) -> str:
        """The text still held back (an incomplete character decodes as U+FFFD)."""
        seen = self._text(self._prefix, self._read)
        text = self._text(self._prefix, len(self._ids))
        self._prefix = self._read = len(self._ids)
        return text[len(seen) :]

    def _text(self, start: int, end: int) -> str:
        return str(
            self._tokenizer.decode(
                self._ids[start:end], skip_special_tokens=False, clean_up_tokenization_spaces=False
            )
        )
