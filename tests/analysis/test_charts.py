"""Charts: each returns the given Axes with the expected artists and labels, draws nowhere else, survives
empty input, and renders the demo organisation readably (PNGs in test-artifacts/charts/, looked at by a human)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.image import AxesImage

from ttai_notebook import charts as C
from ttai_notebook import frames as F

from .conftest import SCN_A, SCN_B, spec_session


def title(ax) -> str:
    """The title with line wrapping undone (titles wrap to the axes' width)."""
    return " ".join(ax.get_title().split())


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


@pytest.fixture
def sessions():
    """24 sessions: 2 teams × 3 learners × 4 weekly attempts, scores rising, plus one running session."""
    out = []
    for t, team in enumerate(("North", "South")):
        for learner in range(3):
            for week in range(4):
                final = 4.0 + week + learner * 0.5 + t * 0.5
                out.append(
                    spec_session(
                        f"{team}-{learner}-{week}",
                        email=f"{team.lower()}{learner}@example.com",
                        created=f"2026-03-{2 + 7 * week:02d}T1{learner}:00:00",
                        final=final,
                        metadata={"team": team},
                    )
                )
    out.append(spec_session("running", status="active", final=None))
    return out


@pytest.fixture
def df(sessions):
    return F.sessions_frame(sessions)


@pytest.fixture
def fig_ax():
    fig, ax = plt.subplots()
    return fig, ax


def only_axes(fig, ax) -> None:
    """Nothing drawn outside ``ax``: no colour bar, twin or new figure."""
    assert fig.axes == [ax]
    assert plt.get_fignums() == [fig.number]


def test_score_distribution(df, fig_ax):
    fig, ax = fig_ax
    assert C.plot_score_distribution(df, threshold=70, ax=ax) is ax
    only_axes(fig, ax)
    bars = ax.containers[0]
    assert len(bars) == 20  # 5-point bins over 0–100
    assert sum(p.get_height() for p in bars) == 24  # the running session is not counted
    threshold_lines = [ln for ln in ax.lines if list(ln.get_xdata()) == [70, 70]]
    assert len(threshold_lines) == 1
    scores = df["score"].dropna().to_numpy(dtype=float)
    rate = f"{(scores >= 70).mean():.0%}"
    assert "24 analysed sessions" in title(ax) and f"pass rate {rate} (≥ 70)" in title(ax)
    assert any(rate + " pass" in t for t in texts(ax))
    assert ax.get_xlabel() == "Score (0–100)" and ax.get_ylabel() == "Sessions"
    assert ax.get_xlim() == (0.0, 100.0)


def test_score_distribution_include_incomplete_and_gca(sessions):
    terminated = spec_session("t", status="terminated", final=1.0)
    df = F.sessions_frame([*sessions, terminated])
    ax = C.plot_score_distribution(df)  # ax=None → the current axes
    assert ax is plt.gca()
    assert "24 analysed" in title(ax)
    ax2 = C.plot_score_distribution(df, include_incomplete=True, ax=plt.figure().gca())
    assert "25 analysed" in title(ax2)


def test_score_trend_overall(df, fig_ax):
    fig, ax = fig_ax
    assert C.plot_score_trend(df, ax=ax) is ax
    only_axes(fig, ax)
    data_lines = [ln for ln in ax.lines if len(ln.get_xdata()) > 1 and ln.get_linestyle() == "-"]
    assert len(data_lines) == 1 and len(data_lines[0].get_xdata()) == 4  # four weeks
    assert [t for t in texts(ax) if t.isdigit()] == ["6", "6", "6", "6"]  # n per point
    assert "24 analysed sessions over 4 weeks" in title(ax)
    assert ax.get_ylabel() == "Mean score (0–100)" and ax.get_xlabel() == "Week starting (UTC)"
    assert ax.get_legend() is None


def test_score_trend_by_group_caps_the_legend(df, fig_ax):
    fig, ax = fig_ax
    C.plot_score_trend(df, by="user_email", max_groups=3, ax=ax)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(legend) == 4 and legend[-1] == "Other (3 groups)"
    assert "by learner" in title(ax)


def test_scores_by_group(df, fig_ax):
    fig, ax = fig_ax
    assert C.plot_scores_by_group(df, by="team", ax=ax) is ax
    only_axes(fig, ax)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(labels) == ["North (n=12)", "South (n=12)"]
    assert labels[-1].startswith("South")  # best median on top
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in points) == 24
    assert "24 analysed sessions · 2 teams" in title(ax)
    assert ax.get_xlabel() == "Score (0–100)" and ax.get_ylabel() == "Team"


