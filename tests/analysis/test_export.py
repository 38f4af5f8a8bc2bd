"""Exports: CSV / Excel / Parquet round trips, clear messages for missing extras, and xAPI statements checked
field by field against the xAPI 1.0.3 data rules."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from urllib.parse import urlsplit

import pandas as pd
import pytest

from ttai_notebook import export as X
from ttai_notebook import frames as F
from ttai_notebook.models import Session

from .conftest import SCN_A, spec_session


@pytest.fixture
def sessions():
    return [
        spec_session("s1", created="2026-03-04T10:00:00.250000", final=7.4, duration=330),
        spec_session("s2", email="Bo@Example.COM", name=None, created="2026-03-05T09:00:00", final=5.0,
                     duration=3725.5, metadata={"team": "South", "cohort": 3}),
        spec_session("s3", status="active", final=None, duration=None),  # running: no statements
        spec_session("s4", status="terminated", final=9.0),  # not completed: no statements
        spec_session("s5", final=None),  # completed, not analysed: no statements
    ]


# --------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------


def test_csv_round_trip(sessions, tmp_path):
    path = tmp_path / "sessions.csv"
    X.to_csv(sessions, path)
    back = pd.read_csv(path)
    df = F.sessions_frame(sessions)
    assert list(back.columns) == list(df.columns)
    assert back["session_id"].tolist() == ["s1", "s2", "s3", "s4", "s5"]
    assert pd.Timestamp(back["created_at"].iloc[0]) == pd.Timestamp("2026-03-04T10:00:00.250", tz="UTC")
    assert back["score"].tolist()[:2] == [74.0, 50.0]


def test_csv_writes_nested_metadata_as_json(tmp_path):
    path = tmp_path / "nested.csv"
    X.to_csv([spec_session("n1", metadata={"team": "A", "tags": {"x": 1}})], path)
    assert pd.read_csv(path)["tags"].tolist() == ['{"x": 1}']


def test_parquet_round_trip_keeps_dtypes(sessions, tmp_path):
    df = F.sessions_frame(sessions)
    path = tmp_path / "sessions.parquet"
    X.to_parquet(df, path)
    back = pd.read_parquet(path)
    assert list(back.columns) == list(df.columns)
    for column in ("session_id", "team", "created_at", "score", "attempt", "analyzed"):
        assert str(back[column].dtype) == str(df[column].dtype), column
    pd.testing.assert_series_equal(back["score"], df["score"])
    pd.testing.assert_series_equal(back["created_at"], df["created_at"])


def test_excel_sheets_and_utc_wall_time(sessions, tmp_path):
    path = tmp_path / "report.xlsx"
    X.to_excel({"sessions": F.sessions_frame(sessions), "report cards": F.report_card_frame(sessions)}, path)
    book = pd.read_excel(path, sheet_name=None)
    assert list(book) == ["sessions", "report cards"]
    assert book["sessions"]["created_at"].iloc[0] == pd.Timestamp("2026-03-04 10:00:00.250")
    assert len(book["report cards"]) == 6
    X.to_excel(sessions, tmp_path / "one.xlsx")
    assert list(pd.read_excel(tmp_path / "one.xlsx", sheet_name=None)) == ["sessions"]
    with pytest.raises(ValueError, match="sheet name"):
        X.to_excel({"bad/name": F.sessions_frame(sessions)}, tmp_path / "bad.xlsx")


@pytest.mark.parametrize(
    ("function", "module", "extra"),
    [(X.to_excel, "openpyxl", "excel"), (X.to_parquet, "pyarrow", "parquet")],
)
def test_missing_extra_says_what_to_install(function, module, extra, monkeypatch, tmp_path, sessions):
    real = X.importlib.util.find_spec
    monkeypatch.setattr(X.importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))
    with pytest.raises(ImportError, match=rf"needs the optional package '{module}'.*ttai-notebook\[{extra}\]"):
        function(sessions, tmp_path / "out")


# --------------------------------------------------------------------------------------------------
# xAPI
# --------------------------------------------------------------------------------------------------

DURATION = re.compile(r"^P(?:\d+Y)?(?:\d+M)?(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d{1,2})?S)?)?$")
LANGUAGE_TAG = re.compile(r"^[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})*$")


def is_absolute_iri(value: str) -> bool:
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc) and " " not in value


def no_nulls_or_empty_objects(value, path="statement", in_extension=False):
    if isinstance(value, dict):
        assert value or in_extension, f"empty object at {path}"
        for k, v in value.items():
            no_nulls_or_empty_objects(v, f"{path}.{k}", in_extension or k == "extensions")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            no_nulls_or_empty_objects(v, f"{path}[{i}]", in_extension)
    else:
        assert value is not None or in_extension, f"null at {path}"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, "PT0S"), (59, "PT59S"), (330, "PT5M30S"), (3600, "PT1H"), (3725.5, "PT1H2M5.5S"), (61.004, "PT1M1S"),
     (0.456, "PT0.46S"), (86400, "PT24H")],
)
def test_iso8601_duration(seconds, expected):
    assert X.iso8601_duration(seconds) == expected
    assert DURATION.match(expected)


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_iso8601_duration_refuses_bad_values(bad):
    with pytest.raises(ValueError, match="finite number of seconds"):
        X.iso8601_duration(bad)


def test_xapi_statements_field_by_field(sessions):
    statements = X.to_xapi(sessions, mastery=70, activity_base="https://lms.example.com/scenarios/")
    assert [(s["context"]["extensions"][X.DEFAULT_EXTENSION_BASE + "session-id"], s["verb"]["display"]["en-US"])
            for s in statements] == [("s1", "completed"), ("s1", "passed"), ("s2", "completed"), ("s2", "failed")]
    for s in statements:
        no_nulls_or_empty_objects(s)
        # id: a UUID in standard form (RFC 4122 variant, version 5: derived from the content, test_export_ids.py)
        parsed = uuid.UUID(s["id"])
        assert str(parsed) == s["id"] and parsed.variant == uuid.RFC_4122 and parsed.version == 5
        # actor: an Agent identified by a mailto IRI
        assert s["actor"]["objectType"] == "Agent"
        assert s["actor"]["mbox"].startswith("mailto:") and "@" in s["actor"]["mbox"]
        assert set(s["actor"]) <= {"objectType", "mbox", "name"}
        # verb: ADL IRI with a language map
        assert s["verb"]["id"] in (X.VERB_COMPLETED, X.VERB_PASSED, X.VERB_FAILED)
        assert s["verb"]["id"].rsplit("/", 1)[1] == s["verb"]["display"]["en-US"]
        assert all(LANGUAGE_TAG.match(k) for k in s["verb"]["display"])
        # object: the scenario as an Activity with an absolute IRI id
        activity = s["object"]
        assert activity["objectType"] == "Activity" and is_absolute_iri(activity["id"])
        assert activity["id"] == "https://lms.example.com/scenarios/" + SCN_A
        assert activity["definition"]["type"] == "http://adlnet.gov/expapi/activities/simulation"
        assert activity["definition"]["name"] == {"en-US": "Cold Call"}
        assert "Cold Call" in activity["definition"]["description"]["en-US"]
        # result
        result = s["result"]
        assert result["completion"] is True
        assert DURATION.match(result["duration"])
        # context: registration shared per session, platform, IRI extension keys
        assert uuid.UUID(s["context"]["registration"]).version == 5
        assert s["context"]["platform"] == "Tough Tongue AI"
        assert all(is_absolute_iri(k) for k in s["context"]["extensions"])
        # timestamp: ISO 8601 with a time zone, millisecond precision
        stamp = dt.datetime.fromisoformat(s["timestamp"].replace("Z", "+00:00"))
        assert stamp.tzinfo is not None and s["timestamp"].endswith("Z")
        assert re.search(r"\.\d{3}Z$", s["timestamp"])
        assert s["version"] == "1.0.0"
    completed, passed, completed2, failed = statements
    assert "score" not in completed["result"] and "success" not in completed["result"]
    assert completed["result"]["duration"] == "PT5M30S"
    assert completed2["result"]["duration"] == "PT1H2M5.5S"
    assert passed["result"]["score"] == {"scaled": 0.74, "raw": 74.0, "min": 0, "max": 100}
    assert passed["result"]["success"] is True and failed["result"]["success"] is False
    assert failed["result"]["score"]["raw"] == 50.0
    for scored in (passed, failed):
        score = scored["result"]["score"]
        assert -1 <= score["scaled"] <= 1 and score["min"] < score["max"]
        assert score["min"] <= score["raw"] <= score["max"]
        assert all(is_absolute_iri(k) for k in scored["result"]["extensions"])
    card = passed["result"]["extensions"][X.DEFAULT_EXTENSION_BASE + "report-card"]
    assert card[0] == {"topic": "Rapport", "score": 80.0, "weight": pytest.approx(100 / 3), "note": "note on Rapport"}
    # actor details
    assert completed["actor"] == {"objectType": "Agent", "mbox": "mailto:ana@example.com", "name": "Ana Lima"}
    assert failed["actor"] == {"objectType": "Agent", "mbox": "mailto:Bo@example.com"}  # no null name
    assert failed["context"]["extensions"][X.DEFAULT_EXTENSION_BASE + "metadata"] == {"team": "South", "cohort": 3}
    # the completion time is the timestamp
    assert completed["timestamp"] == "2026-03-04T10:05:30.250Z"
    # both statements of a session share the registration; ids differ
    assert completed["context"]["registration"] == passed["context"]["registration"]
    assert len({s["id"] for s in statements}) == 4


def test_xapi_ids_are_deterministic(sessions):
    first = X.to_xapi(sessions)
    again = X.to_xapi([Session.from_api(d) for d in reversed(sessions)])
    assert {s["id"] for s in first} == {s["id"] for s in again}
    assert X.to_xapi(sessions) == first


def test_xapi_mastery_threshold(sessions):
    verbs = [s["verb"]["display"]["en-US"] for s in X.to_xapi(sessions, mastery=50)]
    assert verbs == ["completed", "passed", "completed", "passed"]  # 50 ≥ 50 passes
    verbs = [s["verb"]["display"]["en-US"] for s in X.to_xapi(sessions, mastery=80)]
    assert verbs == ["completed", "failed", "completed", "failed"]


def test_xapi_from_frame_matches_models(sessions):
    from_models = X.to_xapi(sessions)
    from_frame = X.to_xapi(F.sessions_frame(sessions), report_cards=F.report_card_frame(sessions))
    assert from_frame == from_models


def test_xapi_scenario_descriptions_and_version(sessions):
    from ttai_notebook.models import Scenario

    scenario = Scenario.from_api({"id": SCN_A, "name": "Cold Call v2", "user_friendly_description": "Book a demo."})
    s = X.to_xapi(sessions, scenarios=[scenario], version=None, language="en")[0]
    assert s["object"]["definition"]["name"] == {"en": "Cold Call v2"}
    assert s["object"]["definition"]["description"] == {"en": "Book a demo."}
    assert "version" not in s


def test_xapi_skips_sessions_without_a_learner_identity():
    data = [spec_session("a"), spec_session("b", email=None), spec_session("c", email="not-an-email")]
    with pytest.warns(UserWarning, match="skipped 2 analysed session"):
        statements = X.to_xapi(data)
    assert {s["context"]["extensions"][X.DEFAULT_EXTENSION_BASE + "session-id"] for s in statements} == {"a"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mastery": 101}, "mastery is a pass mark on 0–100"),
        ({"mastery": True}, "mastery is a pass mark"),
        ({"activity_base": "scenarios/"}, "activity_base must be an absolute IRI"),
        ({"extension_base": "ext"}, "extension_base must be an absolute IRI"),
        ({"version": "2.0.0"}, "must start with '1.0.'"),
        ({"platform": ""}, "platform must be a non-empty string"),
        ({"language": "<script>"}, "language must be an RFC 5646 tag"),
        ({"language": "en US"}, "language must be an RFC 5646 tag"),
        ({"language": ""}, "language must be an RFC 5646 tag"),
    ],
)
def test_xapi_refuses_bad_arguments(sessions, kwargs, message):
    with pytest.raises(ValueError, match=message):
        X.to_xapi(sessions, **kwargs)


def test_xapi_activity_ids_are_percent_encoded():
    s = X.to_xapi([spec_session("x", scenario="a b/c")])[0]
    assert s["object"]["id"] == X.DEFAULT_ACTIVITY_BASE + "a%20b%2Fc" and is_absolute_iri(s["object"]["id"])


def test_write_xapi_json_and_jsonl(sessions, tmp_path):
    n = X.write_xapi(tmp_path / "statements.json", sessions)
    assert n == 4 and json.loads((tmp_path / "statements.json").read_text()) == X.to_xapi(sessions)
    n = X.write_xapi(tmp_path / "statements.jsonl", sessions, mastery=50)
    lines = (tmp_path / "statements.jsonl").read_text().splitlines()
    assert n == len(lines) == 4 and json.loads(lines[1])["verb"]["id"] == X.VERB_PASSED


def test_xapi_demo_organisation(demo_sessions):
    statements = X.to_xapi(demo_sessions)
    analysed = [s for s in demo_sessions if s.is_analyzed and s.status not in F.INCOMPLETE_STATUSES]
    assert len(statements) == 2 * len(analysed) >= 800
    assert len({s["id"] for s in statements}) == len(statements)
    for s in statements:
        no_nulls_or_empty_objects(s)
        assert 0 <= s["result"].get("score", {}).get("scaled", 0) <= 1
