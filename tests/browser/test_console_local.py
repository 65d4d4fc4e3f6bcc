"""The console against `rag serve --no-auth`: nothing to type; every screen used as a person would.

Real PDFs from ../shared/data/samples, the packaged MiniLM and SmolLM2 (two short generations
in all). The page is driven through labels and roles, as a keyboard or screen-reader user
would find the controls.
"""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from browsing import PHONE, Server, unlabelled

pytestmark = pytest.mark.browser

KB = "filings"
QUESTION = "What were Amcor net sales in the June 2023 quarter?"


@pytest.fixture(scope="module")
def filings(local_server: Server, samples: list[Path]) -> str:
    """KB `filings` holding the two sample PDFs: made here only if the screens' tests did not."""
    with httpx.Client(base_url=f"{local_server.base}/v1", timeout=60) as client:
        if client.get(f"/kbs/{KB}").status_code == 404:
            client.post("/kbs", json={"name": KB}).raise_for_status()
        if client.get(f"/kbs/{KB}").json()["documents"] < len(samples):
            files = [("files", (p.name, p.read_bytes(), "application/pdf")) for p in samples]
            job = client.post(f"/kbs/{KB}/documents", files=files).json()
            deadline = time.monotonic() + 300
            while client.get(f"/jobs/{job['id']}").json()["state"] in ("queued", "running"):
                assert time.monotonic() < deadline, "ingestion did not finish"
                time.sleep(0.5)
    return KB


def test_knowledge_bases_create_and_drop(local_server: Server, open_page: Any, expect: Any) -> None:
    opened = open_page(local_server.base)
    page = opened.page
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/ui/#/kbs$"))  # no KB yet
    expect(page.get_by_text("Local mode · no key needed")).to_be_visible()
    expect(page.get_by_label("API key")).to_have_count(0)  # nothing to type
    for name in (KB, "scratch"):
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_role("button", name="Create knowledge base").click()
        expect(page.get_by_role("row").filter(has_text=name)).to_be_visible()
    row = page.get_by_role("row").filter(has_text=KB)
    expect(row.get_by_role("cell")).to_have_text(
        [KB, "0", "0", "local", "flat", re.compile("all-MiniLM-L6-v2 \\(384\\)"), "general",
         re.compile(r"\d"), "Drop filings"]
    )  # fmt: skip
    assert unlabelled(page) == []

    scratch = page.get_by_role("row").filter(has_text="scratch")
    scratch.get_by_role("button", name="Drop scratch").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("cannot be undone")
    dialog.get_by_role("button", name="Cancel").click()
    expect(scratch).to_be_visible()
    scratch.get_by_role("button", name="Drop scratch").click()
    page.get_by_role("dialog").get_by_role("button", name="Drop knowledge base").click()
    expect(page.get_by_role("row").filter(has_text="scratch")).to_have_count(0)
    expect(page.get_by_label("Knowledge base", exact=True)).to_have_value(KB)