def test_scores_by_group_small_samples_and_cap(df, fig_ax):
    fig, ax = fig_ax
    C.plot_scores_by_group(df, by="user_email", max_groups=2, ax=ax)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 3 and labels[0] == "Other (4 groups) (n=16)"
    assert all(label.endswith("*") for label in labels[1:])  # 4 sessions each: observations
    assert "observations, not statistics" in ax.get_xlabel()
    assert "top 2 shown" in title(ax)


def test_topic_heatmap(sessions, fig_ax):
    fig, ax = fig_ax
    rc = F.report_card_frame(sessions)
    assert C.plot_topic_heatmap(rc, by="team", ax=ax) is ax
    only_axes(fig, ax)
    images = [a for a in ax.get_children() if isinstance(a, AxesImage)]
    assert len(images) == 1 and images[0].get_array().shape == (2, 3)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Rapport", "Discovery", "Closing"]
    assert {t.get_text() for t in ax.get_yticklabels()} == {"North (n=12)", "South (n=12)"}
    assert texts(ax).count("80") == 2  # every cell annotated (Rapport 8/10 everywhere)
    assert "Cold Call · 24 analysed sessions" in title(ax)
    assert ax.get_xlabel() == "Report-card topic"


def test_topic_heatmap_refuses_mixed_rubrics_and_facets(fig_ax):
    fig, ax = fig_ax
    data = [
        spec_session("a1", scenario=SCN_A, scenario_name="Cold Call"),
        spec_session("b1", scenario=SCN_B, scenario_name="Support", topics=[("Empathy", 9, None)]),
    ]
    rc = F.report_card_frame(data)
    with pytest.raises(ValueError, match="different report-card topics.*cannot be averaged"):
        C.plot_topic_heatmap(rc, by="team", ax=ax)
    C.plot_topic_heatmap(rc, by="team", scenario="Support", ax=ax)
    assert "Support" in title(ax)
    grid = C.facet_topic_heatmaps(rc, by="team")
    visible = [a for a in grid.axes if a.get_visible()]
    assert len(visible) == 2
    assert {a.get_title().splitlines()[1].split(" · ")[0] for a in visible} == {"Cold Call", "Support"}


def test_first_vs_best(df, fig_ax):
    fig, ax = fig_ax
    assert C.plot_first_vs_best(df, by="team", ax=ax) is ax
    only_axes(fig, ax)
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in points) == 6  # 6 learners × 1 scenario
    first, best = np.concatenate([c.get_offsets() for c in points]).T
    assert (best >= first).all()
    assert any(list(ln.get_xdata()) == [0, 100] for ln in ax.lines)  # the no-change diagonal
    assert "6 pairs with ≥ 2 analysed attempts · mean gain +30.0 points" in title(ax)
    assert ax.get_xlabel().startswith("First analysed attempt") and ax.get_ylabel().startswith("Best")


def test_feedback_themes(sessions, fig_ax):
    fig, ax = fig_ax
    fb = F.feedback_frame(sessions)
    assert C.plot_feedback_themes(fb, top=5, ax=ax) is ax
    only_axes(fig, ax)
    assert len(ax.patches) == 4  # 2 strength + 2 improvement themes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    # by sessions mentioning the theme, ties by theme key; a "Label: ..." theme shows its label
    assert labels == ["Asked open questions", "Rapport", "Confirm the next steps",
                      "Slow down when explaining pricing"]
    assert any("24 (100%)" in t for t in texts(ax))
    assert {"Strengths", "Improvement areas"} <= {t.strip() for t in texts(ax)}
    assert "24 analysed sessions" in title(ax)
    with pytest.raises(ValueError, match="kind must be"):
        C.plot_feedback_themes(fb, kind="weakness", ax=ax)


EMPTY_CASES = [
    ("plot_score_distribution", lambda: F.sessions_frame([]), {}),
    ("plot_score_trend", lambda: F.sessions_frame([]), {"by": None}),
    ("plot_scores_by_group", lambda: F.sessions_frame([spec_session("r", status="active", final=None)]), {}),
    ("plot_topic_heatmap", lambda: F.report_card_frame([]), {}),
    ("plot_first_vs_best", lambda: F.sessions_frame([]), {}),
    ("plot_feedback_themes", lambda: F.feedback_frame([]), {}),
]


@pytest.mark.parametrize(("name", "make", "kwargs"), EMPTY_CASES, ids=[c[0] for c in EMPTY_CASES])
def test_empty_input_gets_a_note(name, make, kwargs, fig_ax):
    fig, ax = fig_ax
    assert getattr(C, name)(make(), ax=ax, **kwargs) is ax
    only_axes(fig, ax)
    assert C.EMPTY_MESSAGE in texts(ax)
    assert ax.get_title()


