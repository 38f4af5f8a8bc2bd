"""Frames from both API dialects, models, stores and the demo organisation; summary KPIs and the guards."""

from __future__ import annotations

import datetime as dt
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from ttai_notebook import frames as F
from ttai_notebook.models import Session

from .conftest import SCN_A, SCN_B, documented_session, spec_session

UTC = dt.timezone.utc


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture
def raw():
    """Five sessions: spec dialect (two id keys), documented analysis, a running one, a terminated one."""
    return [
        spec_session("s1", created="2026-03-04T10:00:00.250000", final=7.4),
        spec_session("s2", created="2026-03-02T09:00:00", final=5.0, duration=600, id_key="_id"),
        documented_session(
            "s3",
            score=85,
            email="bo@example.com",
            name="Bo",
            created="2026-03-10T12:00:00Z",
            duration=120,
            metadata={"team": "South", "level": 2, "remote": True, "tags": ["x"], "score": "meta"},
        ),
        spec_session("s4", email="bo@example.com", name="Bo", status="active", final=None,
                     created="2026-03-11T08:00:00", duration=None),
        spec_session("s5", email="cy@example.com", name=None, status="terminated", final=3.0,
                     created="2026-03-12T08:00:00+01:00"),
    ]


SESSION_DTYPES = {
    "session_id": "category",
    "scenario_id": "category",
    "scenario_name": "category",
    "user_email": "category",
    "user_name": "category",
    "status": "category",
    "created_at": "datetime64[us, UTC]",
    "completed_at": "datetime64[us, UTC]",
    "duration_min": "Float64",
    "score": "Float64",
    "analyzed": "bool",
    "attempt": "Int64",
    "week": "datetime64[us, UTC]",
}


# --------------------------------------------------------------------------------------------------
# sessions_frame
# --------------------------------------------------------------------------------------------------


def test_sessions_frame_columns_and_dtypes(raw):
    df = F.sessions_frame(raw)
    assert list(df.columns) == [*SESSION_DTYPES, "team", "level", "remote", "tags", "meta_score"]
    assert {c: str(df[c].dtype) for c in SESSION_DTYPES} == SESSION_DTYPES
    assert str(df["team"].dtype) == "category"
    assert str(df["level"].dtype) == "Int64"
    assert str(df["remote"].dtype) == "boolean"
    assert df["tags"].dtype == object
    assert str(df["meta_score"].dtype) == "category"


def test_sessions_frame_values_from_both_dialects(raw):
    df = F.sessions_frame(raw).set_index(pd.Index(["s1", "s2", "s3", "s4", "s5"]))
    assert df["session_id"].astype(str).tolist() == ["s1", "s2", "s3", "s4", "s5"]  # id / _id both read
    assert df["status"].astype(str).tolist() == ["completed", "completed", "completed", "in_progress", "terminated"]
    # spec final_score 7.4 (0–10) → 74; documented overall_score 85 as is; running → <NA>
    assert df["score"].tolist() == [74.0, 50.0, 85.0, pd.NA, 30.0]
    assert df["analyzed"].tolist() == [True, True, True, False, True]
    assert df["duration_min"].tolist() == [5.5, 10.0, 2.0, pd.NA, 5.5]
    # naive timestamps are UTC; offsets are converted to UTC
    assert df.loc["s1", "created_at"] == ts("2026-03-04T10:00:00.250000")
    assert df.loc["s5", "created_at"] == ts("2026-03-12T07:00:00")
    assert pd.isna(df.loc["s4", "completed_at"])
    # attempt: per learner × scenario by created_at (s2 came first although listed second)
    assert df["attempt"].tolist() == [2, 1, 1, 2, 1]
    # week: Monday 00:00 UTC
    assert df["week"].tolist() == [ts("2026-03-02"), ts("2026-03-02"), ts("2026-03-09"), ts("2026-03-09"),
                                   ts("2026-03-09")]
    assert df["user_name"].astype(object).tolist()[-1] is np.nan or pd.isna(df["user_name"].iloc[-1])
    assert df["team"].astype(str).tolist() == ["North", "North", "South", "North", "North"]
    assert df["level"].tolist() == [pd.NA, pd.NA, 2, pd.NA, pd.NA]
    assert df.loc["s3", "tags"] == ["x"] and df.loc["s3", "meta_score"] == "meta"


