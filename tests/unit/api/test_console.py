"""The web console's files: served under /ui with a strict policy, nothing from elsewhere."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from api.console import STATIC
from rag.generation.schema import check_user_schema

Api = Any  # the `api` fixture of conftest.py

FILES = sorted(p for p in STATIC.rglob("*") if p.is_file())
SCRIPTS = [p for p in FILES if p.suffix == ".js"]


def test_root_and_ui_lead_to_the_console(api: Api) -> None:
    for path in ("/", "/ui"):
        moved = api.client.get(path, follow_redirects=False)
        assert moved.status_code == 307 and moved.headers["location"] == "/ui/"
    page = api.client.get("/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="js/main.js">' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    module = api.client.get("/ui/js/main.js")
    assert module.status_code == 200 and "javascript" in module.headers["content-type"]


def test_a_missing_file_is_an_error_object(api: Api) -> None:
    missing = api.client.get("/ui/js/nope.js")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"


def test_the_console_is_not_in_the_api_description(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith("/ui")]


def test_every_module_the_page_imports_is_served(api: Api) -> None:
    imports = re.compile(r"""(?:^import|^export)[^;]*?from\s+"([^"]+)";""", re.M | re.S)
    for script in SCRIPTS:
        for target in imports.findall(script.read_text()):
            resolved = (script.parent / target).resolve()
            assert resolved.is_file(), f"{script.name} imports missing {target}"
            url = "/ui/" + resolved.relative_to(STATIC).as_posix()
            assert api.client.get(url).status_code == 200, url


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_server_text_never_becomes_markup(path: Any) -> None:
    # Documents and errors are shown as text nodes only (dom.js); markup sinks stay out.
    source = path.read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, f"{path.name} uses {sink}"


def test_nothing_is_fetched_from_elsewhere() -> None:
    # The page must work offline: no CDN, no remote font, no absolute URL to another host.
    for path in FILES:
        text = re.sub(r'xmlns="[^"]*"', "", path.read_text())  # a namespace, not a fetch
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text), path


def test_the_analyst_example_schema_is_accepted() -> None:
    example = json.loads((STATIC / "examples" / "analyst-schema.json").read_text())
    check_user_schema(example)  # the schema the Ask screen pre-fills passes the server's check
