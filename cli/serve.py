"""`rag serve`: the HTTP API on uvicorn."""

from __future__ import annotations

import ipaddress
import socket

import typer

from cli.common import reported_errors
from rag.config import get_settings
from rag.errors import ConfigError


def serve(
    host: str = typer.Option("127.0.0.1", help="bind address (loopback by default)"),
    port: int = typer.Option(8000, min=1, max=65535),
    no_auth: bool = typer.Option(
        False,
        "--no-auth",
        help="serve without API keys as tenant 'default' (refused unless HOST is loopback)",
    ),
    log_level: str = typer.Option("info", help="debug, info, warning or error"),
) -> None:
    """Serve the knowledge bases of RAG_DATA_DIR over HTTP (native and OpenAI-compatible API)."""
    import uvicorn

    from api.app import create_app
    from api.http_protocol import JsonErrorHttpTools
    from api.logs import configure

    with reported_errors():
        settings = get_settings()
        if no_auth:
            settings = settings.model_copy(update={"api_no_auth": True})
        if settings.api_no_auth and not is_loopback(host):
            raise ConfigError(
                f"no-auth mode serves every KB to anyone who can connect, so it is only allowed "
                f"on a loopback address; {host!r} is not one. Create keys with `rag keys create`."
            )
        log_config = configure(log_level)
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_config=log_config,
            access_log=False,
            http=JsonErrorHttpTools,
            timeout_graceful_shutdown=30,
        )


def is_loopback(host: str) -> bool:
    """Whether every address `host` resolves to is a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)