def test_sources_are_equivalent(raw):
    """Raw dicts, models, a generator, a store-like object and a list page all give the same frame."""
    models = [Session.from_api(d) for d in raw]

    class FakeStore:
        def sessions(self):
            return list(models)

    expected = F.sessions_frame(raw)
    pd.testing.assert_frame_equal(F.sessions_frame(models), expected)
    pd.testing.assert_frame_equal(F.sessions_frame(iter(raw)), expected)
    pd.testing.assert_frame_equal(F.sessions_frame(FakeStore()), expected)
    pd.testing.assert_frame_equal(F.sessions_frame({"sessions": raw, "page_meta": {}}), expected)
    mixed = [models[0], *raw[1:]]
    pd.testing.assert_frame_equal(F.sessions_frame(mixed), expected)
    assert len(F.sessions_frame(raw[0])) == 1  # a single session object


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (pd.DataFrame({"a": [1]}), "got a DataFrame"),
        ("s1", "got str"),
        (42, "got int"),
        (None, "got NoneType"),
        ([{"id": "x"}, 3], "item 1 is a int"),
    ],
)
def test_bad_input_is_refused_clearly(bad, message):
    with pytest.raises(TypeError, match=message):
        F.sessions_frame(bad)


def test_metadata_selection_and_user_metadata():
    data = [
        {"id": "a", "metadata": {"team": "X", "region": "EU"}, "user_metadata": {"team": "ignored", "tier": 3}},
        {"id": "b", "metadata": {"team": "Y", "ratio": 0.5}, "user_metadata": {}},
        {"id": "c", "metadata": {"ratio": 2}},
    ]
    df = F.sessions_frame(data)
    assert list(df.columns[len(SESSION_DTYPES):]) == ["team", "region", "tier", "ratio"]
    assert df["team"].astype(str).tolist()[:2] == ["X", "Y"]  # metadata wins over user_metadata
    assert df["tier"].tolist() == [3, pd.NA, pd.NA]
    assert str(df["ratio"].dtype) == "Float64" and df["ratio"].tolist() == [pd.NA, 0.5, 2.0]
    assert list(F.sessions_frame(data, metadata=False).columns) == list(SESSION_DTYPES)
    assert list(F.sessions_frame(data, metadata=["region"]).columns)[-1] == "region"
    mixed = F.sessions_frame([{"id": "a", "metadata": {"team": 3}}, {"id": "b", "metadata": {"team": "B"}}])
    assert str(mixed["team"].dtype) == "category" and mixed["team"].astype(str).tolist() == ["3", "B"]


def test_empty_inputs_keep_columns_and_dtypes():
    df = F.sessions_frame([])
    assert list(df.columns) == list(SESSION_DTYPES) and len(df) == 0
    assert {c: str(df[c].dtype) for c in SESSION_DTYPES} == SESSION_DTYPES
    assert list(F.report_card_frame([]).columns) == list(F.REPORT_CARD_COLUMNS)
    assert list(F.feedback_frame([]).columns) == list(F.FEEDBACK_COLUMNS)


# --------------------------------------------------------------------------------------------------
# report_card_frame and feedback_frame
# --------------------------------------------------------------------------------------------------


def test_report_card_frame(raw):
    rc = F.report_card_frame(raw)
    assert list(rc.columns) == [*F.REPORT_CARD_COLUMNS, "team", "level", "remote", "tags", "meta_score"]
    assert {c: str(rc[c].dtype) for c in F.REPORT_CARD_COLUMNS} == {
        "session_id": "category", "scenario_id": "category", "scenario_name": "category",
        "user_email": "category", "created_at": "datetime64[us, UTC]", "topic": "category", "score": "Float64",
        "score_text": "category", "weight": "Float64", "note": "category",
    }
    # s3 has no report card (documented analysis), s4 none, s5 is terminated: left out by default
    assert rc["session_id"].astype(str).tolist() == ["s1"] * 3 + ["s2"] * 3
    assert rc["topic"].astype(str).tolist()[:3] == ["Rapport", "Discovery", "Closing"]
    assert rc["score"].tolist()[:3] == [80.0, 65.0, 70.0]  # 0–10 → 0–100
    assert rc["weight"].iloc[0] == pytest.approx(100 / 3)
    assert rc["note"].iloc[1] == "note on Discovery"
    assert rc["created_at"].iloc[3] == ts("2026-03-02T09:00:00")
    assert rc["team"].astype(str).unique().tolist() == ["North"]
    assert len(F.report_card_frame(raw, include_incomplete=True)) == 9


