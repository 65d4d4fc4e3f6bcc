"""Token-aware chunking: exact boundaries with the word tokenizer, the no-truncation guarantee
with the real MiniLM tokenizer on real and adversarial text."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest

from indexer.chunking import chunk_document
from indexer.chunking.boundaries import find_boundaries
from rag.embedding import Embedder
from rag.embedding.base import Tokenizer, embedding_text
from rag.embedding.fake import WordTokenizer
from rag.embedding.sentence import packaged_model_dir
from rag.types import Chunk, Document, Section

SCIFACT = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "scifact" / "corpus.jsonl"
)


def sentences(first: int, count: int) -> str:
    """Sentences of exactly 5 word-tokens each: 'S3 x y z.'"""
    return " ".join(f"S{i} x y z." for i in range(first, first + count))


def texts(doc: Document, max_tokens: int = 16, overlap: int = 0) -> list[str]:
    return [c.text for c in chunk_document(doc, WordTokenizer(), max_tokens, overlap)]


def one(text: str, title: str = "") -> Document:
    return Document("d", (Section(text),), title=title)


def test_sentences_are_packed_whole_up_to_the_budget() -> None:
    # 6 sentences x 5 tokens = 30 > 16: three sentences (15 tokens) per chunk
    assert texts(one(sentences(0, 6))) == [sentences(0, 3), sentences(3, 3)]


def test_paragraph_breaks_are_preferred_and_small_paragraphs_merge() -> None:
    # A (5) + B (5) fit together; C (10) fits alone but not after them: cut at the blank line,
    # not after C's first sentence.
    a, b, c = sentences(0, 1), sentences(1, 1), sentences(2, 2)
    assert texts(one(f"{a}\n\n{b}\n\n{c}")) == [f"{a}\n\n{b}", c]


def test_an_overlong_paragraph_fills_the_open_chunk_with_sentences() -> None:
    a, long = sentences(0, 1), sentences(1, 4)  # 5 + 20 tokens: the 20 must be split anyway
    assert texts(one(f"{a}\n\n{long}")) == [f"{a}\n\n{sentences(1, 2)}", sentences(3, 2)]


def test_overlap_repeats_trailing_whole_sentences() -> None:
    doc = one(sentences(0, 6))
    # overlap 5 holds one 5-token sentence: S2 and S4 are repeated
    assert texts(doc, overlap=5) == [sentences(0, 3), sentences(2, 3), sentences(4, 2)]
    # overlap 4 holds no whole sentence: no overlap at all
    assert texts(doc, overlap=4) == [sentences(0, 3), sentences(3, 3)]


def test_overlong_sentence_is_cut_at_tokens_with_token_overlap() -> None:
    words = [f"w{i}" for i in range(40)]
    # pieces of 16 starting every 12 tokens (16 - overlap 4): 0-15, 12-27, 24-39
    assert texts(one(" ".join(words)), overlap=4) == [
        " ".join(words[0:16]),
        " ".join(words[12:28]),
        " ".join(words[24:40]),
    ]
    assert texts(one(" ".join(words))) == [" ".join(words[i : i + 16]) for i in (0, 16, 32)]


def test_sentence_and_paragraph_starts() -> None:
    text = (
        "Alpha beta. Gamma e.g. delta. 3 items? yes! Next\nline.\n \nPara two. \u201cQuoted\u201d."
    )
    spans = WordTokenizer().token_spans(text)
    bounds = find_boundaries(text, spans)

    def words(indices: list[int]) -> list[str]:
        return [text[spans[i][0] : spans[i][1]] for i in indices]

    # no break before a lowercase word ("e.g. delta", "items? yes"); digits and quotes count
    assert words(bounds.sentences) == ["Alpha", "Gamma", "3", "Next", "line", "Para", "\u201c"]
    assert words(bounds.paragraphs) == ["Alpha", "Para"]


def test_chunks_stay_inside_sections_and_keep_their_place() -> None:
    doc = Document(
        "doc-1",
        (
            Section("First page text.", page=1, heading_path=("Intro",)),
            Section("  \n\n ", page=2),
            Section(sentences(0, 6), page=3, heading_path=("Intro", "Detail")),
        ),
        title="Report",
        metadata={"lang": "en"},
    )
    chunks = chunk_document(doc, WordTokenizer(), 16, 0)
    assert [c.text for c in chunks] == ["First page text.", sentences(0, 3), sentences(3, 3)]
    assert [c.position for c in chunks] == [0, 1, 2]
    assert [c.page for c in chunks] == [1, 3, 3]
    assert [c.heading_path for c in chunks] == [
        ("Intro",),
        ("Intro", "Detail"),
        ("Intro", "Detail"),
    ]
    assert all(c.doc_id == "doc-1" and c.title == "Report" for c in chunks)
    assert all(c.metadata == {"lang": "en"} for c in chunks)
    assert chunks[0].metadata is not doc.metadata


def test_empty_documents_and_sections_give_no_chunks() -> None:
    doc = Document("e", (Section(""), Section(" \n\t "), Section("\n\n")), title="Only a title")
    assert chunk_document(doc, WordTokenizer(), 16, 0) == []


def test_ids_are_stable_and_content_addressed() -> None:
    doc = one(sentences(0, 6))
    first = chunk_document(doc, WordTokenizer(), 16, 0)
    again = chunk_document(one(sentences(0, 6)), WordTokenizer(), 16, 0)
    assert [c.id for c in first] == [c.id for c in again]
    assert all(len(c.id) == 32 and int(c.id, 16) >= 0 for c in first)
    assert len({c.id for c in first}) == len(first)
    other_doc = Document("d2", doc.sections)
    assert chunk_document(other_doc, WordTokenizer(), 16, 0)[0].id != first[0].id
    edited = one(sentences(0, 6).replace("S1 x", "S1 q"))
    assert chunk_document(edited, WordTokenizer(), 16, 0)[0].id != first[0].id
    assert chunk_document(edited, WordTokenizer(), 16, 0)[1].id == first[1].id


def test_long_title_is_capped_and_shrinks_the_text_budget() -> None:
    title = " ".join(f"t{i}" for i in range(40))
    tokenizer = WordTokenizer(max_tokens=64)
    chunks = chunk_document(one(sentences(0, 20), title=title), tokenizer, 40, 5)
    assert chunks[0].title == " ".join(f"t{i}" for i in range(32))
    # window 64 - 2 specials - 32 title tokens = 30 tokens of text: six sentences per chunk
    assert chunks[0].text == sentences(0, 6)
    for c in chunks:
        assert len(tokenizer.token_spans(embedding_text(c.title, c.text))) + 2 <= 64


def test_embedding_text() -> None:
    assert embedding_text("Title", "body text") == "Title\nbody text"
    assert embedding_text("", "body text") == "body text"


@pytest.mark.parametrize(
    ("max_tokens", "overlap", "message"),
    [(15, 0, "max_tokens"), (16, 8, "overlap"), (16, -1, "overlap"), (200, 100, "overlap")],
)
def test_bad_settings_are_rejected(max_tokens: int, overlap: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        chunk_document(one("text"), WordTokenizer(), max_tokens, overlap)


def check_invariants(doc: Document, tokenizer: Tokenizer, max_tokens: int, overlap: int) -> None:
    """Chunks fit, are exact stripped substrings in order, and cover every token of the text."""
    chunks = chunk_document(doc, tokenizer, max_tokens, overlap)
    window = tokenizer.max_tokens - tokenizer.special_tokens
    by_section: dict[int, list[Chunk]] = {}
    for c in chunks:
        assert c.text and c.text == c.text.strip()
        assert len(tokenizer.token_spans(c.text)) <= max_tokens
        assert len(tokenizer.token_spans(embedding_text(c.title, c.text))) <= window
        section = next(i for i, s in enumerate(doc.sections) if c.text in s.text)
        by_section.setdefault(section, []).append(c)
    for i, section in enumerate(doc.sections):
        covered = [False] * len(section.text)
        offset = -1
        for c in by_section.get(i, []):
            offset = section.text.index(c.text, offset + 1)
            covered[offset : offset + len(c.text)] = [True] * len(c.text)
        missed = [s for s, e in tokenizer.token_spans(section.text) if not all(covered[s:e])]
        assert not missed, f"tokens at {missed[:5]} are in no chunk"


def random_doc(rng: random.Random, index: int) -> Document:
    """Random structure; every word is unique so each chunk is found at exactly one place."""
    serial = itertools.count()

    def word() -> str:
        kind = rng.choice(["alpha", "Gamma", "x-ray", "3.", "p<0.0", "run-on", "plain"])
        if kind == "run-on":  # a gapless run of tokens: forces cuts inside a "word"
            return "-".join(f"r{next(serial)}" for _ in range(rng.randint(5, 50)))
        return f"{kind}{next(serial)}"

    def sentence() -> str:
        words = " ".join(word() for _ in range(rng.randint(1, 25)))
        return words + rng.choice([".", "?", "!", "", ";"])

    def section() -> Section:
        paras = [
            " ".join(sentence() for _ in range(rng.randint(1, 5))) for _ in range(rng.randint(0, 3))
        ]
        return Section(rng.choice(["\n\n", "\n", " "]).join(paras), page=rng.randint(1, 9))

    sections = tuple(section() for _ in range(rng.randint(1, 3)))
    return Document(f"r{index}", sections, title=sentence())


def test_invariants_hold_on_random_documents() -> None:
    rng = random.Random(7)
    tokenizer = WordTokenizer(max_tokens=64)
    for i in range(150):
        max_tokens = rng.randint(16, 60)
        check_invariants(
            random_doc(rng, i), tokenizer, max_tokens, rng.randint(0, (max_tokens - 1) // 2)
        )


@pytest.fixture(scope="module")
def hf_tokenizer() -> Any:
    """The model's own Hugging Face tokenizer: the judge, independent of our adapter."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(packaged_model_dir()))


