"""Store.sync against a small scripted service (exact control of every timestamp): what is listed, what is
counted new / changed / unchanged, the high-water mark and its overlap, separate filter sets, reopening,
full relists, failures half-way, and the upgrade of an older store file. The sandbox runs are in
test_store_sync_sandbox.py."""

from __future__ import annotations

import copy
import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from ttai_notebook import store as store_mod
from ttai_notebook.models import Session, parse_datetime
from ttai_notebook.store import SCHEMA_VERSION, Store, SyncResult

from .conftest import SCN_A, SCN_B, spec_session

UTC = dt.timezone.utc
EPOCH = dt.datetime(2026, 5, 1, 9, 0, 0, tzinfo=UTC)


def _naive(t: dt.datetime) -> str:
    return t.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


class Service:
    """A service that lists spec-shaped sessions and filters ``updated_since`` on ``updated_at`` (inclusive),
    as ``GET /v2/sessions`` does. ``with_updated_at=False`` leaves ``updated_at`` out of the list items, as
    the spec's ``PublicSessionResponse`` does (the filter still applies to it)."""

    def __init__(self, n: int = 40, *, with_updated_at: bool = True) -> None:
        self.with_updated_at = with_updated_at
        self.items: dict[str, dict[str, Any]] = {}
        self.clock = EPOCH
        self.calls: list[dict[str, Any]] = []
        self.listed: list[int] = []
        self.fail_after: int | None = None
        for i in range(n):
            self.add(f"s{i:03d}", scenario=SCN_A if i % 2 else SCN_B, email=f"user{i % 4}@example.com")

    def tick(self, seconds: float = 7.5) -> dt.datetime:
        self.clock += dt.timedelta(seconds=seconds)
        return self.clock

    def add(self, sid: str, **kwargs: Any) -> dict[str, Any]:
        created = self.tick()
        item = spec_session(sid, created=_naive(created), duration=None, final=7.0, **kwargs)
        item["completed_at"] = _naive(created + dt.timedelta(seconds=1))  # before the next tick
        item["updated_at"] = _naive(created + dt.timedelta(seconds=2))
        self.items[sid] = item
        return item

    def rescore(self, sid: str, final: float, *, at: dt.datetime | None = None) -> None:
        """What a post-process does: new results, ``updated_at`` bumped."""
        item = self.items[sid]
        item["evaluation_results"] = dict(item["evaluation_results"], final_score=final)
        item["updated_at"] = _naive(at or self.tick())

    def list(self, **kwargs: Any) -> Iterator[Session]:
        self.calls.append(kwargs)
        since = kwargs.get("updated_since")
        emails = kwargs.get("user_email")
        emails = {e.lower() for e in ([emails] if isinstance(emails, str) else emails or ())}
        out = []
        for item in sorted(self.items.values(), key=lambda d: d["created_at"], reverse=True):
            if since is not None and parse_datetime(item["updated_at"]) < since:
                continue
            if kwargs.get("scenario_id") not in (None, item["scenario_id"]):
                continue
            if emails and item["user_email"].lower() not in emails:
                continue
            if any(item["metadata"].get(k) != v for k, v in (kwargs.get("metadata") or {}).items()):
                continue
            data = copy.deepcopy(item)
            if not self.with_updated_at:
                del data["updated_at"]
            out.append(data)
        self.listed.append(len(out))
        return self._yield(out)

    def _yield(self, out: list[dict[str, Any]]) -> Iterator[Session]:
        for i, data in enumerate(out):
            if self.fail_after is not None and i == self.fail_after:
                raise ConnectionError("the service went away")
            yield Session.from_api(data)


class FakeClient:
    def __init__(self, service: Service, base_url: str = "https://svc.example/api/public",
                 org_id: str | None = None) -> None:
        self.sessions = service
        self.base_url = base_url
        self.org_id = org_id


@pytest.fixture(autouse=True)
def _instant_listings(monkeypatch):
    """Listings here take no time on the monotonic clock, so ``since`` is exactly the mark less the overlap
    (how a listing's duration widens the window is tested on its own below)."""
    monkeypatch.setattr(store_mod.time, "monotonic", lambda: 1000.0)


