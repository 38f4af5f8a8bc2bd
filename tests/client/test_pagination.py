"""``sessions.list``: the page planner as a table, then laziness, ``max_items``, both list shapes, filters
and concurrent prefetch, for the sync and the async client."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time

import httpx
import pytest
from client_helpers import collect, take

from ttai_notebook._pagination import Page, PagePlan, PageRequest, page_request, parse_page, session_filters
from ttai_notebook.errors import APIError, NotFoundError, ServerError, ValidationError

# -- the planner (pure) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "remaining", "size", "expected"),
    [
        (0, None, 100, PageRequest(1, 100, 100)),
        (0, 500, 100, PageRequest(1, 100, 100)),
        (0, 30, 100, PageRequest(1, 30, 30)),  # first page: just ask for fewer
        (300, None, 100, PageRequest(4, 100, 100)),
        (200, 50, 100, PageRequest(5, 50, 50)),  # 50 divides 200: page 5 of 50 starts at 200
        (200, 30, 100, PageRequest(6, 40, 30)),  # smallest divisor of 200 in [30, 100] is 40
        (300, 70, 100, PageRequest(5, 75, 70)),  # 75 divides 300: page 5 of 75 starts at 300
        (100, 99, 100, PageRequest(2, 100, 99)),  # no smaller divisor fits: a full page, trimmed
        (7, 3, 7, PageRequest(2, 7, 3)),
    ],
)
def test_page_request_never_skips_or_repeats(offset, remaining, size, expected):
    request = page_request(offset, remaining, size)
    assert request == expected
    assert request.offset == offset  # the page starts exactly where the previous one ended
    assert request.take <= request.limit <= size
    if remaining is not None:
        assert request.take <= remaining


@pytest.mark.parametrize(
    ("body", "items", "complete", "has_next", "total"),
    [
        ([{"id": "a"}], [{"id": "a"}], True, None, None),
        ([], [], True, None, None),
        ({"sessions": [{"id": "a"}]}, [{"id": "a"}], False, None, None),
        (
            {"sessions": [], "page_meta": {"page": 1, "limit": 10, "total": 0, "total_pages": 0, "has_next": False}},
            [],
            False,
            False,
            0,
        ),
        ({"sessions": [{"id": "a"}], "page_meta": {"has_next": True, "total": "lots"}}, [{"id": "a"}], False, True, None),
    ],
)
def test_parse_page(body, items, complete, has_next, total):
    page = parse_page(body)
    assert (page.items, page.complete, page.has_next, page.total) == (items, complete, has_next, total)


def test_parse_page_refuses_an_unknown_shape():
    with pytest.raises(APIError, match="unexpected sessions list response"):
        parse_page({"what": 1})


def test_plan_lists_the_remaining_pages_up_to_max_items():
    plan = PagePlan(page_size=100, max_items=350)
    first = plan.next_request()
    assert first == PageRequest(1, 100, 100)
    page = Page(items=[{}] * 100, has_next=True, total=1000, total_pages=10, limit=100)
    items, done = plan.accept(first, page)
    assert len(items) == 100 and not done
    assert plan.known_requests(page) == [PageRequest(2, 100, 100), PageRequest(3, 100, 100), PageRequest(7, 50, 50)]


def test_plan_adopts_a_capped_page_size():
    plan = PagePlan(page_size=500, max_items=None)
    first = plan.next_request()
    page = Page(items=[{}] * 100, has_next=True, total=250, total_pages=3, limit=100)
    plan.accept(first, page)
    assert plan.known_requests(page) == [PageRequest(2, 100, 100), PageRequest(3, 100, 100)]


# -- a paginating fake service ------------------------------------------------------------------


def make_sessions(n: int) -> list[dict]:
    return [
        {"id": f"s{i:04d}", "scenario_id": "scn1", "status": "completed", "created_at": "2025-02-26T18:02:00.945000"}
        for i in range(n)
    ]


class PagedService:
    """``GET /sessions`` over ``n`` sessions, shaped as ``mode``: meta (full page_meta), nometa (no page_meta),
    bare (a bare list), hasnext (page_meta with has_next only)."""

    def __init__(self, n: int, mode: str = "meta", delay: float = 0.0, *, v1_only: bool = False) -> None:
        self.data = make_sessions(n)
        self.v1_only = v1_only  # a service as the brief describes it: no GET /v2/sessions
        self.paths: list[str] = []
        self.mode = mode
        self.delay = delay
        self.pages: list[tuple[int, int]] = []
        self.params: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()

    def _page(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        self.params.append(params)
        if self.mode == "bare":
            return httpx.Response(200, json=self.data)
        page, limit = int(params.get("page", 1)), int(params.get("limit", 50))
        self.pages.append((page, limit))
        start = (page - 1) * limit
        items = self.data[start : start + limit]
        total_pages = -(-len(self.data) // limit)
        if self.mode == "nometa":
            return httpx.Response(200, json={"sessions": items})
        meta = {"page": page, "limit": limit, "has_next": page < total_pages, "has_prev": page > 1}
        if self.mode == "meta":
            meta.update(total=len(self.data), total_pages=total_pages)
        return httpx.Response(200, json={"sessions": items, "page_meta": meta})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.paths.append(path)
        if self.v1_only and path == "/api/public/v2/sessions":
            return httpx.Response(404, json={"detail": "Not Found"})
        assert path == ("/api/public/sessions" if self.v1_only else "/api/public/v2/sessions")
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._page(request)
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.mark.parametrize("mode", ["meta", "nometa", "hasnext"])
@pytest.mark.parametrize("prefetch", [True, False])
async def test_every_session_once_in_order(make_client, mode, prefetch):
    service = PagedService(257, mode)
    client = make_client(service)
    sessions = await collect(client.sessions.list(page_size=50, prefetch=prefetch))
    assert [s.id for s in sessions] == [f"s{i:04d}" for i in range(257)]
    assert sessions[0].created_at == dt.datetime(2025, 2, 26, 18, 2, 0, 945000, tzinfo=dt.timezone.utc)
    assert sorted(service.pages) == [(p, 50) for p in range(1, 7)]  # 6 pages, none twice, none past the end


async def test_listing_is_lazy(make_client):
    service = PagedService(1000, "meta")
    client = make_client(service)
    iterator = client.sessions.list(page_size=100)
    assert service.pages == []  # nothing fetched before iterating
    first = await take(iterator, 1)
    assert [s.id for s in first] == ["s0000"]
    assert service.pages == [(1, 100)]
    iterator = client.sessions.list(page_size=100, prefetch=False)
    got = await take(iterator, 150)
    assert len(got) == 150
    assert service.pages[1:] == [(1, 100), (2, 100)]


async def test_prefetch_stays_bounded_and_in_order(make_client, kind):
    service = PagedService(2000, "meta", delay=0.01)
    handler = service
    if kind == "async":
        # the async client needs a handler that yields to the loop while "the network" is slow
        async def handler(request: httpx.Request) -> httpx.Response:
            with service.lock:
                service.in_flight += 1
                service.max_in_flight = max(service.max_in_flight, service.in_flight)
            await asyncio.sleep(0.01)
            with service.lock:
                service.in_flight -= 1
            return service._page(request)

    client = make_client(handler)
    sessions = await collect(client.sessions.list(page_size=100, prefetch=4))
    assert [s.id for s in sessions] == [f"s{i:04d}" for i in range(2000)]
    assert 2 <= service.max_in_flight <= 4
    assert len(service.pages) == 20


async def test_prefetch_stops_early_when_the_consumer_does(make_client):
    service = PagedService(5000, "meta")
    client = make_client(service)
    got = await take(client.sessions.list(page_size=100, prefetch=4), 150)
    assert len(got) == 150
    # the two pages consumed, plus at most one window of 4 ahead — not the 50 pages there are
    assert len(service.pages) <= 2 + 4


@pytest.mark.parametrize("mode", ["meta", "nometa", "hasnext"])
@pytest.mark.parametrize("prefetch", [True, False])
@pytest.mark.parametrize(("max_items", "expected_pages"), [(0, []), (30, [(1, 30)]), (100, [(1, 100)]),
                                                             (230, [(1, 100), (2, 100), (6, 40)])])
async def test_max_items_never_asks_past_what_it_needs(make_client, mode, prefetch, max_items, expected_pages):
    service = PagedService(1000, mode)
    client = make_client(service)
    sessions = await collect(client.sessions.list(page_size=100, max_items=max_items, prefetch=prefetch))
    assert [s.id for s in sessions] == [f"s{i:04d}" for i in range(max_items)]
    assert sorted(service.pages) == expected_pages


async def test_max_items_beyond_the_total(make_client):
    service = PagedService(120, "meta")
    client = make_client(service)
    sessions = await collect(client.sessions.list(page_size=100, max_items=500))
    assert len(sessions) == 120
    assert sorted(service.pages) == [(1, 100), (2, 100)]


@pytest.mark.parametrize("max_items", [None, 10])
async def test_a_bare_list_is_the_complete_result(make_client, max_items):
    service = PagedService(300, "bare")
    client = make_client(service)
    sessions = await collect(client.sessions.list(page_size=100, max_items=max_items))
    assert len(sessions) == (max_items or 300)
    assert len(service.params) == 1  # no further pages asked for


async def test_empty_listing(make_client):
    service = PagedService(0, "meta")
    client = make_client(service)
    assert await collect(client.sessions.list()) == []
    assert service.pages == [(1, 100)]


async def test_an_error_on_a_prefetched_page_surfaces_in_order(make_client):
    service = PagedService(500, "meta")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("page") == "3":
            return httpx.Response(400, json={"detail": "page 3 is cursed"})
        return service(request)

    client = make_client(handler)
    seen = []
    with pytest.raises(APIError, match="page 3 is cursed"):
        iterator = client.sessions.list(page_size=100)
        if hasattr(iterator, "__aiter__"):
            async for s in iterator:
                seen.append(s)
        else:
            for s in iterator:
                seen.append(s)
    assert len(seen) == 200  # pages 1 and 2 were delivered first


async def test_pages_are_retried_like_any_get(make_client, slept):
    service = PagedService(150, "meta")
    failures = {"2": 1}

    def handler(request: httpx.Request) -> httpx.Response:
        page = request.url.params.get("page")
        if failures.get(page):
            failures[page] -= 1
            return httpx.Response(503, json={"detail": "busy"})
        return service(request)

    client = make_client(handler)
    assert len(await collect(client.sessions.list(page_size=100))) == 150
    assert len(slept) == 1


async def test_filters_are_sent_as_the_v2_route_names_them(make_client):
    service = PagedService(3, "meta")
    client = make_client(service)
    await collect(
        client.sessions.list(
            scenario_id="scn1",
            user_email=["ann@example.com", "bo@example.com"],
            from_date=dt.date(2025, 1, 1),
            to_date=dt.datetime(2025, 3, 1, 12, 30),
            updated_since="2025-02-01T08:00:00Z",
            metadata={"team": "North", "level": {"$gte": 3}, "remote": True},
            is_org=True,
        )
    )
    # One listing per address (the spec documents a single user_email), each with every filter.
    assert [p["user_email"] for p in service.params] == ["ann@example.com", "bo@example.com"]
    params = service.params[0]
    assert params == {
        "scenario_id": "scn1",
        "user_email": "ann@example.com",
        "$gte_created_at": "2025-01-01",
        "$lte_created_at": "2025-03-01T12:30:00+00:00",
        "from_date": "2025-02-01T08:00:00Z",  # v2's from_date filters updated_at
        "meta_team": "North",
        "meta_$gte_level": "3",
        "meta_remote": "true",
        "is_org": "true",
        "page": "1",
        "limit": "100",
    }


async def test_several_addresses_are_merged_without_repeats(make_client):
    service = PagedService(5, "meta")  # ignores user_email: both listings return the same five sessions
    client = make_client(service)
    sessions = await collect(client.sessions.list(user_email=["ann@example.com", "bo@example.com"]))
    assert [s.id for s in sessions] == [f"s{i:04d}" for i in range(5)]
    assert len(service.params) == 2


async def test_falls_back_to_v1_list_only_when_the_v2_route_is_absent(make_client):
    service = PagedService(120, "meta", v1_only=True)
    client = make_client(service)
    sessions = await collect(client.sessions.list(page_size=50, updated_since="2025-01-01"))
    assert len(sessions) == 120
    assert service.paths.count("/api/public/v2/sessions") == 1
    assert "sessions.list_v2" in client.missing_routes
    # v1 has updated_at bounds only: updated_since is its from_date.
    assert service.params[0] == {"from_date": "2025-01-01", "page": "1", "limit": "50"}
    # Remembered: the next listing goes straight to v1.
    await collect(client.sessions.list(max_items=3))
    assert service.paths.count("/api/public/v2/sessions") == 1


async def test_v2_errors_other_than_a_missing_route_are_not_a_fallback(make_client, api):
    api.on("GET", "/v2/sessions", (404, {"detail": "Scenario scn1 not found"}))
    client = make_client()
    with pytest.raises(NotFoundError):
        await collect(client.sessions.list(scenario_id="scn1"))
    assert not client.missing_routes


async def test_v1_fallback_applies_created_range_and_metadata_itself(make_client):
    service = PagedService(40, "meta", v1_only=True)
    for i, item in enumerate(service.data):
        item["user_metadata"] = {"team": "North" if i % 2 else "South", "level": i % 5}
        item["created_at"] = f"2025-03-{20 - i:02d}T09:00:00" if i < 10 else f"2025-02-{28 - (i - 10) % 28:02d}T09:00:00"
    client = make_client(service)
    first_created = "2025-02-20T09:00:00"
    sessions = await collect(client.sessions.list(
        from_date=first_created, metadata={"team": "North", "level": {"$gte": 3}}, page_size=100,
    ))
    # created_from becomes v1's from_date (updated_at >= created_at, so nothing is lost) ...
    assert service.params[-1]["from_date"] == first_created
    # ... and the rest is checked locally.
    expected = [
        s["id"] for i, s in enumerate(service.data)
        if i % 2 and i % 5 >= 3 and s["created_at"] >= first_created
    ]
    assert [s.id for s in sessions] == expected


async def test_max_items_counts_what_is_yielded_after_local_filters(make_client):
    service = PagedService(60, "meta", v1_only=True)
    for i, item in enumerate(service.data):
        item["user_metadata"] = {"team": "North" if i % 3 == 0 else "South"}
    client = make_client(service)
    sessions = await collect(client.sessions.list(metadata={"team": "North"}, max_items=7, page_size=10))
    assert [s.id for s in sessions] == [f"s{i:04d}" for i in range(0, 21, 3)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metadata": {}}, "non-empty dict"),
        ({"metadata": {"team": ["North"]}}, "operator dict"),
        ({"metadata": {"level": {"$ge": 3}}}, "$gt, $gte, $lt, $lte"),
        ({"metadata": {"a&b": "x"}}, "plain non-empty strings"),
        ({"is_org": "yes"}, "True or False"),
        ({"updated_since": "last week"}, "updated_since must be a date"),
    ],
)
def test_bad_filters_are_refused_with_what_is_allowed(kwargs, message):
    from ttai_notebook.client import Client

    with Client(token="t", transport=httpx.MockTransport(lambda r: httpx.Response(500))) as client:
        with pytest.raises(ValidationError) as info:
            client.sessions.list(**kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"user_email": "ann@example.com"}, {"user_email": "ann@example.com"}),
        ({"from_date": "2025-01-01"}, {"from_date": "2025-01-01"}),
        ({"from_date": "2025-01-01T10:00:00Z"}, {"from_date": "2025-01-01T10:00:00Z"}),
        (
            {"from_date": dt.datetime(2025, 1, 1, 10, tzinfo=dt.timezone(dt.timedelta(hours=2)))},
            {"from_date": "2025-01-01T08:00:00+00:00"},
        ),
        ({"from_date": "2025-01-05", "to_date": "2025-01-05"}, {"from_date": "2025-01-05", "to_date": "2025-01-05"}),
        ({"from_date": dt.date(2025, 1, 5), "to_date": "2025-01-05T00:00:00"},
         {"from_date": "2025-01-05", "to_date": "2025-01-05T00:00:00"}),
    ],
)
def test_session_filters(kwargs, expected):
    assert session_filters(**kwargs) == expected


def test_pagination_validation_happens_before_any_request():
    def handler(request):
        raise AssertionError("no request expected")

    from ttai_notebook.client import Client

    with Client(token="t", transport=httpx.MockTransport(handler)) as client:
        for kwargs in ({"page_size": 0}, {"page_size": 501}, {"max_items": -1}, {"prefetch": 99},
                       {"from_date": "2025-02-01", "to_date": "2025-01-01"}):
            with pytest.raises(ValidationError):
                client.sessions.list(**kwargs)


async def test_async_listing_supports_async_for_and_to_list():
    from ttai_notebook.client import AsyncClient

    service = PagedService(42, "meta")
    async with AsyncClient(token="t", transport=httpx.MockTransport(service)) as client:
        iterator = client.sessions.list(page_size=10)
        assert hasattr(iterator, "__aiter__") and not hasattr(iterator, "__iter__")
        sessions = await iterator.to_list()
        assert len(sessions) == 42
        async with client.sessions.list(page_size=10) as it:
            async for session in it:
                assert session.id == "s0000"
                break
    # the early break left no task behind
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert pending == []


async def test_sync_listing_works_inside_a_running_event_loop():
    # A Jupyter cell runs inside an event loop: the sync client must not need one of its own.
    from ttai_notebook.client import Client

    asyncio.get_running_loop()
    service = PagedService(250, "meta")
    with Client(token="t", transport=httpx.MockTransport(service)) as client:
        assert len(client.sessions.list(page_size=100).to_list()) == 250


async def test_server_error_mid_listing(make_client):
    service = PagedService(300, "nometa")

    def handler(request):
        if request.url.params.get("page") == "2":
            return httpx.Response(500, json={"detail": "down"})
        return service(request)

    client = make_client(handler, max_retries=1)
    with pytest.raises(ServerError):
        await collect(client.sessions.list(page_size=100))
