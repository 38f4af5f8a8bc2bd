"""The analysts' dashboard: filters (scenario, team, dates, learner) that redraw a few charts and the KPI table.

Filtering is a pure function (`filter_sessions`); the widget only wires ipywidgets to it, `frames.summary`
and `charts`. Figures are plain `matplotlib.figure.Figure` objects (never registered with pyplot), rendered
to PNG into an `Image` widget, so redrawing never accumulates open figures.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import warnings
from typing import Any

import ipywidgets as W
import pandas as pd

from .. import frames as _frames

__all__ = ["AnalysisDashboard", "filter_sessions"]

_ALL = "(all)"


def filter_sessions(
    df: pd.DataFrame,
    *,
    scenario: str | None = None,
    team: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    learner: str | None = None,
    team_column: str = "team",
) -> pd.DataFrame:
    """The rows of a `sessions_frame` matching every given filter (None or "" = no filter).

    ``scenario`` matches ``scenario_id`` or ``scenario_name``; ``team`` the ``team_column``; ``learner`` the
    ``user_email`` (case-insensitive); ``start`` / ``end`` are inclusive UTC dates on ``created_at``.
    """
    mask = pd.Series(True, index=df.index)
    if scenario:
        by_id = df["scenario_id"].astype(object) == scenario
        by_name = df["scenario_name"].astype(object) == scenario if "scenario_name" in df.columns else False
        mask &= by_id | by_name
    if team:
        if team_column not in df.columns:
            raise ValueError(f"no {team_column!r} column to filter teams by; the frame has {', '.join(df.columns)}")
        mask &= df[team_column].astype(object) == team
    if learner:
        mask &= df["user_email"].astype(object).str.lower() == learner.strip().lower()
    if start is not None or end is not None:
        created = df["created_at"]
        if start is not None:
            mask &= created >= pd.Timestamp(start, tz="UTC")
        if end is not None:
            mask &= created < pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)
    return df.loc[mask.fillna(False).to_numpy(dtype=bool)]


def _fmt(value: Any, kind: str) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return "—"
    if kind == "pct":
        return f"{float(value):.0%}"
    if kind == "num":
        return f"{float(value):.1f}"
    if kind == "signed":
        return f"{float(value):+.1f}"
    return f"{int(value):,}"


_KPI_COLUMNS = (
    ("sessions", "Sessions", "int"),
    ("learners", "Learners", "int"),
    ("analyzed", "Analysed", "int"),
    ("coverage", "Coverage", "pct"),
    ("mean_score", "Mean score", "num"),
    ("median_score", "Median score", "num"),
    ("pass_rate", "Pass rate", "pct"),
    ("median_duration_min", "Median min", "num"),
    ("first_to_best", "First→best", "signed"),
)


def kpi_html(table: pd.DataFrame, *, caption: str = "") -> str:
    """The KPI table as escaped HTML; small-sample groups are starred and explained below the table."""
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label, _ in _KPI_COLUMNS)
    rows = []
    for key, row in table.iterrows():
        label = html.escape(_frames._group_label(key)) + (" *" if bool(row["small_sample"]) else "")
        cells = "".join(
            f"<td style='text-align:right'>{_fmt(row[c], kind)}</td>" for c, _, kind in _KPI_COLUMNS
        )
        rows.append(f"<tr><th style='text-align:left'>{label}</th>{cells}</tr>")
    note = ""
    if table["small_sample"].any():
        note = (
            f"<div style='color:#8a1c1c;font-size:90%'>* fewer than {_frames.SMALL_SAMPLE} analysed sessions: "
            "these numbers are observations, not statistics.</div>"
        )
    cap = f"<caption style='text-align:left'>{html.escape(caption)}</caption>" if caption else ""
    return (
        f"<table class='ttai-kpis' style='border-collapse:collapse'>{cap}<thead><tr><th></th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{note}"
    )


class AnalysisDashboard(W.VBox):
    """Filters over a `sessions_frame` that redraw charts and the KPI table together.

    Parameters
    ----------
    frame
        A `sessions_frame` (or sessions / a store, converted with it).
    threshold
        Pass mark used by the KPI table and the score chart.
    team_column
        The metadata column the team filter and per-team views use (hidden when the frame has none).
    figsize
        Size in inches of the three-chart figure.

    Attributes
    ----------
    filtered : pandas.DataFrame
        The rows matching the current filters.
    kpis : pandas.DataFrame
        The current KPI table (`frames.summary`, by team when no team is selected).
    figure : matplotlib.figure.Figure or None
        The figure currently shown.

    Examples
    --------
    >>> import ttai_notebook as tt
    >>> df = tt.sessions_frame(tt.Client.sandbox().sessions.list())
    >>> dash = tt.widgets.AnalysisDashboard(df)
    >>> dash.team.value = dash.team.options[1][1]      # pick a team: charts and KPIs redraw
    """

    def __init__(
        self,
        frame: Any,
        *,
        threshold: float = _frames.DEFAULT_THRESHOLD,
        team_column: str = "team",
        figsize: tuple[float, float] = (15.0, 4.8),
        **kwargs: Any,
    ) -> None:
        df = frame if isinstance(frame, pd.DataFrame) else _frames.sessions_frame(frame)
        _frames._require(df, ("session_id", "scenario_id", "user_email", "created_at", "score"), "AnalysisDashboard")
        self.frame = df
        self.threshold = float(threshold)
        self.team_column = team_column
        self.figsize = figsize
        self.figure: Any = None
        self.png = b""
        self.kpis: pd.DataFrame = pd.DataFrame()
        self.redraws = 0
        self._holding = False

        scenarios = (
            df[["scenario_id", "scenario_name"]].astype(object).dropna(subset=["scenario_id"])
            .drop_duplicates("scenario_id").sort_values("scenario_name", na_position="last")
        )
        self.scenario = W.Dropdown(
            description="Scenario",
            options=[("All scenarios", "")]
            + [
                (str(n) if n is not None else str(i), str(i))
                for i, n in zip(scenarios["scenario_id"], scenarios["scenario_name"])
            ],
            value="",
            layout=W.Layout(width="320px"),
        )
        has_team = team_column in df.columns
        teams = sorted(map(str, df[team_column].dropna().unique())) if has_team else []
        self.team = W.Dropdown(
            description="Team",
            options=[("All teams", "")] + [(t, t) for t in teams],
            value="",
            layout=W.Layout(width="260px", display=None if has_team else "none"),
        )
        created = df["created_at"].dropna()
        first = created.min().date() if len(created) else None
        last = created.max().date() if len(created) else None
        self.start = W.DatePicker(description="From", value=first, layout=W.Layout(width="230px"))
        self.end = W.DatePicker(description="To", value=last, layout=W.Layout(width="230px"))
        self._date_bounds = (first, last)
        emails = sorted(map(str, df["user_email"].dropna().unique()))
        self.learner = W.Combobox(
            description="Learner",
            placeholder="all learners (type to search)",
            options=emails,
            ensure_option=True,
            layout=W.Layout(width="340px"),
        )
        self.reset_button = W.Button(description="Reset filters", icon="undo", layout=W.Layout(width="130px"))
        self.status = W.HTML()
        self.warning = W.HTML()
        self.kpi_table = W.HTML()
        # An Image widget, not an Output: printing into an Output from a cell stalls nbclient (jupyter/nbclient#312).
        self.chart = W.Image(format="png", layout=W.Layout(min_height="320px", max_width="100%"))

        for control in (self.scenario, self.team, self.start, self.end, self.learner):
            control.observe(self._on_filter, names="value")
        self.reset_button.on_click(lambda _button: self.reset())

        filters = W.HBox(
            [W.VBox([self.scenario, self.team]), W.VBox([self.start, self.end]),
             W.VBox([self.learner, self.reset_button])],
            layout=W.Layout(flex_flow="row wrap"),
        )
        super().__init__(children=[filters, self.status, self.chart, self.kpi_table, self.warning], **kwargs)
        self.redraw()

    # ---- filters ---------------------------------------------------------------------------------

    @property
    def filters(self) -> dict[str, Any]:
        """The current filter values (None = no filter)."""
        start, end = self.start.value, self.end.value
        return {
            "scenario": self.scenario.value or None,
            "team": self.team.value or None,
            "start": start if start != self._date_bounds[0] else None,
            "end": end if end != self._date_bounds[1] else None,
            "learner": self.learner.value or None,
        }

    @property
    def filtered(self) -> pd.DataFrame:
        """The sessions matching the current filters."""
        f = self.filters
        start, end = self.start.value, self.end.value
        return filter_sessions(
            self.frame, scenario=f["scenario"], team=f["team"], start=start, end=end, learner=f["learner"],
            team_column=self.team_column,
        )

    def set_filters(self, **values: Any) -> None:
        """Set several filters (scenario, team, start, end, learner) with a single redraw."""
        controls = {"scenario": self.scenario, "team": self.team, "start": self.start, "end": self.end,
                    "learner": self.learner}
        unknown = sorted(set(values) - set(controls))
        if unknown:
            raise ValueError(f"unknown filter(s) {', '.join(unknown)}; use {', '.join(controls)}")
        self._holding = True
        try:
            for name, value in values.items():
                if name in ("scenario", "team", "learner") and value is None:
                    value = ""
                controls[name].value = value
        finally:
            self._holding = False
        self.redraw()

    def reset(self) -> None:
        """Clear every filter."""
        self.set_filters(scenario="", team="", start=self._date_bounds[0], end=self._date_bounds[1], learner="")

    def _on_filter(self, _change: dict[str, Any]) -> None:
        if not self._holding:
            self.redraw()

    # ---- drawing ---------------------------------------------------------------------------------

    def _group_column(self, f: dict[str, Any]) -> str:
        if f["team"] is None and self.team_column in self.frame.columns:
            return self.team_column
        if f["scenario"] is None:
            return "scenario_name"
        return "user_email"

    def redraw(self) -> None:
        """Recompute the filtered frame, the KPI table and the charts."""
        from matplotlib.figure import Figure  # lazy: the dashboard module is itself imported on demand

        from .. import charts

        f = self.filters
        df = self.filtered
        self.redraws += 1
        self.status.value = (
            f"<b>{len(df):,}</b> of {len(self.frame):,} sessions match the filters"
            + ("" if len(df) else " — widen them to see data")
        )
        by_team = f["team"] is None and self.team_column in df.columns
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", _frames.SmallSampleWarning)
            overall = _frames.summary(df, threshold=self.threshold)
            table = overall
            if by_team and len(df):
                table = pd.concat([overall, _frames.summary(df, by=self.team_column, threshold=self.threshold)])
        self.kpis = table
        self.kpi_table.value = kpi_html(table, caption=f"KPIs (pass mark {self.threshold:g})")
        small = [w for w in caught if issubclass(w.category, _frames.SmallSampleWarning)]
        self.warning.value = (
            f"<div style='color:#8a1c1c'>&#9888; {html.escape(str(small[-1].message))}</div>" if small else ""
        )

        figure = Figure(figsize=self.figsize, layout="constrained")
        ax_dist, ax_trend, ax_group = figure.subplots(1, 3, width_ratios=(1, 1.25, 1.15))
        charts.plot_score_distribution(df, threshold=self.threshold, ax=ax_dist)
        charts.plot_score_trend(df, by=self.team_column if by_team else None, threshold=self.threshold, ax=ax_trend)
        charts.plot_scores_by_group(df, by=self._group_column(f), threshold=self.threshold, ax=ax_group)
        previous, self.figure = self.figure, figure
        if previous is not None:
            previous.clear()  # nothing else holds it: release its artists now rather than at the next GC
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=90)
        self.png = buffer.getvalue()
        self._show(self.png)

    def _show(self, png: bytes) -> None:
        self.chart.value = png

    def __repr__(self) -> str:
        f = self.filters
        shown = ", ".join(f"{k}={v!s}" for k, v in f.items() if v is not None) or "no filters"
        return f"AnalysisDashboard(sessions={len(self.filtered)} of {len(self.frame)}, {shown})"
