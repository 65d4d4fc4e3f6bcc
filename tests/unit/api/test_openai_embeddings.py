"""/v1/embeddings with the `openai` client: a KB's embedder, floats and base64, token usage."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import openai
import pytest

from rag.embedding.fake import HashingEmbedder
from rag.tenancy import stored_name

Api = Any  # the `api` fixture of conftest.py
DIM = 32  # conftest builds the services on HashingEmbedder(dim=32)


def client_for(api: Api, headers: dict[str, str]) -> openai.OpenAI:
    secret = headers["Authorization"].removeprefix("Bearer ")
    return openai.OpenAI(
        base_url="http://testserver/v1", api_key=secret, http_client=api.client, max_retries=0
    )


@pytest.fixture
def setup(api: Api) -> tuple[Api, openai.OpenAI, dict[str, str]]:
    api.services.workspace.create(stored_name("acme", "facts"), tenant="acme")
    headers = api.key("acme", ["read"])
    return api, client_for(api, headers), headers


def expected(texts: list[str]) -> np.ndarray[Any, Any]:
    return HashingEmbedder(dim=DIM).embed(texts)


def test_embeddings_of_a_kb_with_the_openai_client(setup: Any) -> None:
    _, client, _ = setup
    texts = ["The moon pulls the oceans.", "Copper wires"]
    # The client asks for base64 by default and decodes it with numpy.
    result = client.embeddings.create(model="kb:facts", input=texts)
    assert result.object == "list" and result.model == "kb:facts"
    assert [d.index for d in result.data] == [0, 1]
    got = np.array([d.embedding for d in result.data], dtype=np.float32)
    assert np.array_equal(got, expected(texts))
    # The hashing embedder's tokenizer: one token per word or punctuation mark.
    assert result.usage.prompt_tokens == 6 + 2 == result.usage.total_tokens


def test_float_and_base64_encodings(setup: Any) -> None:
    api, _, headers = setup
    body = {"model": "kb:facts", "input": "tides"}
    floats = api.client.post("/v1/embeddings", json=body, headers=headers).json()
    packed = api.client.post(
        "/v1/embeddings", json=body | {"encoding_format": "base64"}, headers=headers
    ).json()
    vector = np.array(floats["data"][0]["embedding"], dtype=np.float32)
    decoded = np.frombuffer(base64.b64decode(packed["data"][0]["embedding"]), dtype="<f4")
    assert vector.shape == (DIM,) and np.array_equal(vector, decoded)
    assert np.array_equal(vector, expected(["tides"])[0])
    assert floats["data"][0]["object"] == "embedding"
    assert floats["usage"] == {"prompt_tokens": 1, "total_tokens": 1}


def test_the_embedder_by_its_names(setup: Any) -> None:
    api, client, _ = setup
    for name in (api.services.settings.embedder, "hashing-test"):
        result = client.embeddings.create(model=name, input="tides", encoding_format="float")
        assert result.model == name and len(result.data[0].embedding) == DIM


def test_token_usage_is_capped_where_the_model_truncates(setup: Any) -> None:
    _, client, _ = setup
    result = client.embeddings.create(model="kb:facts", input="word " * 100)
    assert result.usage.prompt_tokens == 64 - 2  # the fake tokenizer: 64 tokens, 2 special


def test_dimensions_must_match(setup: Any) -> None:
    _, client, _ = setup
    assert len(client.embeddings.create(model="kb:facts", input="x", dimensions=DIM).data) == 1
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="kb:facts", input="x", dimensions=8)
    assert caught.value.param == "dimensions"


@pytest.mark.parametrize(
    ("given", "param"),
    [
        ([], "input"),
        (["ok", ""], "input[1]"),
        ("", "input"),
        ([1, 2, 3], "input"),
        ([[1, 2], [3]], "input"),
        (["x"] * 2049, "input"),
    ],
)
def test_bad_inputs_are_400(setup: Any, given: Any, param: str) -> None:
    api, _, headers = setup
    response = api.client.post(
        "/v1/embeddings", json={"model": "kb:facts", "input": given}, headers=headers
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_many_inputs_keep_their_order(setup: Any) -> None:
    _, client, _ = setup
    texts = [f"text number {i}" for i in range(2048)]
    result = client.embeddings.create(model="kb:facts", input=texts, encoding_format="float")
    assert [d.index for d in result.data] == list(range(2048))
    got = np.array([d.embedding for d in result.data], dtype=np.float32)
    assert np.array_equal(got, expected(texts))


def test_validation_and_unknown_models(setup: Any) -> None:
    api, client, headers = setup
    api.services.workspace.create(stored_name("globex", "secrets"), tenant="globex")
    for model in ("kb:nope", "kb:secrets", "text-embedding-3-small"):
        with pytest.raises(openai.NotFoundError) as caught:
            client.embeddings.create(model=model, input="x")
        assert caught.value.code == "model_not_found"
    bad = api.client.post(
        "/v1/embeddings",
        json={"model": "kb:facts", "input": "x", "encoding_format": "int8"},
        headers=headers,
    )
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "body.encoding_format"
