"""AnalysisDashboard in plain Python: changing a filter changes the filtered frame, the KPI table and the chart."""

from __future__ import annotations

import datetime as dt
import re
import warnings

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from ttai_notebook import frames as F
from ttai_notebook.widgets.dashboard import AnalysisDashboard, filter_sessions, kpi_html

from .conftest import SCN_A, SCN_B, spec_session


@pytest.fixture
def df():
    out = []
    for i in range(30):
        team = ("North", "South", "East")[i % 3]
        scenario = SCN_A if i % 2 else SCN_B
        out.append(
            spec_session(
                f"s{i:02d}",
                email=f"learner{i % 6}@example.com",
                scenario=scenario,
                scenario_name="Cold Call" if scenario == SCN_A else "Support",
                created=f"2026-03-{1 + i // 2:02d}T10:00:00",
                final=3.0 + (i % 7),
                metadata={"team": team},
            )
        )
    return F.sessions_frame(out)


@pytest.fixture
def dash(df):
    return AnalysisDashboard(df)


def test_initial_state(dash, df):
    assert len(dash.filtered) == len(df) == 30
    assert dash.kpis.index.tolist() == ["all", "East", "North", "South"]
    assert dash.kpis.loc["all", "sessions"] == 30
    assert [o[0] for o in dash.team.options] == ["All teams", "East", "North", "South"]
    assert [o[0] for o in dash.scenario.options] == ["All scenarios", "Cold Call", "Support"]
    assert dash.start.value == dt.date(2026, 3, 1) and dash.end.value == dt.date(2026, 3, 15)
    assert "30</b> of 30 sessions" in dash.status.value
    assert dash.png.startswith(b"\x89PNG")
    assert [a.get_title().splitlines()[0] for a in dash.figure.axes] == [
        "Score distribution", "Weekly mean score by team", "Scores by team",
    ]


@pytest.mark.parametrize(
    ("control", "value", "rows", "check"),
    [
        ("team", "North", 10, lambda f: set(f["team"].astype(str)) == {"North"}),
        ("scenario", SCN_A, 15, lambda f: set(f["scenario_name"].astype(str)) == {"Cold Call"}),
        ("learner", "learner1@example.com", 5, lambda f: set(f["user_email"].astype(str)) == {"learner1@example.com"}),
        ("start", dt.date(2026, 3, 10), 12, lambda f: f["created_at"].min() >= pd.Timestamp("2026-03-10", tz="UTC")),
        ("end", dt.date(2026, 3, 2), 4, lambda f: f["created_at"].max() < pd.Timestamp("2026-03-03", tz="UTC")),
    ],
)
def test_changing_a_filter_redraws_everything(dash, control, value, rows, check):
    before_kpis, before_png, before_html = dash.kpis.copy(), dash.png, dash.kpi_table.value
    redraws = dash.redraws
    getattr(dash, control).value = value
    assert dash.redraws == redraws + 1
    assert len(dash.filtered) == rows and check(dash.filtered)
    assert dash.kpis.loc["all", "sessions"] == rows
    assert not dash.kpis.equals(before_kpis)
    assert dash.kpi_table.value != before_html
    assert dash.png != before_png
    assert f"{rows}</b> of 30 sessions" in dash.status.value


def test_team_selected_shows_one_kpi_row_and_groups_by_scenario(dash):
    dash.team.value = "South"
    assert dash.kpis.index.tolist() == ["all"]
    assert dash.figure.axes[2].get_title().startswith("Scores by scenario")
    dash.scenario.value = SCN_B
    assert dash.figure.axes[2].get_title().startswith("Scores by learner")


def test_small_samples_are_visible_not_raised(dash):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing escapes to the user's log
        dash.learner.value = "learner2@example.com"
    assert "observations, not statistics" in dash.warning.value
    assert "fewer than 10 analysed sessions" in dash.kpi_table.value
    assert bool(dash.kpis.loc["all", "small_sample"]) is True


