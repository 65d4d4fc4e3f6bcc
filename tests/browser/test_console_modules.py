"""The console's pure modules, run in the browser that runs the page: the event-stream parser,
the unfinished-JSON reader, the highlighter and the filter parser."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from api.console import STATIC

pytestmark = pytest.mark.browser


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site(browser_available: str) -> Iterator[str]:
    """The console's files over HTTP (modules load only from an http origin); no API needed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(STATIC)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def page(site: str, open_page: Any) -> Any:
    opened = open_page(site)
    # Any document of the origin will do; the page itself would call the API on load.
    opened.page.goto("/favicon.svg")
    return opened.page


def test_event_stream_parser_survives_any_chunking(page: Any) -> None:
    # Frames split at every awkward place: inside a field, between \r and \n, mid-character.
    parsed = page.evaluate(
        """async () => {
            const { readEvents } = await import('/js/sse.js');
            const wire = ': comment\\r\\nevent: passages\\r\\ndata: {"n": 1}\\r\\n\\r\\n' +
                'data: first\\ndata: second\\n\\n' +
                'event: delta\\ndata: {"text": "héllo ✓"}\\n\\n' +
                'event: answer\\ndata: unfinished';
            const bytes = new TextEncoder().encode(wire);
            const out = [];
            for (const size of [1, 2, 3, 7, bytes.length]) {
                const body = new ReadableStream({
                    start(controller) {
                        for (let i = 0; i < bytes.length; i += size)
                            controller.enqueue(bytes.slice(i, i + size));
                        controller.close();
                    },
                });
                const events = [];
                for await (const e of readEvents(new Response(body))) events.push(e);
                out.push(events);
            }
            return out;
        }"""
    )
    expected = [
        {"event": "passages", "data": '{"n": 1}'},
        {"event": "message", "data": "first\nsecond"},
        {"event": "delta", "data": '{"text": "héllo ✓"}'},
    ]
    assert parsed == [expected] * 5


def test_partial_answer_text(page: Any) -> None:
    results = page.evaluate(
        """async () => {
            const { partialString } = await import('/js/partial.js');
            return [
                '{"ans',
                '{"answer":"',
                '{"answer":"Copper con',
                '{"answer":"say \\\\"hi\\\\"\\\\',
                '{"answer":"caf\\\\u00e9 \\\\u00',
                '{"answer":"two\\\\nlines","citations":[1',
            ].map((text) => partialString(text, 'answer'));
        }"""
    )
    assert results == [None, "", "Copper con", 'say "hi"', "café ", "two\nlines"]


def test_highlight_marks_whole_words_as_text(page: Any) -> None:
    marked = page.evaluate(
        """async () => {
            const { highlighted } = await import('/js/dom.js');
            const box = document.createElement('p');
            box.append(highlighted('Revenues rose; <b>net</b> sales and the salesman. Net!',
                                   'the net revenue of sales'));
            return { marks: [...box.querySelectorAll('mark')].map((m) => m.textContent),
                     bold: box.querySelectorAll('b').length, text: box.textContent };
        }"""
    )
    # Stopwords stay plain; terms of 4+ letters mark words they start; markup stays text.
    assert marked["marks"] == ["Revenues", "net", "sales", "salesman", "Net"]
    assert marked["bold"] == 0 and "<b>net</b>" in marked["text"]


def test_filters_are_typed(page: Any) -> None:
    parsed = page.evaluate(
        """async () => {
            const { parseFilters } = await import('/js/filters.js');
            let error = null;
            try { parseFilters('ok=1\\n=2'); } catch (e) { error = e.message; }
            return { filters: parseFilters(' year = 2023\\nlang=en\\ncode="2023"\\ndraft=false\\n'),
                     empty: parseFilters('  \\n'), error };
        }"""
    )
    assert parsed["filters"] == {"year": 2023, "lang": "en", "code": "2023", "draft": False}
    assert parsed["empty"] is None
    assert parsed["error"] == "filter line 2 is not key=value: =2"