@pytest.fixture(params=[True, False], ids=["items-with-updated_at", "spec-items-without-updated_at"])
def service(request) -> Service:
    return Service(with_updated_at=request.param)


def _counts(result: SyncResult) -> tuple[int, int, int, int]:
    return result.new, result.changed, result.unchanged, result.total


# --------------------------------------------------------------------------------------------------
# The cycle: everything, then nothing, then only what changed
# --------------------------------------------------------------------------------------------------


def test_first_sync_lists_everything_and_stores_sessions_with_analyses(service):
    client = FakeClient(service)
    with Store() as store:
        result = store.sync(client)
        assert _counts(result) == (40, 0, 0, 40) and result.listed == 40
        assert result.since is None and result.full
        assert "updated_since" not in service.calls[0] and service.calls[0]["page_size"] == 500
        assert set(result.new_ids) == set(service.items) and len(store) == 40
        assert store.analyzed_ids() == set(service.items)  # evaluation_results stored as analyses
        assert store.get_analysis("s007").score == pytest.approx(70.0)
        newest = max(parse_datetime(d["updated_at" if service.with_updated_at else "completed_at"])
                     for d in service.items.values())
        assert result.high_water_mark == newest


def test_a_second_sync_without_changes_lists_only_the_overlap(service):
    client = FakeClient(service)
    with Store() as store:
        first = store.sync(client)
        again = store.sync(client, overlap=dt.timedelta(seconds=10))
        assert _counts(again) == (0, 0, again.listed, 40)
        assert 1 <= again.listed <= 2  # only what the 10 s overlap reaches back to
        assert again.since == first.high_water_mark - dt.timedelta(seconds=10)
        assert service.calls[-1]["updated_since"] == again.since
        assert again.high_water_mark == first.high_water_mark


def test_only_what_changed_comes_back_as_changed_or_new(service):
    client = FakeClient(service)
    with Store() as store:
        store.sync(client)
        service.rescore("s003", 9.0)
        service.rescore("s011", 2.0)
        service.add("s100", scenario=SCN_A)
        result = store.sync(client, overlap=0)
        assert (result.new, result.changed) == (1, 2)
        assert result.new_ids == ("s100",) and set(result.changed_ids) == {"s003", "s011"}
        assert result.total == 41
        # Inclusive from the mark: the session stamped at it comes back too, unchanged and not rewritten.
        assert result.listed == 4 and result.unchanged == 1
        assert store.get_session("s003").score == pytest.approx(90.0)
        assert store.get_analysis("s011").score == pytest.approx(20.0)
        # and the next sync starts after those
        assert _counts(store.sync(client, overlap=0))[:2] == (0, 0)


def test_the_overlap_catches_a_change_stamped_before_the_mark(service):
    """A write the service stamped a moment before the newest session we saw, but which became visible only
    after our listing: without the overlap it is missed for good; with it, the next sync finds it."""
    client = FakeClient(service)
    with Store() as missed, Store() as caught:
        mark = missed.sync(client).high_water_mark
        caught.sync(client)
        service.rescore("s005", 9.9, at=mark - dt.timedelta(seconds=1))
        assert missed.sync(client, overlap=0).changed == 0
        assert missed.get_session("s005").score == pytest.approx(70.0)
        result = caught.sync(client, overlap=dt.timedelta(seconds=5))
        assert result.changed_ids == ("s005",)
        assert caught.get_session("s005").score == pytest.approx(99.0)


def test_a_change_stamped_exactly_at_the_mark_is_listed_even_without_overlap(service):
    client = FakeClient(service)
    with Store() as store:
        mark = store.sync(client).high_water_mark
        service.rescore("s002", 1.0, at=mark)
        result = store.sync(client, overlap=0)
        assert result.since == mark and "s002" in result.changed_ids


