"""Retry-After parsing and the tenacity wait that honours it."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
from tenacity import RetryError, Retrying, retry_if_result, stop_after_attempt, wait_fixed

from rag.http_retry import parse_retry_after, wait_retry_after

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        ("0", 0.0),
        ("-3", 0.0),  # a negative delay means "now"
        (" 2.5 ", 2.5),
        (format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True), 30.0),
        (format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True), 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("inf", None),
        ("nan", None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=lambda: NOW) == seconds


def _responses(*statuses_and_headers: tuple[int, dict[str, str]]) -> list[httpx.Response]:
    return [httpx.Response(status, headers=headers) for status, headers in statuses_and_headers]


def test_the_wait_honours_retry_after_capped_and_falls_back_without_it() -> None:
    sent = iter(_responses((429, {"Retry-After": "2"}), (503, {"Retry-After": "999"}), (503, {})))
    waits: list[float] = []
    retrying = Retrying(
        retry=retry_if_result(lambda r: r.status_code in (429, 503)),
        wait=wait_retry_after(wait_fixed(0.25), cap=60),
        stop=stop_after_attempt(4),
        sleep=waits.append,
    )
    with pytest.raises(RetryError):
        retrying(lambda: next(sent, httpx.Response(503)))
    assert waits == [2.0, 60.0, 0.25]


def test_the_wait_reads_the_response_of_an_http_status_error() -> None:
    request = httpx.Request("GET", "http://test/")
    response = httpx.Response(503, headers={"Retry-After": "4"}, request=request)
    waits: list[float] = []
    calls = iter([response, httpx.Response(200, request=request)])

    def call() -> httpx.Response:
        return next(calls).raise_for_status()

    retrying = Retrying(wait=wait_retry_after(wait_fixed(1)), sleep=waits.append)
    assert retrying(call).status_code == 200
    assert waits == [4.0]