def test_ingestion_by_drag_and_drop(
    local_server: Server, samples: list[Path], open_page: Any, expect: Any
) -> None:
    with httpx.Client(base_url=f"{local_server.base}/v1") as client:
        if client.get(f"/kbs/{KB}").status_code == 404:
            client.post("/kbs", json={"name": KB}).raise_for_status()
    opened = open_page(local_server.base)
    page = opened.page
    page.goto(f"/ui/#/ingest?kb={KB}")
    expect(page.get_by_role("heading", name=f"Ingestion: {KB}")).to_be_visible()
    # A real drop event carrying the two real files, as the browser makes one from a desktop.
    files = [{"name": p.name, "data": base64.b64encode(p.read_bytes()).decode()} for p in samples]
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], f.name, {type: 'application/pdf'}));
            }
            return transfer;
        }""",
        files,
    )
    page.dispatch_event(".dropzone", "drop", {"dataTransfer": transfer})
    for p in samples:
        expect(page.locator(".chosen")).to_contain_text(p.name)
    page.get_by_role("button", name="Upload 2 files").click()

    job = page.locator(".job").first
    expect(job.locator(".badge")).to_have_text("succeeded", timeout=300_000)
    expect(job.locator(".stages")).to_contain_text("2 document(s) from 2 file(s)")
    indexed = job.locator("dd").nth(3).inner_text()
    chunks = re.search(r"(\d+) of (\d+) chunk", indexed)
    assert chunks and chunks[1] == chunks[2] and int(chunks[1]) > 10, indexed
    for bar in job.locator("progress").all():
        assert bar.evaluate("(el) => el.value === el.max && el.max > 0")
    expect(job.get_by_role("button", name=re.compile("Cancel"))).to_have_count(0)
    documents = page.get_by_role("table", name="Documents")
    for p in samples:
        expect(documents).to_contain_text(p.name)
    expect(page.locator(".pager")).to_contain_text("1\u20132 of 2")
    assert unlabelled(page) == []
    opened.snap("ingestion")


def test_a_running_job_is_cancelled_from_the_keyboard(
    local_server: Server, samples: list[Path], open_page: Any, expect: Any
) -> None:
    with httpx.Client(base_url=f"{local_server.base}/v1") as client:
        client.post("/kbs", json={"name": "cancelled"}).raise_for_status()
    page = open_page(local_server.base).page
    page.goto("/ui/#/ingest?kb=cancelled")
    page.get_by_label("Files to ingest").set_input_files(samples)  # the picker, this time
    page.get_by_role("button", name="Upload 2 files").click()
    cancel = page.locator(".job").first.get_by_role("button", name=re.compile("^Cancel"))
    cancel.focus()
    # The card is drawn again when the job's counts move; a keyboard user's focus survives.
    page.locator(".job").first.evaluate("(card) => { card.dataset.seen = 'yes'; }")
    expect(page.locator(".job[data-seen]")).to_have_count(0)
    expect(cancel).to_be_focused()
    page.keyboard.press("Enter")
    job = page.locator(".job").first
    expect(job.locator(".badge")).to_have_text("cancelled")
    expect(job).to_contain_text(re.compile("cancelled (by request|before it started)"))
    expect(cancel).to_have_count(0)


def test_document_delete_asks_first(local_server: Server, open_page: Any, expect: Any) -> None:
    with httpx.Client(base_url=f"{local_server.base}/v1", timeout=60) as client:
        client.post("/kbs", json={"name": "notes"}).raise_for_status()
        records = [{"id": "memo", "text": "The board meets on Tuesdays."}]
        job = client.post("/kbs/notes/documents", json={"documents": records}).json()
        while client.get(f"/jobs/{job['id']}").json()["state"] in ("queued", "running"):
            time.sleep(0.2)
    page = open_page(local_server.base).page
    page.goto("/ui/#/ingest?kb=notes")
    page.get_by_role("button", name="Delete memo").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete document").click()
    expect(page.get_by_text("No documents yet")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Deleted memo")).to_be_visible()


def test_kb_list_counts_what_was_ingested(
    local_server: Server, filings: str, open_page: Any, expect: Any
) -> None:
    opened = open_page(local_server.base)
    page = opened.page
    page.goto(f"/ui/#/kbs?kb={filings}")
    cells = page.get_by_role("row").filter(has_text=filings).get_by_role("cell")
    expect(cells.nth(1)).to_have_text("2")  # documents
    expect(cells.nth(2)).to_have_text(re.compile(r"^[1-9]\d+$"))  # chunks
    opened.snap("kbs")


def test_search_shows_hits_with_pages(
    local_server: Server, filings: str, open_page: Any, expect: Any
) -> None:
    opened = open_page(local_server.base)
    page = opened.page
    page.goto(f"/ui/#/search?kb={filings}")
    page.get_by_label("Query").fill("Amcor net sales June quarter")
    page.get_by_label("Mode").select_option("hybrid")
    page.get_by_label("Results (k)").fill("4")
    page.get_by_role("button", name="Search").click()
    hits = page.locator(".hit")
    expect(hits).to_have_count(4)
    first = hits.first
    expect(first).to_contain_text("AMCOR_2023Q4_EARNINGS.pdf")
    expect(first.locator(".page")).to_have_text(re.compile(r"^page \d+$"))
    expect(first.locator(".score")).to_have_text(re.compile(r"^score \d\.\d{4}$"))
    marks = {m.lower() for m in first.locator("mark").all_inner_texts()}
    assert marks & {"sales", "net", "amcor", "june", "quarter"}, marks
    assert unlabelled(page) == []
    opened.snap("search")

    # A filter no document matches returns nothing; a malformed line is refused before sending.
    page.get_by_label("Metadata filters").fill("year=1999")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status").filter(has_text="0 hit(s)")).to_be_visible()
    page.get_by_label("Metadata filters").fill("no equals sign")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("alert")).to_contain_text("filter line 1 is not key=value")


def test_ask_streams_and_opens_citations(
    local_server: Server, filings: str, open_page: Any, expect: Any
) -> None:
    opened = open_page(local_server.base)
    page = opened.page
    page.goto(f"/ui/#/ask?kb={filings}")
    page.get_by_label("Question").fill(QUESTION)
    page.get_by_label("Max tokens").fill("160")
    with page.expect_response(re.compile(r"/v1/kbs/filings/answer$")) as answered:
        page.get_by_role("button", name="Ask", exact=True).click()
    response = answered.value
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    # The passages arrive before the words.
    expect(page.get_by_text(re.compile(r"Passages given to the model \(\d+\)"))).to_be_visible()
    expect(page.get_by_role("heading", name="Citations")).to_be_visible(timeout=300_000)
    expect(page.locator(".answer-text")).not_to_be_empty()
    # Free text goes to the extractive profile by default: the answer says it is quoted.
    expect(page.get_by_role("heading", name="Quoted from the passages")).to_be_visible()
    expect(page.locator(".quoted-note")).to_contain_text("profile extractive")
    expect(page.locator("p.status")).to_contain_text("0 tokens · extractive (")
    citation = page.locator("button.citation").first
    label = citation.inner_text()
    match = re.match(r"\[(\d+)\] (\S+) · page (\d+)", label)
    assert match, label
    citation.click()
    cited = page.get_by_role("complementary")
    expect(cited).to_be_focused()
    expect(cited.get_by_role("heading")).to_have_text(f"Cited passage [{match[1]}]")
    expect(cited).to_contain_text(match[2])
    expect(cited.locator(".page")).to_have_text(f"page {match[3]}")
    expect(cited.locator("blockquote")).not_to_be_empty()
    assert unlabelled(page) == []
    opened.snap("ask")


def test_ask_says_when_the_kb_has_no_answer(
    local_server: Server, filings: str, open_page: Any, expect: Any
) -> None:
    page = open_page(local_server.base).page
    page.goto(f"/ui/#/ask?kb={filings}")
    page.get_by_label("Question").fill("Who painted the Mona Lisa?")
    page.get_by_role("button", name="Ask", exact=True).click()
    note = page.get_by_role("note")
    expect(note.get_by_role("heading")).to_have_text("Not in the knowledge base")
    expect(note).to_contain_text("does not contain the answer")
    expect(page.get_by_role("heading", name="Citations")).to_have_count(0)


def test_analyst_mode_validates_and_refuses_a_bad_schema(
    local_server: Server, filings: str, open_page: Any, expect: Any
) -> None:
    opened = open_page(local_server.base)
    page = opened.page
    page.goto(f"/ui/#/ask?kb={filings}")
    page.get_by_label("Question").fill(QUESTION)
    page.get_by_label("Max tokens").fill("160")
    page.get_by_label(re.compile("Analyst mode")).check()
    schema = page.get_by_label("JSON schema of the answer's data")
    expect(schema).to_have_value(re.compile(r'"company"'))  # the checked example
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.get_by_role("heading", name="Validated object")).to_be_visible(timeout=300_000)
    shown = page.locator("pre.data").inner_text()
    assert set(json.loads(shown)) == {"company", "figure", "period"}
    expect(page.locator("button.citation").first).to_be_visible()
    opened.snap("analyst")

    schema.fill('{"type": "array", "items": {"type": "string"}}')
    with page.expect_response(re.compile(r"/answer$")) as refused:
        page.get_by_role("button", name="Ask", exact=True).click()
    assert refused.value.status == 400
    expect(page.get_by_role("alert")).to_have_text(
        'the schema must describe a JSON object ("type": "object") (invalid_input)'
    )
    schema.fill("{not json")
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("the schema is not valid JSON")


def test_keyboard_and_phone_width(
    local_server: Server, filings: str, open_page: Any, expect: Any
) -> None:
    opened = open_page(local_server.base, viewport=PHONE)
    page = opened.page
    page.goto(f"/ui/#/kbs?kb={filings}")
    expect(page.get_by_role("row").filter(has_text=filings)).to_be_visible()
    # Tab reaches the skip link, then the screens; Enter follows a link and focus lands on
    # the new screen's heading.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    for _ in range(3):  # Knowledge bases, Ingestion, Search
        page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Search")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Search: {filings}")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Query")).to_be_focused()
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focused control shows it
    page.keyboard.type("net sales")
    page.keyboard.press("Enter")
    expect(page.locator(".hit").first).to_be_visible()
    # Nothing is wider than a phone: no sideways scrolling.
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.goto(f"/ui/#/kbs?kb={filings}")
    expect(page.get_by_role("row").filter(has_text=filings)).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    opened.snap("phone")