def test_report_card_keeps_categorical_results():
    s = spec_session("p1", topics=[("Personality", None, "INTP"), ("Clarity", 9, "9/10")])
    rc = F.report_card_frame([s])
    assert rc["score"].tolist() == [pd.NA, 90.0]
    assert rc["score_text"].astype(str).tolist() == ["INTP", "9/10"]


def test_feedback_frame(raw):
    fb = F.feedback_frame(raw)
    assert list(fb.columns) == [*F.FEEDBACK_COLUMNS, "team", "level", "remote", "tags", "meta_score"]
    assert all(str(fb[c].dtype) == "category" for c in F.FEEDBACK_COLUMNS)
    assert list(fb["kind"].cat.categories) == ["strength", "improvement"]
    s1 = fb[fb["session_id"] == "s1"]
    assert s1["kind"].astype(str).tolist() == ["strength", "strength", "improvement", "improvement"]
    assert s1["text"].astype(str).tolist() == [
        "Rapport: warm opener", "Asked open questions", "Slow down when explaining pricing", "Confirm the next steps",
    ]
    assert s1["theme"].astype(str).tolist() == ["rapport", "ask open question", "slow down explain",
                                                "confirm next step"]
    s3 = fb[fb["session_id"] == "s3"]  # the documented dialect's lists
    assert s3["text"].astype(str).tolist() == ["Clear agenda", "Asked open questions", "Slow down"]
    assert "s5" not in set(fb["session_id"].astype(str))
    assert "s5" in set(F.feedback_frame(raw, include_incomplete=True)["session_id"].astype(str))


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("**Rapport**: warm opener", "rapport"),
        ("Rapport — warm opener", "rapport"),
        ("Active listening: Spoke 53% of the words", "active listen"),
        ("Asked open questions", "ask open question"),
        ("Asking more open questions!", "ask open question"),
        ("Handled the price objection calmly", "handle price objection"),
        ("Summarised the customer's concerns", "summarise concern"),
        ("Slow down when explaining pricing", "slow down explain"),
        ("Stopped talking over the prospect", "stop talk over"),
        ("Stayed focused", "stay focus"),
        ("Empathy & de-escalation: 2 acknowledgements", "empathy de escalation"),
        ("Énergie positive", "energie positive"),
        ("1234", "other"),
        ("", "other"),
    ],
)
def test_theme_key(text, key):
    assert F.theme_key(text) == key


# --------------------------------------------------------------------------------------------------
# summary and the guards
# --------------------------------------------------------------------------------------------------


def test_summary_kpis(raw):
    df = F.sessions_frame(raw)
    with pytest.warns(F.SmallSampleWarning, match="observations, not statistics"):
        out = F.summary(df)
    assert list(out.columns) == list(F.SUMMARY_COLUMNS)
    assert out.index.tolist() == ["all"]
    row = out.loc["all"]
    assert (row["sessions"], row["learners"], row["analyzed"]) == (5, 3, 3)  # running/terminated not analysed
    assert row["coverage"] == 1.0
    assert row["mean_score"] == pytest.approx((74 + 50 + 85) / 3)
    assert row["median_score"] == 74.0
    assert row["pass_rate"] == pytest.approx(2 / 3)
    assert row["median_duration_min"] == 5.5
    assert row["first_to_best"] == 24.0  # ana: 50 then 74
    assert bool(row["small_sample"]) is True
    assert out.attrs["threshold"] == 70.0
    assert {c: str(out[c].dtype) for c in out.columns} == {
        "sessions": "Int64", "learners": "Int64", "analyzed": "Int64", "coverage": "Float64",
        "mean_score": "Float64", "median_score": "Float64", "pass_rate": "Float64",
        "median_duration_min": "Float64", "first_to_best": "Float64", "small_sample": "bool",
    }


