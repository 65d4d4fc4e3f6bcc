"""`rag keys ...`: create, list and revoke the HTTP API's keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from cli.common import control_plane, reported_errors
from controlplane.keys import KeyInfo, KeyStore, ordered_scopes
from controlplane.principal import SCOPES, Scope
from rag.errors import InvalidInputError

app = typer.Typer(help="Create, list and revoke API keys for `rag serve`.", no_args_is_help=True)

ONCE = "Store this key now: it cannot be shown again."


@contextmanager
def key_store() -> Iterator[KeyStore]:
    with control_plane() as engine:
        yield KeyStore(engine)


def _describe(info: KeyInfo) -> str:
    kbs = "all KBs" if info.kbs is None else ",".join(sorted(info.kbs))
    state = "active" if info.active else f"revoked {info.revoked_at}"
    return "\t".join(
        [info.key_id, info.tenant, ",".join(ordered_scopes(info.scopes)), kbs, state, info.name]
    )


def _scopes(names: list[str]) -> list[Scope]:
    unknown = sorted(set(names) - set(SCOPES))
    if unknown:
        raise InvalidInputError(f"unknown scope(s) {unknown}: use {', '.join(SCOPES)}")
    return [s for s in SCOPES if s in names]


@app.command()
def create(
    tenant: str = typer.Option(..., help="the tenant the key acts for"),
    scope: list[str] = typer.Option(
        ...,
        "--scope",
        metavar="SCOPE",
        help="read, write or admin (each implies the ones before); repeatable",
    ),
    kb: list[str] = typer.Option(
        [],
        "--kb",
        metavar="KB",
        help="allow only this KB (repeatable); default: every KB of the tenant",
    ),
    name: str = typer.Option("", help="a label to recognise the key by"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Create a key and print it (once: only its hash is kept)."""
    with reported_errors(), key_store() as store:
        info, key = store.create(tenant, _scopes(scope), kb or None, name)
    if as_json:
        typer.echo(json.dumps(info.model_dump() | {"key": key}, indent=2))
        typer.echo(ONCE, err=True)
        return
    typer.echo(f"created {_describe(info)}")
    typer.echo(key)
    typer.echo(ONCE)


@app.command("list")
def list_(
    tenant: str | None = typer.Option(None, help="only this tenant's keys"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """List keys (ids, tenants, scopes; never secrets)."""
    with reported_errors(), key_store() as store:
        infos = store.list(tenant)
    if as_json:
        typer.echo(json.dumps([info.model_dump() for info in infos], indent=2))
        return
    for info in infos:
        typer.echo(_describe(info))


@app.command()
def revoke(key_id: str = typer.Argument(..., help="the key's id (`rag keys list`)")) -> None:
    """Revoke a key: the service refuses it from its next request on."""
    with reported_errors(), key_store() as store:
        if not store.revoke(key_id):
            info = store.get(key_id)
            if info is None:
                raise InvalidInputError(f"no API key with id {key_id!r}")
            typer.echo(f"key {key_id} was already revoked at {info.revoked_at}")
            return
    typer.echo(f"revoked {key_id}")
