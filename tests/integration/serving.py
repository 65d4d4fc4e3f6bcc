"""`rag serve` as a real process on a free loopback port, for the end-to-end API tests."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

RAG = str(Path(sys.executable).with_name("rag"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    env: dict[str, str],
    log: Path,
    *,
    extra: Sequence[str] = ("--no-auth",),
    ready: str = "/healthz",
    timeout: float = 120.0,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The process and its base URL once `ready` answers 200; stopped (SIGTERM) on exit."""
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [RAG, "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"rag serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
            try:
                if httpx.get(f"{base}{ready}", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"rag serve was not ready in {timeout:g} s:\n{log.read_text()[-4000:]}")
            time.sleep(0.25)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


def fresh_database(url: str, prefix: str) -> Iterator[str]:
    """A new database on the PostgreSQL server of `url` (its URL), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def admin_key(env: dict[str, str], tenant: str = "acme", *extra: str) -> str:
    """A new admin key of `tenant`, made by `rag keys create` as an operator would."""
    created = subprocess.run(
        [RAG, "keys", "create", "--tenant", tenant, "--scope", "admin", *extra, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(created.stdout)["key"])
