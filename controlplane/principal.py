"""The authenticated caller: a key's tenant, scopes and optional KB allow-list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from rag.tenancy import DEFAULT_TENANT

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
# Each scope implies the ones before it.
_RANK = {scope: rank for rank, scope in enumerate(SCOPES)}


@dataclass(frozen=True)
class Principal:
    """A caller. `kbs` None means every KB of the tenant."""

    key_id: str
    tenant: str
    scopes: frozenset[Scope]
    kbs: frozenset[str] | None = None

    def has(self, scope: Scope) -> bool:
        """Whether any held scope is `scope` or above it."""
        return any(_RANK[held] >= _RANK[scope] for held in self.scopes)

    def may_use(self, kb: str) -> bool:
        """Whether the allow-list (if any) names the KB (its tenant-side name)."""
        return self.kbs is None or kb in self.kbs


# The caller in no-auth local mode (loopback only): the CLI's tenant, every right.
LOCAL_PRINCIPAL = Principal("local", DEFAULT_TENANT, frozenset({"admin"}))