def assert_never_truncated(chunks: list[Chunk], hf: Any, max_tokens: int) -> None:
    for c in chunks:
        model_input = hf(embedding_text(c.title, c.text))["input_ids"]  # specials included
        assert len(model_input) <= 256, c.text
        assert len(hf(c.text, add_special_tokens=False)["input_ids"]) <= max_tokens, c.text


def adversarial_doc() -> Document:
    """Text that defeats sentence and word boundaries; unique throughout, see `random_doc`."""
    rng = random.Random(3)
    dna = "-".join("".join(rng.choice("ACGT") for _ in range(60)) for _ in range(40))
    chemistry = " ".join(f"(2S)-2-amino-3-(4-hydroxyphenyl)propanoic-acid-{i}" for i in range(60))
    cjk = "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(900))
    run_on = " ".join(f"immunohistochemistry{i}" for i in range(400))
    return Document(
        "adv",
        (Section(dna), Section(chemistry), Section(cjk), Section(run_on)),
        title=" ".join(["Pseudopseudohypoparathyroidism"] * 30),
    )


@pytest.mark.parametrize(("max_tokens", "overlap"), [(200, 32), (64, 16), (250, 0)])
def test_real_tokenizer_never_truncates_adversarial_text(
    minilm: Embedder, hf_tokenizer: Any, max_tokens: int, overlap: int
) -> None:
    doc = adversarial_doc()
    chunks = chunk_document(doc, minilm.tokenizer, max_tokens, overlap)
    assert {c.text[:10] for c in chunks} >= {s.text[:10] for s in doc.sections}
    assert_never_truncated(chunks, hf_tokenizer, max_tokens)
    check_invariants(doc, minilm.tokenizer, max_tokens, overlap)


