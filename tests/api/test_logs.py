"""Structured logs of the API: request ids on responses and on the lines written meanwhile."""

from __future__ import annotations

import io
import json
import logging

import pytest
import uvicorn

from services import logs
from services.logs import JsonFormatter, StampRequestId, log_format
from tests.api.conftest import ADMIN
from tests.api.scenario import ORDER_PAID, ok, paid_order, seed_qr1


async def test_every_response_carries_a_request_id_and_a_valid_one_is_kept(http):
    fresh = await http.get("/healthz")
    assert len(fresh.headers["x-request-id"]) == 32
    assert (await http.get("/healthz", headers={"X-Request-ID": "mall-42.a"})).headers["x-request-id"] == "mall-42.a"
    replaced = (await http.get("/healthz", headers={"X-Request-ID": "x" * 65})).headers["x-request-id"]
    assert replaced != "x" * 65 and len(replaced) == 32


async def test_json_lines_of_a_request_carry_its_id_and_the_event_key(http, gql):
    await seed_qr1(gql)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(StampRequestId())
    logger = logging.getLogger("rebate.intake")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        response = await http.post("/graphql", json={"query": ORDER_PAID, "variables": {"input": paid_order("o1", "A")}},
                                   headers={"Authorization": f"Bearer {ADMIN}", "X-Request-ID": "req-1"})
        assert response.status_code == 200 and response.json()["data"]["reportOrderPaid"]["errors"] == []
        await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order("o2", "B")})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    first = next(line for line in lines if line.get("event_key") == "o1:paid")
    assert first["request_id"] == "req-1" and first["level"] == "INFO" and first["logger"] == "rebate.intake"
    assert first["queue_ids"] and isinstance(first["event_id"], int) and first["ts"].endswith("Z")
    second = next(line for line in lines if line.get("event_key") == "o2:paid")
    assert second["request_id"] not in (None, "req-1")


def test_the_log_format_is_text_or_json(monkeypatch):
    monkeypatch.delenv("REBATE_LOG_FORMAT", raising=False)
    assert log_format() == "text" and log_format("JSON") == "json"
    monkeypatch.setenv("REBATE_LOG_FORMAT", "json")
    assert log_format() == "json"
    with pytest.raises(ValueError):
        log_format("xml")


@pytest.fixture
def logging_as_it_was():
    """The root's and uvicorn's loggers put back as they were after the test."""
    loggers = [logging.getLogger(name) for name in ("", *logs.UVICORN, "uvicorn.asgi")]
    saved = [(lg, lg.handlers[:], lg.propagate, lg.level) for lg in loggers]
    yield
    for lg, handlers, propagate, level in saved:
        lg.handlers[:] = handlers
        lg.propagate, lg.level = propagate, level


def access_line() -> None:
    """What uvicorn's HTTP protocol does for each response (httptools_impl)."""
    access = logging.getLogger("uvicorn.access")
    if access.hasHandlers():
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", "/graphql", "1.1", 200)


@pytest.mark.parametrize(("options", "level", "access", "startup"), [
    ({}, "INFO", True, True),
    ({"log_level": "warning"}, "INFO", False, False),
    ({"access_log": False}, "INFO", False, True),
    ({}, "WARNING", False, False),
    ({"log_level": "debug"}, "INFO", True, True),
])
def test_uvicorns_log_options_keep_their_effect_in_the_api_process(logging_as_it_was, capsys, options, level, access, startup):
    uvicorn.Config("api.app:create_app", factory=True, **options)  # uvicorn's logging set-up, before it builds the app
    logs.configure("text", level)  # what create_app does
    access_line()
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    written = capsys.readouterr().err
    assert ('"POST /graphql HTTP/1.1" 200' in written) is access
    assert ("uvicorn.error: Application startup complete." in written) is startup


def test_outside_uvicorn_its_loggers_follow_the_level_here(logging_as_it_was, capsys):
    for name in logs.UVICORN:
        logging.getLogger(name).setLevel(logging.ERROR)  # left over, not uvicorn's set-up: no handler of its own
    logs.configure("text", "INFO")
    access_line()
    assert '"POST /graphql HTTP/1.1" 200' in capsys.readouterr().err
