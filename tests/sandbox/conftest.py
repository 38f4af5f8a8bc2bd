"""Fixtures for the sandbox tests: sandboxes and plain httpx clients on the in-process transport or on
the real 127.0.0.1 server. No network."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ttai_notebook.sandbox import Sandbox

from .helpers import local_client, make_http


@pytest.fixture
def sb() -> Sandbox:
    return Sandbox(seed=0)


@pytest.fixture
def http(sb: Sandbox) -> Iterator[httpx.Client]:
    with make_http(sb) as client:
        yield client


@pytest.fixture(params=["transport", "server"])
def connect(request: pytest.FixtureRequest) -> Iterator[Callable[..., tuple[Sandbox, httpx.Client]]]:
    """Factory: ``connect(**sandbox_options) -> (sandbox, httpx.Client)`` over the in-process transport
    or over a real server on 127.0.0.1 (the test runs once per way)."""
    opened: list[Any] = []

    def build(**options: Any) -> tuple[Sandbox, httpx.Client]:
        box = Sandbox(**options)
        if request.param == "transport":
            client = make_http(box)
        else:
            server = box.serve()
            opened.append(server)
            client = local_client(server.base_url)
        opened.append(client)
        return box, client

    build.way = request.param  # type: ignore[attr-defined]
    yield build
    for thing in reversed(opened):
        thing.close()
