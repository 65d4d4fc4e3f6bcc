"""API keys over HTTP: admins of a tenant list, create and revoke that tenant's keys only."""

from __future__ import annotations

from typing import Any

Api = Any  # the `api` fixture of conftest.py


def test_create_returns_the_key_once_and_it_works(api: Api) -> None:
    admin = api.key("acme")
    created = api.client.post(
        "/v1/keys", json={"scopes": ["write"], "kbs": ["handbook"], "name": "ingest"}, headers=admin
    )
    assert created.status_code == 201
    body = created.json()
    assert body["tenant"] == "acme" and body["scopes"] == ["write"]
    assert body["kbs"] == ["handbook"] and body["name"] == "ingest"
    assert body["revoked_at"] is None and body["key"].startswith(f"rag_{body['key_id']}_")
    new = {"Authorization": f"Bearer {body['key']}"}
    assert api.client.get("/v1/kbs", headers=new).status_code == 200
    listed = api.client.get("/v1/keys", headers=admin).json()["data"]
    mine = next(k for k in listed if k["key_id"] == body["key_id"])
    assert "key" not in mine and "key_hash" not in mine
    assert mine == {k: v for k, v in body.items() if k != "key"}


def test_list_shows_only_the_callers_tenant(api: Api) -> None:
    admin = api.key("acme")
    api.key("acme", ("read",))
    api.key("globex")
    listed = api.client.get("/v1/keys", headers=admin).json()["data"]
    assert len(listed) == 2 and {k["tenant"] for k in listed} == {"acme"}
    assert [k["scopes"] for k in listed] == [["admin"], ["read"]]  # oldest first


def test_revoke_refuses_the_next_request(api: Api) -> None:
    admin = api.key("acme")
    created = api.client.post("/v1/keys", json={"scopes": ["read"]}, headers=admin).json()
    victim = {"Authorization": f"Bearer {created['key']}"}
    assert api.client.get("/v1/kbs", headers=victim).status_code == 200
    revoked = api.client.post(f"/v1/keys/{created['key_id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    refused = api.client.get("/v1/kbs", headers=victim)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "unknown or revoked API key"
    again = api.client.post(f"/v1/keys/{created['key_id']}/revoke", headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "key_revoked"
    assert "already revoked" in again.json()["error"]["message"]


def test_another_tenants_key_is_not_found(api: Api) -> None:
    acme = api.key("acme")
    globex = api.key("globex")
    theirs = api.client.get("/v1/keys", headers=globex).json()["data"][0]["key_id"]
    for key_id in (theirs, "NoSuchKey123"):
        missing = api.client.post(f"/v1/keys/{key_id}/revoke", headers=acme)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "key_not_found"
    assert api.client.get("/v1/kbs", headers=globex).status_code == 200  # still active


def test_admin_scope_is_required(api: Api) -> None:
    writer = api.key("acme", ("write",))
    target = api.client.get("/v1/keys", headers=api.key("acme")).json()["data"][0]["key_id"]
    calls = [
        api.client.get("/v1/keys", headers=writer),
        api.client.post("/v1/keys", json={"scopes": ["read"]}, headers=writer),
        api.client.post(f"/v1/keys/{target}/revoke", headers=writer),
    ]
    for response in calls:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "insufficient_scope"
    assert api.client.get("/v1/keys").status_code == 401


def test_a_key_grants_no_more_than_its_creator(api: Api) -> None:
    limited = api.key("acme", ("admin",), kbs=["handbook"])
    for body in ({"scopes": ["read"]}, {"scopes": ["read"], "kbs": ["handbook", "other"]}):
        refused = api.client.post("/v1/keys", json=body, headers=limited)
        assert refused.status_code == 403, body
        assert refused.json()["error"]["code"] == "key_exceeds_caller"
    inside = api.client.post(
        "/v1/keys", json={"scopes": ["admin"], "kbs": ["handbook"]}, headers=limited
    )
    assert inside.status_code == 201 and inside.json()["kbs"] == ["handbook"]


def test_bad_requests_name_the_problem(api: Api) -> None:
    admin = api.key("acme")
    unknown = api.client.post("/v1/keys", json={"scopes": ["root"]}, headers=admin)
    assert unknown.status_code == 422 and unknown.json()["error"]["param"] == "body.scopes.0"
    empty = api.client.post("/v1/keys", json={"scopes": []}, headers=admin)
    assert empty.status_code == 422 and empty.json()["error"]["param"] == "body.scopes"
    no_kbs = api.client.post("/v1/keys", json={"scopes": ["read"], "kbs": []}, headers=admin)
    assert no_kbs.status_code == 422 and no_kbs.json()["error"]["param"] == "body.kbs"
    bad_kb = api.client.post("/v1/keys", json={"scopes": ["read"], "kbs": ["A B"]}, headers=admin)
    assert bad_kb.status_code == 400 and "invalid KB name" in bad_kb.json()["error"]["message"]
    label = api.client.post("/v1/keys", json={"scopes": ["read"], "name": "a\nb"}, headers=admin)
    assert label.status_code == 400 and "key name" in label.json()["error"]["message"]


def test_local_mode_manages_the_default_tenants_keys(local_api: Api) -> None:
    created = local_api.client.post("/v1/keys", json={"scopes": ["read"], "name": "laptop"})
    assert created.status_code == 201 and created.json()["tenant"] == "default"
    listed = local_api.client.get("/v1/keys").json()["data"]
    assert [k["name"] for k in listed] == ["laptop"]
