"""The console against `rag serve` with keys: sign in, manage keys, and a revoked key refused."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from browsing import Server, unlabelled

pytestmark = pytest.mark.browser


def _sign_in(page: Any, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_keys_are_asked_for_managed_and_revoked(
    keyed_server: Server, open_page: Any, expect: Any
) -> None:
    admin_key = keyed_server.admin_key
    assert admin_key is not None
    with httpx.Client(base_url=f"{keyed_server.base}/v1") as client:
        headers = {"Authorization": f"Bearer {admin_key}"}
        if client.get("/kbs/handbook", headers=headers).status_code == 404:
            client.post("/kbs", json={"name": "handbook"}, headers=headers).raise_for_status()

    admin = open_page(keyed_server.base)
    page = admin.page
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Local mode")).to_have_count(0)
    _sign_in(page, "rag_AAAAAAAAAAAA_" + "x" * 43)
    expect(page.get_by_role("alert")).to_have_text("unknown or revoked API key (invalid_token)")
    _sign_in(page, admin_key)
    expect(page.get_by_role("heading", name="Knowledge bases", exact=True)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="handbook")).to_be_visible()
    key_id = admin_key.split("_")[1]
    expect(page.get_by_text(f"Key {key_id}")).to_be_visible()
    # Kept for this tab only, sent as a header, never in an address.
    assert page.evaluate("() => sessionStorage.getItem('rag.apiKey')") == admin_key
    assert admin_key not in page.url

    page.get_by_role("link", name="Keys").click()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="ops")).to_contain_text("admin")
    page.get_by_label("Name", exact=True).fill("robot")
    page.get_by_label("Scope").select_option("read")
    page.get_by_label("Knowledge bases").fill("handbook")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_label("New API key")
    expect(secret).to_have_value(re.compile(r"^rag_[A-Za-z0-9]{12}_"))
    robot_key = secret.input_value()
    robot_row = page.get_by_role("row").filter(has_text="robot")
    expect(robot_row).to_contain_text("active")
    expect(robot_row).to_contain_text("handbook")
    assert robot_key not in page.get_by_role("table").inner_text()  # only its id is listed
    assert unlabelled(page) == []
    admin.snap("keys")

    # The robot signs in elsewhere (its own tab, its own session storage): read only.
    robot = open_page(keyed_server.base)
    robot.page.goto("/")
    _sign_in(robot.page, robot_key)
    expect(robot.page.get_by_role("row").filter(has_text="handbook")).to_be_visible()
    expect(robot.page.get_by_role("link", name="Keys")).to_be_hidden()
    expect(robot.page.get_by_role("button", name="Create knowledge base")).to_be_disabled()

    robot_row.get_by_role("button", name=re.compile("^Revoke")).click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke key").click()
    expect(robot_row).to_contain_text("revoked")
    expect(robot_row.get_by_role("button")).to_have_count(0)

    # The robot's next call is refused, and its page asks for a key again.
    robot.page.get_by_role("link", name="Knowledge bases").click()
    expect(robot.page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(robot.page.get_by_role("alert")).to_have_text(
        "unknown or revoked API key (invalid_token)"
    )
    assert robot.page.evaluate("() => sessionStorage.getItem('rag.apiKey')") is None

    # Signing out forgets the key.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('rag.apiKey')") is None
