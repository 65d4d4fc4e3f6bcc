"""The KB registry in the control plane: one truth for every process, drop that really drops."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from controlplane.kbs import SqlRegistry
from controlplane.migrate import open_control_plane
from controlplane.tenants import list_tenants
from rag.config import Settings
from rag.errors import ConfigError, KBExistsError, KBNotFoundError
from rag.kb import KBConfig


def config(name: str, tenant: str = "acme") -> KBConfig:
    return KBConfig(name=name, embedder="hashing-test", dim=32, tenant=tenant)


def test_a_kb_registered_by_one_process_is_seen_by_another(
    control: Engine, settings: Settings
) -> None:
    first = SqlRegistry(control, settings.kb_root)
    folder = first.create(config("acme__docs"))
    assert folder == settings.kb_root / "acme__docs" and folder.is_dir()

    other = open_control_plane(settings)  # a second engine: another replica's connections
    try:
        second = SqlRegistry(other, settings.kb_root)
        assert second.get("acme__docs") == config("acme__docs").model_copy(
            update={"created_at": second.get("acme__docs").created_at}
        )
        assert [c.name for c in second.list()] == ["acme__docs"]
        with pytest.raises(KBExistsError, match="already exists"):
            second.create(config("acme__docs"))
        second.drop("acme__docs")
    finally:
        other.dispose()
    with pytest.raises(KBNotFoundError):
        first.get("acme__docs")
    assert not folder.exists()
    assert list_tenants(control) == ["acme"]


def test_missing_and_invalid_names(control: Engine, settings: Settings) -> None:
    registry = SqlRegistry(control, settings.kb_root)
    with pytest.raises(KBNotFoundError, match="no knowledge base named 'nope'"):
        registry.get("nope")
    with pytest.raises(KBNotFoundError):
        registry.drop("nope")
    with pytest.raises(ConfigError, match="invalid KB name"):
        registry.get("Not/A/Name")