def test_summary_include_incomplete_and_threshold(raw):
    df = F.sessions_frame(raw)
    with pytest.warns(F.SmallSampleWarning):
        out = F.summary(df, include_incomplete=True, threshold=80).loc["all"]
    assert out["analyzed"] == 4 and out["coverage"] == 0.8  # the running session has no analysis
    assert out["mean_score"] == pytest.approx((74 + 50 + 85 + 30) / 4)
    assert out["median_score"] == 62.0
    assert out["pass_rate"] == 0.25  # only 85 ≥ 80


def test_summary_by_team(raw):
    df = F.sessions_frame(raw)
    with pytest.warns(F.SmallSampleWarning, match=r"2 of 2 group\(s\).*North: 2.*South: 1"):
        out = F.summary(df, by="team")
    assert out.index.tolist() == ["North", "South"]
    assert out["sessions"].tolist() == [4, 1]
    assert out["learners"].tolist() == [3, 1]
    assert out["analyzed"].tolist() == [2, 1]
    assert out["mean_score"].tolist() == [62.0, 85.0]
    assert out["first_to_best"].tolist() == [24.0, pd.NA]
    assert out["small_sample"].tolist() == [True, True]


def test_summary_coverage_counts_unanalysed_completed_sessions():
    data = [spec_session(f"c{i}", email=f"u{i}@x.org", final=8.0 if i < 12 else None) for i in range(15)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 12 analysed sessions: no small-sample warning
        out = F.summary(F.sessions_frame(data))
    assert out.loc["all", "analyzed"] == 12 and out.loc["all", "coverage"] == pytest.approx(12 / 15)
    assert bool(out.loc["all", "small_sample"]) is False


def test_summary_first_to_best_never_mixes_scenarios():
    data = [
        spec_session("a1", scenario=SCN_A, created="2026-03-01T10:00:00", final=4.0),
        spec_session("b1", scenario=SCN_B, created="2026-03-02T10:00:00", final=9.0),  # other scenario
        spec_session("a2", scenario=SCN_A, created="2026-03-03T10:00:00", final=6.0),
        spec_session("a3", scenario=SCN_A, created="2026-03-04T10:00:00", final=5.0),
    ]
    with pytest.warns(F.SmallSampleWarning):
        out = F.summary(F.sessions_frame(data))
    assert out.loc["all", "first_to_best"] == 20.0  # 40 → best 60 in scenario A; B's 90 is not "best"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"by": "nope"}, ValueError, "no column 'nope'"),
        ({"threshold": 700}, ValueError, "threshold is a score on 0–100"),
    ],
)
def test_summary_refuses_bad_arguments(raw, kwargs, error, message):
    with pytest.raises(error, match=message):
        F.summary(F.sessions_frame(raw), **kwargs)


def test_summary_refuses_long_frames(raw):
    with pytest.raises(ValueError, match="one row per session"):
        F.summary(F.report_card_frame(raw))
    with pytest.raises(TypeError, match="takes a DataFrame"):
        F.summary(raw)


def test_summary_of_empty_frame():
    with pytest.warns(F.SmallSampleWarning):
        out = F.summary(F.sessions_frame([]))
    assert out.loc["all", "sessions"] == 0 and pd.isna(out.loc["all", "mean_score"])


def test_topic_matrix_refuses_to_mix_rubrics():
    data = [
        spec_session("a1", scenario=SCN_A, scenario_name="Cold Call"),
        spec_session("b1", scenario=SCN_B, scenario_name="Support",
                     topics=[("Empathy", 9, None), ("Rapport", 5, None)]),
    ]
    rc = F.report_card_frame(data)
    with pytest.raises(ValueError, match="different report-card topics") as info:
        F.topic_matrix(rc, by="team")
    assert "Cold Call: Rapport, Discovery, Closing" in str(info.value)
    assert "Support: Empathy, Rapport" in str(info.value)
    assert "scenario=" in str(info.value)
    mean, n = F.topic_matrix(rc, by="team", scenario="Support")
    assert list(mean.columns) == ["Empathy", "Rapport"] and mean.loc["North", "Rapport"] == 50.0
    assert n.loc["North", "Empathy"] == 1
    with pytest.raises(ValueError, match="no report cards for scenario 'Nope'"):
        F.topic_matrix(rc, scenario="Nope")