def test_a_long_previous_listing_widens_the_window(service, monkeypatch):
    client = FakeClient(service)
    ticks = iter([100.0, 163.2, 500.0, 500.1])  # the first listing "took" 63.2 s on the monotonic clock
    monkeypatch.setattr(store_mod.time, "monotonic", lambda: next(ticks))
    with Store() as store:
        mark = store.sync(client).high_water_mark
        result = store.sync(client, overlap=dt.timedelta(seconds=10))
        assert result.since == mark - dt.timedelta(seconds=63.2)


def test_the_mark_never_moves_back_and_an_empty_listing_keeps_it():
    service = Service(n=3)
    client = FakeClient(service)
    with Store() as store:
        mark = store.sync(client).high_water_mark
        result = store.sync(client, scenario_id=SCN_A)  # another filter set
        assert result.full
        service.items.clear()
        again = store.sync(client, overlap=0)
        assert (again.listed, again.high_water_mark, again.total) == (0, mark, 3)


def test_no_listing_at_all_means_the_next_sync_is_full_again():
    with Store() as store:
        client = FakeClient(Service(n=0))
        assert store.sync(client).high_water_mark is None
        assert store.sync(client).since is None


# --------------------------------------------------------------------------------------------------
# Filter sets, files, full relists
# --------------------------------------------------------------------------------------------------


def test_filter_sets_keep_separate_marks_and_totals(service):
    client = FakeClient(service)
    with Store() as store:
        by_a = store.sync(client, scenario_id=SCN_A)
        assert by_a.full and _counts(by_a) == (20, 0, 0, 20) and by_a.filters == {"scenario_id": SCN_A}
        everything = store.sync(client)
        assert everything.full and _counts(everything) == (20, 0, 20, 40)
        one_user = store.sync(client, user_email=["USER1@example.com"])
        assert one_user.full and (one_user.new, one_user.total) == (0, 10)
        service.rescore("s001", 3.0)  # scenario A, user1
        service.rescore("s002", 3.0)  # scenario B, user2
        assert store.sync(client, scenario_id=SCN_A, overlap=0).changed_ids == ("s001",)
        assert set(store.sync(client, overlap=0).changed_ids) == {"s002"}  # s001 is already up to date
        assert store.sync(client, user_email="user1@example.com", overlap=0).since is not None  # same key
        other_org = FakeClient(service, org_id="org-2")
        assert store.sync(other_org).full  # another organisation: another mark


def test_metadata_and_is_org_filters_are_passed_on_and_keyed():
    service = Service(n=4)
    service.items["s001"]["metadata"] = {"team": "South"}
    client = FakeClient(service)
    with Store() as store:
        north = store.sync(client, metadata={"team": "North"}, is_org=True)
        assert service.calls[-1]["metadata"] == {"team": "North"} and service.calls[-1]["is_org"] is True
        assert north.total == 3 and north.filters == {"metadata": {"team": "North"}, "is_org": True}
        assert store.sync(client, metadata={"team": "North"}).full  # is_org=False is another set


def test_the_mark_survives_reopening_the_file(tmp_path, service):
    path = tmp_path / "mirror.sqlite"
    client = FakeClient(service)
    with Store(path) as store:
        first = store.sync(client)
    with Store(path) as store:
        again = store.sync(client, overlap=0)
        assert again.since == first.high_water_mark and (again.new, again.changed, again.total) == (0, 0, 40)


def test_full_relist_reports_sessions_no_longer_listed_and_keeps_them_stored(service):
    client = FakeClient(service)
    with Store() as store:
        store.sync(client)
        del service.items["s004"], service.items["s009"]
        service.rescore("s010", 5.0)
        result = store.sync(client, full=True)
        assert result.full and result.removed == 2 and result.removed_ids == ("s004", "s009")
        assert _counts(result) == (0, 1, 37, 38)
        assert "s004" in store and store.get_analysis("s004") is not None  # paid for: kept
        assert store.sync(client, overlap=0).removed is None  # incremental syncs do not look


