"""Physical indices of a KB behind one alias: naming, creation, atomic swap, removal.

The alias `{prefix}{kb}` points at one physical index `{prefix}{kb}.{generation}`. The dot
cannot appear in a KB name, so no KB's indices match another's pattern (with a dash, KB
`a`'s pattern `rag-a-*` would also match KB `a-b`). A rebuild writes the next generation
while searches keep using the alias, then one `update_aliases` call moves the alias.
A generation is filled either by writes (a rebuild) or by `copy`, a server-side `_reindex`
from the live one that re-analyses text under the new mapping and keeps the stored vectors.
"""

from __future__ import annotations

import re
import time
import warnings
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError
from elasticsearch.exceptions import GeneralAvailabilityWarning

from rag.errors import ConfigError, StoreError
from rag.kb import check_name

_PREFIX = re.compile(r"^([a-z0-9][a-z0-9_+-]*)?$")


def alias_name(prefix: str, kb_name: str) -> str:
    """The alias searches and writes of a KB go through."""
    if not _PREFIX.match(prefix):
        raise ConfigError(
            f"invalid Elasticsearch index prefix {prefix!r}: use lower-case letters, digits, "
            "'-', '_' or '+', starting with a letter or digit"
        )
    return prefix + check_name(kb_name)


def physical_indices(client: Elasticsearch, alias: str) -> list[str]:
    """Every generation of the KB, aliased or not, oldest first."""
    try:
        found = client.indices.get(index=f"{alias}.*", expand_wildcards="all")
    except NotFoundError:
        return []
    own = re.compile(re.escape(alias) + r"\.(\d+)$")
    return sorted((n for n in found if own.match(n)), key=lambda n: int(n.rsplit(".", 1)[1]))


def aliased_indices(client: Elasticsearch, alias: str) -> list[str]:
    """The physical indices the alias points at now (one, or none before the first write)."""
    try:
        return sorted(client.indices.get_alias(name=alias))
    except NotFoundError:
        return []


def create_next(client: Elasticsearch, alias: str, body: dict[str, Any], *, aliased: bool) -> str:
    """Create the next generation's index, optionally with the alias on it; returns its name."""
    for _ in range(5):
        existing = physical_indices(client, alias)
        number = int(existing[-1].rsplit(".", 1)[1]) + 1 if existing else 1
        name = f"{alias}.{number:06d}"
        try:
            client.indices.create(
                index=name,
                settings=body["settings"],
                mappings=body["mappings"],
                aliases={alias: {}} if aliased else None,
            )
            return name
        except ApiError as exc:
            # Another process took this generation number first: count again.
            if exc.status_code != 400 or "already_exists" not in str(exc.message):
                raise
    raise ConfigError(f"could not create a new index for {alias}: generation numbers keep racing")


def swap(client: Elasticsearch, alias: str, target: str) -> list[str]:
    """Point the alias at `target` in one atomic call; returns the indices it left."""
    old = [name for name in aliased_indices(client, alias) if name != target]
    actions: list[dict[str, Any]] = [{"remove": {"index": n, "alias": alias}} for n in old]
    actions.append({"add": {"index": target, "alias": alias}})
    client.indices.update_aliases(actions=actions)
    return old


def delete(client: Elasticsearch, names: list[str]) -> None:
    """Delete indices by exact name (clusters refuse wildcard deletes by default)."""
    if names:
        client.indices.delete(index=",".join(names), ignore_unavailable=True)


def copy(client: Elasticsearch, source: str, target: str, *, max_wait_s: float = 2.0) -> int:
    """Copy every entry of `source` into `target` on the server; returns how many."""
    # As a task, polled, not one long request: a big KB takes longer than any request timeout.
    task = client.reindex(
        source={"index": source},
        dest={"index": target, "op_type": "create"},
        wait_for_completion=False,
        refresh=True,
    )["task"]
    wait = 0.05
    while True:
        with warnings.catch_warnings():
            # The client flags the tasks API "technical preview"; the server has had it since 2.x.
            warnings.simplefilter("ignore", GeneralAvailabilityWarning)
            state = client.tasks.get(task_id=task)
        if state.get("completed"):
            break
        time.sleep(wait)
        wait = min(2 * wait, max_wait_s)
    if "error" in state:
        raise StoreError(f"copying {source} into {target} failed: {str(state['error'])[:500]}")
    result = state["response"]
    if result.get("failures"):
        raise StoreError(
            f"copying {source} into {target}: {len(result['failures'])} entries failed, "
            f"first: {str(result['failures'][0])[:500]}"
        )
    return int(result["created"])
