"""Readiness: the models are loaded and every backend a KB or a profile needs answers.

The default generator profile is warmed in a background thread at start-up (converting and
loading the packaged model takes seconds to minutes), so `/readyz` says 503 until it is in
memory instead of letting the first question pay for it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field

import httpx

from rag.config import Settings
from rag.generation.local import LocalGenerator
from rag.generation.router import GeneratorRouter
from rag.workspace import Workspace

log = logging.getLogger("api.readiness")
PROBE_TIMEOUT = 2.0
# Reported, but not a reason to be unready: Elasticsearch serves only the KBs created on it
# (one tenant's choice), and every replica shares it, so routing elsewhere would not help.
# Those KBs answer 503 while it is down; the rest of the service keeps serving.
INFORMATIONAL = frozenset({"elasticsearch"})


@dataclass
class Warmup:
    """Loads the default profile's generator once, off the event loop."""

    router: GeneratorRouter
    profile: str
    state: str = "pending"  # pending, loading, ready, or "failed: <reason>"
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> None:
        self.state = "loading"
        self._thread = threading.Thread(target=self._run, name="warmup", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            generator = self.router.generator(self.profile)
            if isinstance(generator, LocalGenerator):
                generator.load()
            self.state = "ready"
        except Exception as exc:  # reported by /readyz; a request would raise it again
            log.exception("warm-up of generator profile %r failed", self.profile)
            self.state = f"failed: {exc}"


async def _reachable(client: httpx.AsyncClient, url: str) -> str:
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok" if response.status_code < 500 else f"unhealthy: HTTP {response.status_code}"


async def checks(settings: Settings, workspace: Workspace, warmup: Warmup) -> dict[str, str]:
    """Each dependency's state; all "ok" (or "ready") means the service is ready."""
    results = {"embedder": "ok", f"generator:{warmup.profile}": warmup.state}
    configs = await asyncio.to_thread(workspace.list)
    probes: dict[str, str] = {}
    if any(c.engine == "elasticsearch" for c in configs):
        probes["elasticsearch"] = settings.es_url
    for name, profile in settings.generator_profiles.items():
        if profile.backend == "vllm" and profile.endpoint:
            probes[f"vllm:{name}"] = profile.endpoint.rstrip("/") + "/health"
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT, verify=settings.es_verify_certs) as client:
        states = await asyncio.gather(*(_reachable(client, url) for url in probes.values()))
    results.update(zip(probes, states, strict=True))
    return results


def is_ready(results: dict[str, str]) -> bool:
    """Every check that gates readiness is `ok` or `ready`."""
    return all(
        state in ("ok", "ready") for name, state in results.items() if name not in INFORMATIONAL
    )