@pytest.mark.skipif(not SCIFACT.exists(), reason=f"SciFact corpus not found at {SCIFACT}")
@pytest.mark.parametrize(("max_tokens", "overlap"), [(200, 32), (64, 16)])
def test_real_tokenizer_never_truncates_scifact(
    minilm: Embedder, hf_tokenizer: Any, max_tokens: int, overlap: int
) -> None:
    with SCIFACT.open(encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    # The longest abstracts and titles are the ones that stress the budget.
    records.sort(key=lambda r: len(r["title"]) + len(r["text"]), reverse=True)
    docs = [Document(r["_id"], (Section(r["text"]),), title=r["title"]) for r in records[:80]]
    chunks = [c for d in docs for c in chunk_document(d, minilm.tokenizer, max_tokens, overlap)]
    assert len(chunks) > len(docs)  # long abstracts really were split
    assert_never_truncated(chunks, hf_tokenizer, max_tokens)


def test_headers_name_the_document_and_the_innermost_sections() -> None:
    doc = Document(
        "guide.md",
        (
            Section(sentences(0, 6), heading_path=("Guide", "Setup", "Reset")),
            Section(sentences(6, 2)),
        ),
        title="Guide",
    )
    chunks = chunk_document(doc, WordTokenizer(), 16, 0, headers=True)
    # The outermost heading repeats the title and is beyond the two innermost anyway.
    assert [c.title for c in chunks] == ["Guide > Setup > Reset"] * 2 + ["Guide"]
    # The text stays the source text; the heading path is still its own field.
    assert chunks[1].text == sentences(3, 3) and chunks[1].heading_path == (
        "Guide",
        "Setup",
        "Reset",
    )
    # Without headers, every chunk carries the document title only (as KBs made before them).
    plain = chunk_document(doc, WordTokenizer(), 16, 0)
    assert [c.title for c in plain] == ["Guide"] * 3
    assert [c.text for c in plain] == [c.text for c in chunks]


def test_a_file_name_title_reads_as_words_in_the_header() -> None:
    doc = Document(
        "a.pdf",
        (Section("Net sales rose.", page=3, heading_path=("Item 8",)),),
        title="APPLE_2019_10K",
    )
    (chunk,) = chunk_document(doc, WordTokenizer(), 16, 0, headers=True)
    assert chunk.title == "APPLE 2019 10K > Item 8"


def test_a_long_header_is_cut_and_the_text_still_fits() -> None:
    tokenizer = WordTokenizer(max_tokens=64)
    heading = " ".join(f"h{i}" for i in range(80))
    doc = Document("d", (Section(sentences(0, 20), heading_path=(heading,)),), title="T")
    chunks = chunk_document(doc, tokenizer, 40, 5, headers=True)
    window = tokenizer.max_tokens - tokenizer.special_tokens
    for c in chunks:
        assert c.title.startswith("T > h0 h1")
        assert len(tokenizer.token_spans(c.title)) <= 48
        assert len(tokenizer.token_spans(embedding_text(c.title, c.text))) <= window


def test_a_megabyte_without_spaces_is_cut_by_characters(minilm: Embedder) -> None:
    # The MiniLM tokenizer makes one [UNK] token of any word past 100 characters, so the token
    # budget alone once let this whole megabyte through as one chunk.
    blob = "x" * 1_000_000
    doc = one(f"A short sentence first. {blob} And a last one.")
    chunks = chunk_document(doc, minilm.tokenizer, 200, 32, max_chars=4000)
    assert max(len(c.text) for c in chunks) <= 4000
    assert "".join(c.text for c in chunks).count("x") == 1_000_000  # nothing is lost
    assert chunks[0].text.startswith("A short sentence first.")
    assert chunks[-1].text.endswith("And a last one.")


def test_the_character_cap_prefers_whitespace() -> None:
    words = " ".join(f"word{i:04d}" for i in range(400))  # 3,599 characters, few tokens
    pieces = [c.text for c in chunk_document(one(words), WordTokenizer(), 1000, 0, max_chars=500)]
    assert all(len(p) <= 500 for p in pieces)
    assert " ".join(pieces) == words  # every cut fell on a space