def test_a_listing_that_fails_half_way_keeps_what_it_stored_and_leaves_the_mark(service):
    client = FakeClient(service)
    with Store() as store:
        first = store.sync(client)
        for sid in ("s001", "s002", "s003"):
            service.rescore(sid, 1.0)
        service.fail_after = 2  # after the session at the mark and s003 (newest created first)
        with pytest.raises(ConnectionError):
            store.sync(client, overlap=0)
        service.fail_after = None
        result = store.sync(client, overlap=0)
        assert result.since == first.high_water_mark  # the failed sync did not move it
        # s003 (listed first, newest created) was stored before the failure; the session at the mark is
        # listed again as always (inclusive)
        assert result.listed == 4 and result.changed_ids == ("s002", "s001") and result.unchanged == 2


def test_a_session_stored_from_its_detail_keeps_its_transcript():
    """A list answer has no transcript: listing the session again is not a change, and a real change keeps
    the stored transcript."""
    service = Service(n=3)
    detail = Session.from_api(dict(service.items["s001"], finalized_transcript="[00:01] AI: Full text"))
    for item in service.items.values():
        del item["finalized_transcript"]  # as list items come
    client = FakeClient(service)
    with Store() as store:
        store.put_session(detail)
        first = store.sync(client)
        assert (first.new, first.unchanged) == (2, 1)
        service.rescore("s001", 9.0)
        assert store.sync(client, overlap=0).changed_ids == ("s001",)
        back = store.get_session("s001")
        assert back.transcript == "[00:01] AI: Full text" and back.score == pytest.approx(90.0)


def test_an_analysis_stored_alone_is_completed_by_the_sync():
    service = Service(n=2)
    with Store() as store:
        store.put_analysis("s000", Session.from_api(service.items["s000"]).analysis)
        result = store.sync(FakeClient(service))
        assert result.new == 2 and store.get_session("s000").status == "completed"


def test_a_client_without_a_synchronous_listing_is_refused():
    class AsyncLike:
        base_url, org_id = "https://x", None

        class sessions:  # noqa: N801 - mimics the attribute
            @staticmethod
            def list(**kwargs):
                class Pages:
                    def __aiter__(self):
                        return self
                return Pages()

    with Store() as store, pytest.raises(TypeError, match="synchronous Client"):
        store.sync(AsyncLike())


@pytest.mark.parametrize("bad", [-5, "soon"])
def test_a_bad_overlap_is_refused_before_anything_is_listed(bad):
    service = Service(n=1)
    with Store() as store, pytest.raises(ValueError, match="overlap"):
        store.sync(FakeClient(service), overlap=bad)
    assert service.calls == []


def test_progress_bar(capsys):
    with Store() as store:
        assert store.sync(FakeClient(Service(n=5)), progress=True).new == 5
    assert "sync" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# Older files
# --------------------------------------------------------------------------------------------------


def test_a_version_2_file_is_upgraded_and_its_sessions_count_as_unchanged(tmp_path):
    service = Service(n=4)
    path = tmp_path / "v2.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE sessions (id TEXT PRIMARY KEY NOT NULL, scenario_id TEXT, user_email TEXT, status TEXT, "
        "created_at REAL, data TEXT NOT NULL, raw TEXT NOT NULL, stored_at REAL NOT NULL)"
    )
    conn.execute("CREATE TABLE analyses (session_id TEXT PRIMARY KEY NOT NULL, score REAL, data TEXT NOT NULL, "
                 "raw TEXT NOT NULL, stored_at REAL NOT NULL)")
    old = Session.from_api(copy.deepcopy(service.items["s002"]))
    conn.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", store_mod.session_row(old, 0.0))
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with Store(path) as store:
        result = store.sync(FakeClient(service))
        assert (result.new, result.unchanged, result.total) == (3, 1, 4)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        marks = conn.execute("SELECT filter_key, high_water_mark FROM sync_marks").fetchall()
    finally:
        conn.close()
    assert len(marks) == 1 and json.loads(marks[0][0])["service"] == "https://svc.example/api/public"


def test_the_token_is_never_written_to_the_store(tmp_path):
    import ttai_notebook as tt

    token = "tt-secret-token-123456"
    path = tmp_path / "t.sqlite"
    with tt.Client.sandbox(seed=0, token=token) as client, Store(path) as store:
        store.sync(client)
        store.sync(client)
    assert token.encode() not in b"".join(p.read_bytes() for p in tmp_path.iterdir())
