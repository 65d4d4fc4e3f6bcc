"""Ingest, re-ingest, change, sync and delete on a real KB with the real embedder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from indexer.ingest import Ingestor
from rag.config import Settings
from rag.embedding import Embedder
from rag.embedding.base import Vectors
from rag.workspace import OpenKB, Workspace

DOCS = {
    "volcano.md": "# Volcanoes\n\nBasaltic lava from shield volcanoes flows far before it cools.",
    "tides.md": "# Tides\n\nThe moon's gravity raises two tidal bulges on the oceans each day.",
    "bees.md": "# Bees\n\nHoneybees dance a waggle dance to tell the hive where nectar is.",
}


class CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name, self.dim, self.tokenizer = inner.name, inner.dim, inner.tokenizer
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts += len(texts)
        return self.inner.embed(texts)


def write_corpus(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def doc_ids_found(kb: OpenKB, query: str) -> dict[str, set[str]]:
    return {
        mode: {h.doc_id for h in kb.retriever.search(query, mode, 10)}
        for mode in ("dense", "bm25", "hybrid")
    }


def test_reingest_unchanged_does_no_embedding_work(
    workspace: Workspace, settings: Settings, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus", DOCS)
    workspace.create("kb")
    kb = workspace.open("kb")
    counter = CountingEmbedder(kb.embedder)
    ingestor = Ingestor(kb.store, counter, kb.config, batch_chunks=2, flush_seconds=0)
    first = ingestor.ingest_paths([corpus], progress=False)
    assert (first.added, first.updated, first.unchanged) == (3, 0, 0)
    embedded = counter.texts
    assert embedded >= 3

    second = ingestor.ingest_paths([corpus], progress=False)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 3)
    assert counter.texts == embedded  # not one text embedded again
    kb.close()


def test_changed_document_is_replaced_and_sync_deletes_everywhere(
    workspace: Workspace, settings: Settings, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus", DOCS)
    workspace.create("kb")
    kb = workspace.open("kb")
    ingestor = Ingestor.for_kb(kb, settings)
    ingestor.ingest_paths([corpus], progress=False)

    (corpus / "bees.md").write_text("# Bees\n\nBumblebees buzz-pollinate tomato flowers.")
    changed = ingestor.ingest_paths([corpus], progress=False)
    assert (changed.updated, changed.unchanged) == (1, 2)
    assert "corpus/bees.md" not in doc_ids_found(kb, "waggle dance nectar hive")["bm25"]
    assert "corpus/bees.md" in doc_ids_found(kb, "tomato pollination")["bm25"]

    (corpus / "volcano.md").unlink()
    synced = ingestor.ingest_paths([corpus], sync=True, progress=False)
    assert synced.deleted == 1
    query = DOCS["volcano.md"]
    for mode, found in doc_ids_found(kb, query).items():
        assert "corpus/volcano.md" not in found, mode
    kb.close()

    reopened = workspace.open("kb")  # the delete survives a reopen
    for mode, found in doc_ids_found(reopened, query).items():
        assert "corpus/volcano.md" not in found, mode
    assert reopened.store.stats().documents == 2
    reopened.close()


def test_delete_by_id_and_by_metadata_in_every_mode(workspace: Workspace, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", DOCS)
    (corpus / "notes.csv").write_text("id,team,text\n1,red,Red team owns the tide tables\n")
    workspace.create("kb")
    kb = workspace.open("kb")
    Ingestor(kb.store, kb.embedder, kb.config).ingest_paths([corpus], progress=False)
    assert kb.store.delete(["corpus/tides.md"]) == 1
    assert kb.store.delete_where({"team": "red"}) == 1
    for mode, found in doc_ids_found(kb, "tides moon gravity tide tables").items():
        assert not found & {"corpus/tides.md", "corpus/notes.csv#1"}, mode
    kb.close()


def test_parse_failure_is_reported_and_never_deletes_stored_documents(
    workspace: Workspace, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus", DOCS)
    (corpus / "report.pdf").write_bytes(b"%PDF-1.7 not really")
    workspace.create("kb")
    kb = workspace.open("kb")
    ingestor = Ingestor(kb.store, kb.embedder, kb.config)
    result = ingestor.ingest_paths([corpus], progress=False)
    assert result.added == 3
    assert [Path(f.path).name for f in result.failures] == ["report.pdf"]

    (corpus / "tides.md").write_bytes(b"")  # now unreadable: empty
    again = ingestor.ingest_paths([corpus], sync=True, progress=False)
    assert again.deleted == 0
    assert kb.store.get_document("corpus/tides.md") is not None
    kb.close()
