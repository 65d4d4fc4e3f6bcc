"""Tenants' KB names: what a tenant calls a KB and the name it is stored under.

The `default` tenant (the CLI, and the API's no-auth local mode) stores KBs under their own
names, so a KB made with `rag kb create` is the same KB the local API serves. Any other tenant's
KB `docs` is stored as `<tenant>__docs` and its config records the tenant, so two tenants may
both own a `docs` and neither can reach the other's.
"""

from __future__ import annotations

import re

from rag.errors import ConfigError, InvalidInputError
from rag.kb import KBConfig, check_name

DEFAULT_TENANT = "default"
SEPARATOR = "__"
_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
MAX_PUBLIC_NAME = 63


def check_tenant(tenant: str) -> str:
    if not _TENANT.match(tenant):
        raise InvalidInputError(
            f"invalid tenant {tenant!r}: use 1-40 lower-case letters, digits or '-', "
            "starting with a letter or digit"
        )
    return tenant


def check_public_name(name: str) -> str:
    """A KB name as a tenant gives it: the registry's rule, at most 63 characters, no `__`."""
    if len(name) > MAX_PUBLIC_NAME or SEPARATOR in name:
        raise InvalidInputError(
            f"invalid KB name {name!r}: use 1-{MAX_PUBLIC_NAME} lower-case letters, digits, "
            f"'-' or '_' (not '{SEPARATOR}'), starting with a letter or digit"
        )
    try:
        return check_name(name)
    except ConfigError as exc:  # re-raised as the caller's input error
        raise InvalidInputError(str(exc)) from exc


def stored_name(tenant: str, name: str) -> str:
    """The registry name of tenant `tenant`'s KB `name`."""
    check_public_name(name)
    if tenant == DEFAULT_TENANT:
        return name
    return f"{check_tenant(tenant)}{SEPARATOR}{name}"


def public_name(config: KBConfig) -> str:
    """The name the owning tenant uses for a stored KB."""
    prefix = f"{config.tenant}{SEPARATOR}"
    if config.tenant != DEFAULT_TENANT and config.name.startswith(prefix):
        return config.name[len(prefix) :]
    return config.name


def unqualified(text: str, tenant: str) -> str:
    """`text` with tenant `tenant`'s stored KB names written as the tenant knows them."""
    if tenant == DEFAULT_TENANT:
        return text
    return text.replace(f"{tenant}{SEPARATOR}", "")


def owns(tenant: str, config: KBConfig) -> bool:
    """Whether `tenant` owns the stored KB: the config says so, whatever the name looks like."""
    return config.tenant == tenant
