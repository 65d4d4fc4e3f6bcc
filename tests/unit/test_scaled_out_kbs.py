"""Scaled out, KBs live on Elasticsearch: a local-engine KB is refused, saying why."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from api.errors import domain_status
from rag.config import Settings
from rag.embedding.fake import HashingEmbedder
from rag.errors import ConfigError
from rag.workspace import Workspace

EMBEDDER = HashingEmbedder(dim=32)


@pytest.mark.parametrize(
    ("database", "redis", "scaled"),
    [
        (None, None, False),
        ("sqlite:////tmp/x/control.db", None, False),
        ("postgresql+psycopg://rag@db/rag", None, True),
        (None, "redis://cache:6379/0", True),
    ],
)
def test_what_counts_as_scaled_out(database: str | None, redis: str | None, scaled: bool) -> None:
    settings = Settings(
        database_url=SecretStr(database) if database else None,
        redis_url=SecretStr(redis) if redis else None,
    )
    assert settings.scaled_out is scaled


def test_a_local_kb_is_refused_when_scaled_out(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, embedder=EMBEDDER.name, redis_url=SecretStr("redis://cache:6379/0")
    )
    workspace = Workspace(settings, embedder=EMBEDDER)
    with pytest.raises(ConfigError, match="keeps a KB's files on one machine") as caught:
        workspace.create("docs")
    assert "engine 'elasticsearch'" in str(caught.value)
    assert domain_status(caught.value)[0] == 400
    assert workspace.list() == []  # nothing registered


def test_a_local_kb_is_fine_embedded(tmp_path: Path) -> None:
    workspace = Workspace(Settings(data_dir=tmp_path, embedder=EMBEDDER.name), embedder=EMBEDDER)
    assert workspace.create("docs").engine == "local"
