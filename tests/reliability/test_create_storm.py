"""G2 create storm: 200 scenario creates (and 100 session creates) under 5% 5xx and 2% dropped connections on
the served sandbox. Every object the client reports as created exists exactly once; every failure reaches
the caller, as "outcome unknown — check before retrying" where the request may have taken effect; no
silent duplicate. Then the advice in that message is followed and every object ends up existing once."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import ttai_notebook as tt
from ttai_notebook.sandbox import Sandbox

N_SCENARIOS = 200
N_SESSIONS = 100


def _drops_by_body(box: Sandbox, key: str) -> Counter[str]:
    """Count dropped replies by one field of the request's JSON body (the sandbox executed them)."""
    dropped: Counter[str] = Counter()
    run = box.app.run

    def counting_run(ticket: Any) -> Any:
        reply = run(ticket)
        if reply.drop and ticket.method == "POST" and ticket.body:
            value = json.loads(ticket.body).get(key)
            if value is not None:
                dropped[str(value)] += 1
        return reply

    box.app.run = counting_run  # type: ignore[method-assign]
    return dropped


def _attempt(fn: Any) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except tt.TTAIError as exc:
        return "error", exc


def test_create_storm_scenarios(figures) -> None:
    box = Sandbox(seed=11)
    before = {s.id for s in box.state.scenarios.values()}
    dropped = _drops_by_body(box, "name")
    box.set_faults(rate_5xx=0.05, rate_drop=0.02, jitter=0.002)
    names = [f"Storm scenario #{i:03d}" for i in range(N_SCENARIOS)]

    with box.serve() as server, tt.Client(token="sandbox", base_url=server.base_url, backoff_initial=0.01,
                                          backoff_max=0.05) as client:
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = dict(zip(names, pool.map(
                lambda n: _attempt(lambda: client.scenarios.create(n, "You are a buyer. Object to the price.")),
                names)))

        created = {n: v for n, (kind, v) in outcomes.items() if kind == "ok"}
        failed = {n: v for n, (kind, v) in outcomes.items() if kind == "error"}
        new = [s for s in box.state.scenarios.values() if s.id not in before]
        on_server = Counter(s.name for s in new)

        # 0 silent duplicates: no name exists twice; each create the sandbox executed is accounted for.
        assert max(on_server.values()) == 1
        assert box.counters.creates["scenario"] == len(new) == len(created) + sum(dropped.values())
        # Every reported success exists exactly once, with the id the client returned.
        for name, scenario in created.items():
            assert on_server[name] == 1 and box.state.scenarios[scenario.id].name == name
        # Every failure was reported, as "outcome unknown" with how to check, never retried blindly.
        assert len(created) + len(failed) == N_SCENARIOS
        assert failed, "the storm should have met some faults"
        for name, exc in failed.items():
            assert isinstance(exc, tt.OutcomeUnknownError), repr(exc)
            text = str(exc)
            assert "outcome is unknown" in text and "not retried" in text
            assert f"client.scenarios.list(search={name!r}" in text
            # the unknown ones exist iff the sandbox executed the request and dropped the answer
            assert on_server[name] == dropped[name]
        exists_after_unknown = sum(1 for n in failed if on_server[n])

        # Follow the advice: check, and create again only what is not there (faults still on).
        rounds = rechecks = 0
        todo = dict(failed)
        while todo:
            rounds += 1
            assert rounds <= 10
            for name in list(todo):
                rechecks += 1
                found = [s for s in client.scenarios.list(search=name, cache=False) if s.name == name]
                if found:
                    created[name] = found[0]
                    del todo[name]
                    continue
                kind, value = _attempt(lambda: client.scenarios.create(name, "You are a buyer."))
                if kind == "ok":
                    created[name] = value
                    del todo[name]
                else:
                    assert isinstance(value, tt.OutcomeUnknownError), repr(value)

    final = Counter(s.name for s in box.state.scenarios.values() if s.id not in before)
    assert final == Counter(names), "after following the advice each scenario exists exactly once"
    assert {n: s.id for n, s in created.items()} == {
        s.name: s.id for s in box.state.scenarios.values() if s.id not in before}
    figures(
        "G2 create storm",
        scenario_creates=N_SCENARIOS,
        reported_created=N_SCENARIOS - len(failed),
        outcome_unknown=len(failed),
        unknown_but_created=exists_after_unknown,
        injected_5xx=box.counters.injected["5xx"],
        dropped=box.counters.drops,
        silent_duplicates=0,
        recovery_rechecks=rechecks,
        final_each_once=len(final),
    )


async def test_create_storm_session_links_async(figures) -> None:
    """The other create route (POST /v2/sessions), from an AsyncClient, on the in-process transport."""
    import asyncio

    box = Sandbox(seed=12)
    scenario_id = next(iter(box.state.scenarios))
    before = set(box.state.sessions)
    box.set_faults(rate_5xx=0.05, rate_drop=0.02)
    client = tt.AsyncClient(token="sandbox", base_url=box.base_url, transport=box.transport(),
                            app_url="https://sandbox.ttai.invalid")

    async def one(i: int) -> tuple[int, Any]:
        try:
            return i, await client.sessions.create(scenario_id, user_email=f"trainee{i}@example.com",
                                                   metadata={"storm": i})
        except tt.TTAIError as exc:
            return i, exc

    results = dict(await asyncio.gather(*(one(i) for i in range(N_SESSIONS))))
    await client.aclose()
    new = [box.state.sessions[s] for s in box.state.sessions if s not in before]
    per_index = Counter(rec.metadata["storm"] for rec in new)
    ok = {i: v for i, v in results.items() if isinstance(v, tt.SessionLink)}
    bad = {i: v for i, v in results.items() if not isinstance(v, tt.SessionLink)}
    assert max(per_index.values()) == 1, "a session was created twice"
    for i, link in ok.items():
        assert per_index[i] == 1 and box.state.sessions[link.session_id].metadata == {"storm": i}
    for i, exc in bad.items():
        assert isinstance(exc, tt.OutcomeUnknownError), repr(exc)
        assert "client.sessions.list(scenario_id=" in str(exc) and f"trainee{i}@example.com" in str(exc)
    assert len(new) == len(ok) + box.counters.drops
    figures("G2 create storm", session_creates=N_SESSIONS, reported_created=len(ok), outcome_unknown=len(bad),
            unknown_but_created=box.counters.drops, silent_duplicates=0)


@pytest.mark.parametrize("status", [429])
def test_create_retried_only_when_provably_not_executed(status: int) -> None:
    """A 429 (never executed) is retried; the scenario then exists once."""
    client = tt.Client.sandbox(seed=13, backoff_initial=0.0, backoff_max=0.0, retry_after_cap=5)
    box = client.sandbox_instance
    box.set_faults(retry_after=0)
    box.fail_next(status, count=2, route="POST /scenarios")
    scenario = client.scenarios.create("After two 429s", "You are a buyer.")
    assert [s.name for s in box.state.scenarios.values()].count("After two 429s") == 1
    assert box.state.scenarios[scenario.id].name == "After two 429s"
    assert client.stats.retries == 2
