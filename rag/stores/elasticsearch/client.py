"""The Elasticsearch client: built from settings, and its errors translated into ours.

Every call into the client goes through `backend_errors`, so callers see `StoreError` (the
server refused) or `BackendUnavailableError` (it cannot be reached) and never a client class.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError, UnsupportedProductError

from rag.errors import BackendUnavailableError, ConfigError, StoreError

DEFAULT_URL = "http://127.0.0.1:9200"
# A mapping error echoes the offending document; keep messages readable.
MAX_DETAIL = 500


def connect(
    url: str = DEFAULT_URL,
    *,
    username: str | None = None,
    password: str | None = None,
    api_key: str | None = None,
    verify_certs: bool = True,
    ca_certs: Path | None = None,
    request_timeout: float = 30.0,
    max_retries: int = 2,
) -> Elasticsearch:
    """A client for one cluster; builds no connection until the first request."""
    if (username is None) != (password is None):
        raise ConfigError("Elasticsearch basic auth needs both a username and a password")
    if api_key is not None and username is not None:
        raise ConfigError("give Elasticsearch either an API key or a username, not both")
    if ca_certs is not None and not ca_certs.is_file():
        raise ConfigError(f"Elasticsearch CA certificate file not found: {ca_certs}")
    tls: dict[str, Any] = {"verify_certs": verify_certs}
    if ca_certs is not None:
        tls["ca_certs"] = str(ca_certs)
    return Elasticsearch(
        url,
        basic_auth=(username, password) if username is not None and password is not None else None,
        api_key=api_key,
        request_timeout=request_timeout,
        # Refused connections are retried at once; a few tries ride out a node restart
        # without turning a dead server into a long hang.
        max_retries=max_retries,
        retry_on_timeout=False,
        **tls,
    )


@contextmanager
def backend_errors(action: str) -> Iterator[None]:
    """Translate client exceptions raised while doing `action` into `rag.errors`."""
    try:
        yield
    except UnsupportedProductError as exc:
        raise StoreError(f"the server is not Elasticsearch ({action}): {exc}") from exc
    except TransportError as exc:  # connection refused, DNS, TLS, timeout
        raise BackendUnavailableError(
            f"Elasticsearch is unreachable while {action}: {exc}. Is the server running "
            "(scripts/elasticsearch.sh start) and the URL right?",
            backend="elasticsearch",
        ) from exc
    except ApiError as exc:
        if exc.status_code in (502, 503, 504):
            raise BackendUnavailableError(
                f"Elasticsearch is unavailable while {action}: {exc.status_code} {exc.message}",
                backend="elasticsearch",
            ) from exc
        hint = " (check the credentials)" if exc.status_code in (401, 403) else ""
        raise StoreError(
            f"Elasticsearch refused {action}: {exc.status_code} {exc.message}{hint}: "
            f"{str(exc.body)[:MAX_DETAIL]}"
        ) from exc
