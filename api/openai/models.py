"""`/v1/models`: a caller's KBs as OpenAI models, and the model ids chat and embeddings take.

A KB `handbook` is the model `kb:handbook` (answered by the generator profile its domain
picks) and `kb:handbook@<profile>` for each configured profile, so a chat frontend's model
picker is also the KB and model picker.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import KBRef, Reader, ServicesDep, resolve_kb, visible_kbs
from api.errors import ApiError
from api.openai.schemas import ModelList, ModelObject
from api.services import Services
from controlplane.principal import Principal
from rag.kb import KBConfig
from rag.tenancy import public_name

router = APIRouter(tags=["openai"])

PREFIX = "kb:"
PROFILE_SEPARATOR = "@"


def model_not_found(model: str) -> ApiError:
    return ApiError(
        404,
        f"the model {model!r} does not exist or this key may not use it; "
        "models are 'kb:<name>' or 'kb:<name>@<profile>' (GET /v1/models lists them)",
        type="not_found_error",
        code="model_not_found",
        param="model",
    )


def invalid(message: str, param: str, code: str = "unsupported_parameter") -> ApiError:
    """A 400 the caller must fix, naming the parameter."""
    return ApiError(400, message, type="invalid_request_error", code=code, param=param)


def parse_model(model: str) -> tuple[str, str | None]:
    """The KB name and the profile (None: the KB's default) a model id names."""
    if not model.startswith(PREFIX):
        raise model_not_found(model)
    name, separator, profile = model[len(PREFIX) :].partition(PROFILE_SEPARATOR)
    if not name or (separator and not profile):
        raise model_not_found(model)
    return name, profile or None


async def resolve_model(
    services: Services, principal: Principal, model: str
) -> tuple[KBRef, str | None]:
    """The caller's KB and profile behind `model`; 404 `model_not_found` when there is none."""
    name, profile = parse_model(model)
    if profile is not None and profile not in services.router.names:
        raise model_not_found(model)
    try:
        kb = await resolve_kb(services, principal, name)
    except ApiError as exc:
        if exc.status == 404:  # no such KB, or another tenant's: the model does not exist
            raise model_not_found(model) from None
        raise
    return kb, profile


def model_ids(name: str, profiles: list[str]) -> list[str]:
    """The ids of KB `name`: its default first, then one per profile."""
    return [f"{PREFIX}{name}", *(f"{PREFIX}{name}{PROFILE_SEPARATOR}{p}" for p in profiles)]


def _created(config: KBConfig) -> int:
    try:
        return int(datetime.fromisoformat(config.created_at).timestamp())
    except ValueError:  # a hand-edited kb.json: the model still lists
        return 0


def _objects(config: KBConfig, ids: list[str]) -> list[ModelObject]:
    created = _created(config)
    return [ModelObject(id=i, created=created, owned_by=config.tenant) for i in ids]


@router.get(
    "/models",
    response_model=ModelList,
    summary="List the KB models this key may use",
    response_description="`kb:<name>` and `kb:<name>@<profile>` for every KB of the tenant "
    "on the key's allow-list",
)
async def list_models(principal: Reader, services: ServicesDep) -> ModelList:
    profiles = services.router.names
    data: list[ModelObject] = []
    for config in await visible_kbs(services, principal):
        data.extend(_objects(config, model_ids(public_name(config), profiles)))
    return ModelList(data=data)


@router.get(
    "/models/{model}",
    response_model=ModelObject,
    summary="Get one KB model",
    responses={404: {"description": "no such model for this key (`model_not_found`)"}},
)
async def get_model(
    principal: Reader,
    services: ServicesDep,
    model: Annotated[str, Path(max_length=200, examples=["kb:handbook@local"])],
) -> ModelObject:
    kb, _ = await resolve_model(services, principal, model)
    (found,) = _objects(kb.config, [model])
    return found
