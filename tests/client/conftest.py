"""Fixtures for the client tests: sync and async clients on one fake API, with instant recorded sleeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from client_helpers import TOKEN, FakeAPI, close_all

from ttai_notebook.client import AsyncClient, Client


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI()


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def make_client(kind: str, api: FakeAPI, slept: list[float]):
    """Build a sync or async client (per ``kind``) on the fake API, sleeping instantly."""
    made: list[Any] = []

    async def async_sleep(seconds: float) -> None:
        slept.append(seconds)

    def build(handler: Callable[[httpx.Request], httpx.Response] | None = None, **kwargs: Any) -> Any:
        kwargs.setdefault("token", TOKEN)
        transport = httpx.MockTransport(handler or api)
        if kind == "sync":
            client = Client(transport=transport, sleep=slept.append, **kwargs)
        else:
            client = AsyncClient(transport=transport, sleep=async_sleep, **kwargs)
        made.append(client)
        return client

    yield build
    await close_all(made)


@pytest.fixture(params=["sync", "async"])
async def sandbox_client(request: pytest.FixtureRequest):
    """A factory of sandbox clients (sync or async) whose sleeps move the sandbox's background clock instead of
    waiting (moto-style: background analyses finish once the client has "waited" long enough); closed after."""
    made: list[Any] = []

    def build(**options: Any) -> Any:
        def sleep(seconds: float) -> None:
            client.sandbox_instance.advance(seconds)

        async def async_sleep(seconds: float) -> None:
            client.sandbox_instance.advance(seconds)

        if request.param == "sync":
            client = Client.sandbox(sleep=sleep, **options)
        else:
            client = AsyncClient.sandbox(sleep=async_sleep, **options)
        made.append(client)
        return client

    yield build
    await close_all(made)