def test_topic_matrix_averages_scenarios_that_share_a_rubric():
    data = [
        spec_session("a1", scenario=SCN_A, topics=[("Rapport", 8, None), ("Closing", 6, None)]),
        spec_session("b1", scenario=SCN_B, email="bo@x.org", topics=[("Rapport", 6, None), ("Closing", 4, None)],
                     metadata={"team": "North"}),
    ]
    mean, n = F.topic_matrix(F.report_card_frame(data), by="team")
    assert mean.loc["North"].tolist() == [70.0, 50.0] and n.loc["North"].tolist() == [2, 2]


@pytest.mark.parametrize(
    ("values", "max_groups", "expected"),
    [
        (list("aaabbc"), 2, ["a", "a", "a", "b", "b", "Other (1 group)"]),
        (list("aaabbcd"), 1, ["a", "a", "a"] + ["Other (3 groups)"] * 4),
        (list("ab"), 5, ["a", "b"]),
        (["a", None, None], 5, ["a", "(none)", "(none)"]),
    ],
)
def test_cap_groups(values, max_groups, expected):
    assert F.cap_groups(pd.Series(values), max_groups).astype(str).tolist() == expected


def test_first_vs_best_and_weekly_scores(raw):
    df = F.sessions_frame(raw)
    pairs = F.first_vs_best(df, by="team")
    ana = pairs[pairs["user_email"] == "ana@example.com"].iloc[0]
    assert (ana["attempts"], ana["first_score"], ana["best_score"], ana["gain"], ana["team"]) == (2, 50.0, 74.0, 24.0,
                                                                                                "North")
    weekly = F.weekly_scores(df)
    assert weekly["week"].tolist() == [ts("2026-03-02"), ts("2026-03-09")]
    assert weekly["n"].tolist() == [2, 1] and weekly["mean_score"].tolist() == [62.0, 85.0]


# --------------------------------------------------------------------------------------------------
# The demo organisation
# --------------------------------------------------------------------------------------------------


def test_demo_organisation_frames(demo_sessions):
    df = F.sessions_frame(demo_sessions)
    assert df["analyzed"].sum() >= 400
    assert df["user_email"].nunique() >= 30
    assert df["team"].nunique() >= 4
    assert df["scenario_id"].nunique() >= 5
    assert (df["week"].max() - df["week"].min()).days >= 7 * 11
    assert df["score"].dropna().between(0, 100).all()
    assert (df["attempt"].dropna() >= 1).all()
    rc = F.report_card_frame(demo_sessions)
    rubrics = F.rubric_topics(rc)
    assert len({frozenset(t) for t in rubrics.values()}) >= 2  # different rubrics: the guard matters here
    with pytest.raises(ValueError, match="different report-card topics"):
        F.topic_matrix(rc, by="team")
    fb = F.feedback_frame(demo_sessions)
    assert set(fb["kind"].astype(str)) == {"strength", "improvement"}
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        out = F.summary(df, by="team")
    assert out["sessions"].sum() == len(df)
    assert out["mean_score"].notna().all()
    assert math.isclose(out["analyzed"].sum(), F.summary(df)["analyzed"].iloc[0])


def test_demo_frames_are_the_same_in_both_dialects():
    import ttai_notebook as tt

    documented = list(tt.Client.sandbox(seed=3, sessions=60).sessions.list())
    spec = list(tt.Client.sandbox(seed=3, sessions=60, dialect="spec").sessions.list())
    pd.testing.assert_frame_equal(F.sessions_frame(documented), F.sessions_frame(spec))
    pd.testing.assert_frame_equal(F.report_card_frame(documented), F.report_card_frame(spec))


def test_frames_from_a_real_store_match_the_models():
    import ttai_notebook as tt

    sessions = list(tt.Client.sandbox(seed=1, sessions=80).sessions.list())
    with tt.Store() as store:
        store.put_sessions(sessions)
        from_store = F.sessions_frame(store)
        cards = F.report_card_frame(store)

    def ordered(df):
        out = df.astype({"session_id": str}).sort_values(["session_id", *(["topic"] if "topic" in df else [])])
        return out.reset_index(drop=True)

    pd.testing.assert_frame_equal(ordered(from_store), ordered(F.sessions_frame(sessions)), check_categorical=False)
    expected = F.report_card_frame(sessions).astype({"topic": str})
    pd.testing.assert_frame_equal(ordered(cards.astype({"topic": str})), ordered(expected), check_categorical=False)
