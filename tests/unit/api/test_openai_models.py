"""/v1/models: a tenant's KBs (and their profiles) as OpenAI models, through the `openai` client."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import openai
import pytest

from rag.tenancy import stored_name

Api = Any  # the `api` fixture of conftest.py


def make_kb(api: Api, tenant: str, name: str) -> None:
    api.services.workspace.create(stored_name(tenant, name), tenant=tenant)


def client_for(api: Api, headers: dict[str, str]) -> openai.OpenAI:
    secret = headers["Authorization"].removeprefix("Bearer ")
    return openai.OpenAI(
        base_url="http://testserver/v1", api_key=secret, http_client=api.client, max_retries=0
    )


def test_models_are_the_tenants_kbs_and_profiles(api: Api) -> None:
    make_kb(api, "acme", "facts")
    make_kb(api, "acme", "handbook")
    make_kb(api, "globex", "facts")  # the same name in another tenant: never listed
    client = client_for(api, api.key("acme", ["read"]))
    models = client.models.list().data
    assert [m.id for m in models] == [
        "kb:facts",
        "kb:facts@big",
        "kb:facts@extractive",
        "kb:facts@local",
        "kb:handbook",
        "kb:handbook@big",
        "kb:handbook@extractive",
        "kb:handbook@local",
    ]
    assert {(m.object, m.owned_by) for m in models} == {("model", "acme")}
    config = api.services.workspace.registry.get(stored_name("acme", "facts"))
    assert models[0].created == int(datetime.fromisoformat(config.created_at).timestamp())


def test_the_allow_list_filters_the_models(api: Api) -> None:
    make_kb(api, "acme", "facts")
    make_kb(api, "acme", "handbook")
    client = client_for(api, api.key("acme", ["read"], kbs=["handbook"]))
    assert [m.id for m in client.models.list().data] == [
        "kb:handbook",
        "kb:handbook@big",
        "kb:handbook@extractive",
        "kb:handbook@local",
    ]
    with pytest.raises(openai.PermissionDeniedError):
        client.models.retrieve("kb:facts")


def test_a_tenant_without_kbs_has_no_models(api: Api) -> None:
    make_kb(api, "acme", "facts")
    assert client_for(api, api.key("initech", ["read"])).models.list().data == []


def test_retrieve_one_model(api: Api) -> None:
    make_kb(api, "acme", "facts")
    make_kb(api, "globex", "secrets")
    client = client_for(api, api.key("acme", ["read"]))
    model = client.models.retrieve("kb:facts@big")
    assert (model.id, model.object, model.owned_by) == ("kb:facts@big", "model", "acme")
    for missing in ("kb:facts@nope", "kb:nope", "kb:secrets", "facts", "kb:Bad Name", "kb:a__b"):
        with pytest.raises(openai.NotFoundError) as caught:
            client.models.retrieve(missing)
        assert caught.value.code == "model_not_found", missing


def test_models_need_a_key(api: Api) -> None:
    response = api.client.get("/v1/models")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_local_mode_lists_the_default_tenants_kbs(local_api: Api) -> None:
    make_kb(local_api, "default", "sample")
    listed = local_api.client.get("/v1/models").json()
    assert listed["object"] == "list"
    assert [m["id"] for m in listed["data"]] == [
        "kb:sample",
        "kb:sample@big",
        "kb:sample@extractive",
        "kb:sample@local",
    ]
    assert listed["data"][0]["owned_by"] == "default"