def test_charts_accept_sessions_directly(sessions, fig_ax):
    _, ax = fig_ax
    C.plot_score_distribution(sessions, ax=ax)
    assert "24 analysed sessions" in title(ax)


def test_small_sample_is_flagged_in_the_title(fig_ax):
    _, ax = fig_ax
    C.plot_score_distribution(F.sessions_frame([spec_session("x")]), ax=ax)
    assert "n = 1 < 10: observations, not statistics" in title(ax)


CHARTS = [
    ("score_distribution", lambda d: C.plot_score_distribution(d["df"], threshold=70, ax=d["ax"]), (7, 4.5)),
    ("score_trend", lambda d: C.plot_score_trend(d["df"], ax=d["ax"]), (9, 4.5)),
    ("score_trend_by_team", lambda d: C.plot_score_trend(d["df"], by="team", ax=d["ax"]), (9, 4.8)),
    ("scores_by_team", lambda d: C.plot_scores_by_group(d["df"], by="team", ax=d["ax"]), (8, 4.5)),
    ("scores_by_learner", lambda d: C.plot_scores_by_group(d["df"], by="user_email", ax=d["ax"]), (8, 6)),
    ("topic_heatmap", lambda d: C.plot_topic_heatmap(d["rc"], by="team", scenario=d["scenario"], ax=d["ax"]),
     (9, 4.5)),
    ("first_vs_best", lambda d: C.plot_first_vs_best(d["df"], by="team", ax=d["ax"]), (6.5, 6)),
    ("feedback_themes", lambda d: C.plot_feedback_themes(d["fb"], ax=d["ax"]), (9, 6)),
]


@pytest.fixture(scope="module")
def demo_frames(demo_sessions):
    rc = F.report_card_frame(demo_sessions)
    return {
        "df": F.sessions_frame(demo_sessions),
        "rc": rc,
        "fb": F.feedback_frame(demo_sessions),
        "scenario": str(rc["scenario_name"].iloc[0]),
    }


@pytest.mark.parametrize(("name", "draw", "size"), CHARTS, ids=[c[0] for c in CHARTS])
def test_demo_charts_render(name, draw, size, demo_frames, artifacts):
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    assert draw({**demo_frames, "ax": ax}) is ax
    only_axes(fig, ax)
    assert ax.get_title() and C.EMPTY_MESSAGE not in texts(ax)
    legend = ax.get_legend()
    assert legend is None or len(legend.get_texts()) <= 10  # readable at any number of learners
    assert len(ax.get_yticklabels()) <= 30
    path = artifacts / f"demo_{name}.png"
    fig.savefig(path, dpi=90)
    assert path.stat().st_size > 10_000


def test_demo_topic_heatmaps_facet(demo_frames, artifacts):
    fig = C.facet_topic_heatmaps(demo_frames["rc"], by="team")
    visible = [a for a in fig.axes if a.get_visible()]
    assert len(visible) == demo_frames["rc"]["scenario_id"].nunique() >= 5
    fig.savefig(artifacts / "demo_topic_heatmaps_facet.png", dpi=65)


def test_readable_at_500_learners(fig_ax):
    """A 500-learner organisation: legends and tick labels stay capped."""
    rng = np.random.default_rng(1)
    n = 2000
    df = pd.DataFrame(
        {
            "session_id": pd.Categorical([f"s{i}" for i in range(n)]),
            "scenario_id": pd.Categorical(["A"] * n),
            "scenario_name": pd.Categorical(["Cold Call"] * n),
            "user_email": pd.Categorical([f"u{i % 500}@x.org" for i in range(n)]),
            "status": pd.Categorical(["completed"] * n),
            "created_at": pd.Timestamp("2026-01-05", tz="UTC") + pd.to_timedelta(rng.integers(0, 90, n), unit="D"),
            "score": pd.array(rng.uniform(20, 95, n), dtype="Float64"),
            "team": pd.Categorical([f"T{i % 40}" for i in range(n)]),
        }
    )
    fig, ax = fig_ax
    C.plot_score_trend(df, by="team", ax=ax)
    assert len(ax.get_legend().get_texts()) == 7  # 6 teams + Other
    ax.clear()
    C.plot_scores_by_group(df, by="user_email", ax=ax)
    assert len(ax.get_yticklabels()) == 13
    ax.clear()
    C.plot_first_vs_best(df, by="user_email", ax=ax)
    assert len(ax.get_legend().get_texts()) == 10  # diagonal + 8 learners + Other