def test_set_filters_redraws_once_and_reset(dash):
    redraws = dash.redraws
    dash.set_filters(team="North", scenario=SCN_A)
    assert dash.redraws == redraws + 1 and len(dash.filtered) == 5
    assert repr(dash) == f"AnalysisDashboard(sessions=5 of 30, scenario={SCN_A}, team=North)"
    dash.reset()
    assert len(dash.filtered) == 30 and repr(dash) == "AnalysisDashboard(sessions=30 of 30, no filters)"
    dash.reset_button.click()
    assert dash.redraws == redraws + 3
    with pytest.raises(ValueError, match="unknown filter"):
        dash.set_filters(region="EU")


def test_no_matches_draws_empty_charts(dash):
    dash.set_filters(team="North", learner="learner1@example.com")
    assert len(dash.filtered) == 0
    assert "widen them" in dash.status.value
    assert all("No analysed sessions" in [t.get_text() for t in ax.texts] for ax in dash.figure.axes)
    assert dash.kpis.loc["all", "sessions"] == 0


def test_repr_is_stable(dash):
    text = repr(dash)
    assert text == "AnalysisDashboard(sessions=30 of 30, no filters)"
    assert not re.search(r"0x[0-9a-f]+", text)
    assert repr(AnalysisDashboard(dash.frame)) == text


def test_redraws_never_leave_figures_open(dash):
    open_before = plt.get_fignums()
    for team in ("North", "South", "East", ""):
        dash.team.value = team
    assert plt.get_fignums() == open_before


def test_frame_without_teams_hides_the_team_filter():
    df = F.sessions_frame([spec_session("a", metadata={}), spec_session("b", metadata={})])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dash = AnalysisDashboard(df)
    assert dash.team.layout.display == "none"
    assert dash.figure.axes[1].get_title().startswith("Weekly mean score\n")
    assert dash.kpis.index.tolist() == ["all"]


def test_builds_from_sessions_and_empty_frames():
    dash = AnalysisDashboard([spec_session("a")])
    assert len(dash.frame) == 1
    empty = AnalysisDashboard(F.sessions_frame([]))
    assert len(empty.filtered) == 0 and empty.start.value is None


def test_demo_organisation_dashboard(demo_sessions, artifacts):
    dash = AnalysisDashboard(F.sessions_frame(demo_sessions))
    teams = [value for _, value in dash.team.options if value]
    assert len(teams) >= 4 and len(dash.learner.options) >= 30
    dash.team.value = teams[0]
    assert set(dash.filtered["team"].astype(str)) == {teams[0]}
    (artifacts / "demo_dashboard.png").write_bytes(dash.png)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, 30),
        ({"team": "East"}, 10),
        ({"scenario": "Support"}, 15),  # by name as well as by id
        ({"learner": "LEARNER0@example.com "}, 5),  # case and spaces ignored
        ({"start": dt.date(2026, 3, 15), "end": dt.date(2026, 3, 15)}, 2),  # inclusive day
        ({"team": "East", "scenario": SCN_A}, 5),
        ({"team": "Nowhere"}, 0),
    ],
)
def test_filter_sessions(df, kwargs, expected):
    assert len(filter_sessions(df, **kwargs)) == expected


def test_filter_sessions_needs_the_team_column(df):
    with pytest.raises(ValueError, match="no 'squad' column"):
        filter_sessions(df, team="x", team_column="squad")


def test_kpi_html_escapes_group_names():
    df = F.sessions_frame([spec_session("a", metadata={"team": "<b>R&D</b>"})])
    with pytest.warns(F.SmallSampleWarning):
        table = F.summary(df, by="team")
    text = kpi_html(table, caption="<script>")
    assert "&lt;b&gt;R&amp;D&lt;/b&gt; *" in text and "<script>" not in text and "&lt;script&gt;" in text
