"""Axes-level matplotlib charts of the analysis frames (seaborn's convention: ``plot_*(data, ..., ax=None) -> Axes``).

Each chart draws only inside its ``ax``, titles itself with what it shows and the n, stays readable at hundreds
of learners (groups are capped, the rest folded into "Other"), and shows a note instead of failing on empty input.
Wrangling lives in `ttai_notebook.frames`; this module only draws. It is imported lazily (``tt.charts``).
"""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Sequence
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import frames as _frames
from .frames import DEFAULT_THRESHOLD, SMALL_SAMPLE

__all__ = [
    "EMPTY_MESSAGE",
    "facet_topic_heatmaps",
    "plot_feedback_themes",
    "plot_first_vs_best",
    "plot_score_distribution",
    "plot_score_trend",
    "plot_scores_by_group",
    "plot_topic_heatmap",
]

#: The note drawn on the axes when there is nothing to chart.
EMPTY_MESSAGE = "No analysed sessions"
SMALL_NOTE = f"* n < {SMALL_SAMPLE}: observations, not statistics"

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
_OTHER_COLOR = "#9a9a9a"
_PASS_COLOR = "#2e7d32"
_STRENGTH_COLOR = "#3b8f5c"
_IMPROVEMENT_COLOR = "#d9822b"
# Matplotlib 3.10 replaced boxplot's vert= with orientation=; use whichever this version has.
_BOXPLOT_PARAMS = inspect.signature(Axes.boxplot).parameters


# --------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------


def _axes(ax: Axes | None) -> Axes:
    return ax if ax is not None else plt.gca()


def _sessions(data: Any) -> pd.DataFrame:
    return data if isinstance(data, pd.DataFrame) else _frames.sessions_frame(data)


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _empty(ax: Axes, title: str, message: str = EMPTY_MESSAGE) -> Axes:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=12, color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    return ax


def _title(ax: Axes, what: str, detail: str, n: int, note: str = "") -> None:
    """Title lines: what is shown; the n and context; an optional note; the small-sample caveat when n is small.

    Lines are wrapped to the axes' width so titles of neighbouring axes never run into each other.
    """
    lines = [what, detail, note]
    if 0 < n < SMALL_SAMPLE:
        lines.append(f"n = {n} < {SMALL_SAMPLE}: observations, not statistics")
    width_in = ax.get_position().width * ax.get_figure().get_figwidth()
    chars = max(28, int(width_in * 72 / 5.6))  # ~5.6 pt per character at the title's 10.5 pt
    wrapped = [textwrap.fill(line, chars) for line in lines if line]
    ax.set_title("\n".join(wrapped), fontsize=10.5)


def _colors(labels: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    i = 0
    for label in labels:
        if label.startswith("Other (") or label == "(none)":
            out[label] = _OTHER_COLOR
        else:
            out[label] = _PALETTE[i % len(_PALETTE)]
            i += 1
    return out


def _naive_utc(values: Any) -> np.ndarray:
    """UTC datetimes as naive numpy datetime64 (what matplotlib's date axis expects)."""
    index = pd.DatetimeIndex(values)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.to_numpy()


def _pretty(column: str | None) -> str:
    if not column:
        return ""
    return {"user_email": "learner", "scenario_name": "scenario", "scenario_id": "scenario"}.get(
        column, column.replace("_", " ")
    )


_LABEL = re.compile(r"^\s*([^:.;!?]{2,40}?)\s*[:\u2013\u2014-]\s+\S")


def _theme_label(texts: pd.Series) -> str:
    """How to show a theme: its "Label:" when the items are labelled, else its most common wording."""
    common = str(texts.value_counts().index[0])
    label = _LABEL.match(common.replace("**", ""))
    if label and len(label.group(1).split()) <= 4:
        return label.group(1).strip()
    return common


def _display_names(labels: Sequence[str]) -> tuple[dict[str, str], str]:
    """Shorter group names for ticks and legends: e-mails sharing one domain lose it (returned separately)."""
    real = [lab for lab in labels if not lab.startswith("Other (") and lab != "(none)"]
    domains = {lab.rpartition("@")[2] for lab in real if "@" in lab}
    if real and len(domains) == 1 and all("@" in lab for lab in real):
        domain = domains.pop()
        return {lab: lab.rpartition("@")[0] if lab in real else lab for lab in labels}, f"@{domain}"
    return {lab: lab for lab in labels}, ""


def _axis_label(label: str, domain: str) -> str:
    return label.capitalize() + (f" ({domain})" if domain else "")


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# --------------------------------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------------------------------


def plot_score_distribution(
    data: Any,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    bins: int | Sequence[float] | None = None,
    include_incomplete: bool = False,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Histogram of analysed scores with the pass threshold and the pass rate.

    Parameters
    ----------
    data
        A `sessions_frame` (or sessions, converted with it).
    threshold
        Pass mark on 0–100, drawn as a dashed line; the pass rate is the share of scores ≥ it.
    bins
        Histogram bins; default 5-point bins over 0–100.
    include_incomplete
        Count scores of running / terminated sessions too (default: left out, see `frames.INCOMPLETE_STATUSES`).
    ax
        Axes to draw on (default: the current axes).
    **kwargs
        Passed to `Axes.hist`.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import ttai_notebook as tt
    >>> df = tt.sessions_frame(tt.Client.sandbox().sessions.list())
    >>> ax = tt.charts.plot_score_distribution(df, threshold=70)
    """
    ax = _axes(ax)
    scores = _frames.scored_sessions(_sessions(data), include_incomplete=include_incomplete)["score"]
    values = scores.to_numpy(dtype=float, na_value=np.nan)
    title = "Score distribution"
    if len(values) == 0:
        return _empty(ax, title)
    n = len(values)
    passed = float((values >= threshold).mean())
    style = {"color": "#4878a8", "edgecolor": "white", "linewidth": 0.8}
    style.update(kwargs)
    ax.hist(values, bins=bins if bins is not None else np.arange(0, 105, 5), **style)
    ax.axvspan(threshold, 100, color=_PASS_COLOR, alpha=0.07, zorder=0)
    ax.axvline(threshold, color="#333333", linestyle="--", linewidth=1.2, label=f"pass mark {threshold:g}")
    ax.text(
        threshold + 1,
        0.97,
        f"{passed:.0%} pass\n(score ≥ {threshold:g})",
        transform=ax.get_xaxis_transform(),
        ha="left",
        va="top",
        fontsize=9,
        color=_PASS_COLOR,
        bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1.5},
        zorder=4,
    )
    ax.set_xlim(0, 100)
    ax.set_xlabel("Score (0–100)")
    ax.set_ylabel("Sessions")
    _title(ax, title, f"{_plural(n, 'analysed session')} · pass rate {passed:.0%} (≥ {threshold:g})", n)
    return ax


def plot_score_trend(
    data: Any,
    *,
    by: str | None = None,
    max_groups: int = 6,
    threshold: float | None = DEFAULT_THRESHOLD,
    annotate: bool | None = None,
    include_incomplete: bool = False,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Weekly mean analysed score, optionally one line per group, with the n behind each point.

    Marker area grows with the number of analysed sessions in the week; each point is also labelled with its n
    when there are few enough points to read (``annotate``: None = automatic, ≤ 40 points).

    Parameters
    ----------
    data
        A `sessions_frame` (or sessions).
    by
        Column to draw one line per value of (``"team"``); the ``max_groups`` largest groups are drawn and the
        rest folded into one "Other" line.
    threshold
        Pass mark drawn as a faint dashed line (None: no line).
    annotate
        Label each point with its n (None: only when ≤ 40 points).
    include_incomplete
        Count scores of running / terminated sessions too.
    ax
        Axes to draw on.
    **kwargs
        Passed to `Axes.plot` for every line.
    """
    ax = _axes(ax)
    df = _sessions(data)
    label = _pretty(by)
    title = "Weekly mean score" + (f" by {label}" if by else "")
    weekly = _frames.weekly_scores(df, by, max_groups=max_groups, include_incomplete=include_incomplete)
    if weekly.empty:
        return _empty(ax, title)
    n_total = int(weekly["n"].sum())
    groups = list(dict.fromkeys(weekly["group"]))
    if by:
        order = weekly.groupby("group", sort=False)["n"].sum().sort_values(ascending=False)
        groups = [g for g in order.index if not str(g).startswith("Other (")] + [
            g for g in order.index if str(g).startswith("Other (")
        ]
    colors = _colors([str(g) for g in groups]) if by else {"all": "#4878a8"}
    names, domain = _display_names([str(g) for g in groups])
    n_max = float(weekly["n"].max())
    if annotate is None:
        annotate = len(weekly) <= 40
    for group in groups:
        rows = weekly[weekly["group"] == group]
        x = _naive_utc(rows["week"])
        y = rows["mean_score"].to_numpy(dtype=float)
        counts = rows["n"].to_numpy(dtype=float)
        color = colors[str(group)]
        style = {"color": color, "linewidth": 1.6, "alpha": 0.9}
        style.update(kwargs)
        ax.plot(x, y, label=_short(names[str(group)], 28) if by else None, **style)
        ax.scatter(x, y, s=12 + 110 * counts / n_max, color=style["color"], alpha=0.85, zorder=3,
                   edgecolors="white", linewidths=0.5)
        if annotate:
            for xi, yi, ni in zip(x, y, counts):
                ax.annotate(f"{int(ni)}", (xi, yi), textcoords="offset points", xytext=(0, 7), ha="center",
                            fontsize=7, color="#444444")
    if threshold is not None:
        ax.axhline(threshold, color="#777777", linestyle="--", linewidth=0.9, zorder=1)
        ax.text(0.005, threshold + 1, f"pass mark {threshold:g}", transform=ax.get_yaxis_transform(), fontsize=7.5,
                color="#555555", va="bottom")
    ax.set_ylim(0, 105)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("Week starting (UTC)")
    ax.set_ylabel("Mean score (0–100)")
    weeks = weekly["week"].nunique()
    how_n = "labels and marker area" if annotate else "marker area"
    _title(ax, title, f"{_plural(n_total, 'analysed session')} over {_plural(weeks, 'week')}", n_total,
           f"{how_n}: sessions per week")
    if by:
        ax.legend(title=_axis_label(label, domain), fontsize=8, title_fontsize=8, loc="lower right",
                  ncols=2 if len(groups) > 4 else 1)
    return ax


def plot_scores_by_group(
    data: Any,
    *,
    by: str = "team",
    max_groups: int = 12,
    threshold: float | None = DEFAULT_THRESHOLD,
    points: bool = True,
    include_incomplete: bool = False,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Analysed scores per group: a horizontal box per group plus the individual sessions as points.

    Groups are ordered by median score (best on top); the ``max_groups`` largest are drawn and the rest folded
    into "Other". Groups with fewer than `SMALL_SAMPLE` analysed sessions are starred.

    Parameters
    ----------
    data
        A `sessions_frame` (or sessions).
    by
        The grouping column (``"team"``, ``"scenario_name"``, ``"user_email"``).
    max_groups
        Largest number of groups drawn individually.
    threshold
        Pass mark drawn as a dashed line (None: no line).
    points
        Overlay each session as a jittered point (at most 400 per group, a fixed sample).
    include_incomplete
        Count scores of running / terminated sessions too.
    ax
        Axes to draw on.
    **kwargs
        Passed to `Axes.boxplot`.
    """
    ax = _axes(ax)
    df = _sessions(data)
    label = _pretty(by)
    title = f"Scores by {label}"
    _frames._keys(by, df, "plot_scores_by_group")
    rows = _frames.scored_sessions(df, include_incomplete=include_incomplete)
    if rows.empty:
        return _empty(ax, title)
    group = _frames.cap_groups(rows[by], max_groups)
    scores = rows["score"].to_numpy(dtype=float, na_value=np.nan)
    labels = [str(c) for c in group.cat.categories]
    codes = group.cat.codes.to_numpy()
    per_group = {lab: scores[codes == i] for i, lab in enumerate(labels)}
    per_group = {k: v for k, v in per_group.items() if len(v)}
    ranked = sorted((k for k in per_group if not k.startswith("Other (")), key=lambda k: np.median(per_group[k]))
    ranked = [k for k in per_group if k.startswith("Other (")] + ranked  # bottom → top: Other, worst … best
    values = [per_group[k] for k in ranked]
    positions = np.arange(1, len(ranked) + 1)
    style: dict[str, Any] = {
        "widths": 0.6,
        "showfliers": not points,
        "patch_artist": True,
        "boxprops": {"facecolor": "#dfe8f1", "edgecolor": "#4878a8"},
        "medianprops": {"color": "#1b3d5f", "linewidth": 1.8},
        "whiskerprops": {"color": "#4878a8"},
        "capprops": {"color": "#4878a8"},
    }
    if "orientation" in _BOXPLOT_PARAMS:
        style["orientation"] = "horizontal"
    else:  # pragma: no cover - matplotlib < 3.10
        style["vert"] = False
    style.update(kwargs)
    ax.boxplot(values, positions=positions, **style)
    if points:
        rng = np.random.default_rng(0)  # fixed jitter: the same data always draws the same picture
        for pos, vals in zip(positions, values):
            if len(vals) > 400:
                vals = rng.choice(vals, 400, replace=False)
            ax.scatter(vals, pos + rng.uniform(-0.22, 0.22, len(vals)), s=9, alpha=0.35, color="#1f4e79",
                       edgecolors="none", zorder=3)
    small = [len(v) < SMALL_SAMPLE for v in values]
    ax.set_yticks(positions)
    names, domain = _display_names(ranked)
    ax.set_yticklabels(
        [f"{_short(names[k], 32)} (n={len(v)}){' *' if s else ''}" for k, v, s in zip(ranked, values, small)],
        fontsize=8 if len(ranked) > 8 else 9,
    )
    if threshold is not None:
        ax.axvline(threshold, color="#333333", linestyle="--", linewidth=1, label=f"pass mark {threshold:g}")
    ax.set_xlim(0, 100)
    ax.set_ylim(0.4, len(ranked) + 0.6)
    ax.set_xlabel("Score (0–100)" + (f"\n{SMALL_NOTE}" if any(small) else ""))
    ax.set_ylabel(_axis_label(label, domain))
    n_groups = rows[by].nunique(dropna=False)
    shown = f"top {max_groups} shown, the rest as Other" if n_groups > max_groups else ""
    _title(ax, title, f"{_plural(len(rows), 'analysed session')} · {_plural(n_groups, label)}", len(rows), shown)
    return ax


def plot_topic_heatmap(
    data: Any,
    *,
    by: str | None = "team",
    scenario: str | None = None,
    max_groups: int = 15,
    annot: bool = True,
    cmap: str = "RdYlGn",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Mean report-card score per group × topic, for one rubric at a time.

    Topics are never averaged across scenarios whose rubrics differ: with several such scenarios in the data
    this raises `ValueError` (from `frames.topic_matrix`) saying why; pass ``scenario=`` or use
    `facet_topic_heatmaps`. No colour bar is drawn (it would sit outside ``ax``): each cell shows its value.

    Parameters
    ----------
    data
        A `report_card_frame` (or sessions, converted with it).
    by
        Row grouping column (``"team"``, ``"user_email"``); None for a single row.
    scenario
        Scenario id or name to draw.
    max_groups
        Largest number of rows; the rest are folded into "Other".
    annot
        Write the mean in each cell (skipped above 400 cells).
    cmap
        Colour map for 0–100.
    ax
        Axes to draw on.
    **kwargs
        Passed to `Axes.imshow`.
    """
    ax = _axes(ax)
    df = data if isinstance(data, pd.DataFrame) else _frames.report_card_frame(data)
    label = _pretty(by) if by else ""
    title = "Mean topic score (0–100)" + (f" by {label}" if by else "")
    if df.empty or df["score"].notna().sum() == 0:
        return _empty(ax, title)
    if by is not None:
        _frames._keys(by, df, "plot_topic_heatmap")
        sessions_per_row = df.drop_duplicates("session_id")
        capped = _frames.cap_groups(sessions_per_row[by], max_groups)
        mapping = dict(zip(sessions_per_row["session_id"].astype(object), capped.astype(object)))
        df = df.assign(**{by: pd.Categorical(df["session_id"].astype(object).map(mapping))})
    mean, count = _frames.topic_matrix(df, by, scenario=scenario)
    if mean.empty:
        return _empty(ax, title)
    scoped = df
    if scenario is not None:
        scoped = df[(df["scenario_id"].astype(object) == scenario) | (df["scenario_name"].astype(object) == scenario)]
    if by is not None:
        sessions_n = scoped.groupby(by, observed=True)["session_id"].nunique()
        order = [g for g in sessions_n.sort_values(ascending=False).index if not str(g).startswith("Other (")]
        order += [g for g in sessions_n.index if str(g).startswith("Other (")]
        order = [g for g in order if g in mean.index]
        mean, count = mean.loc[order], count.loc[order]
    else:
        sessions_n = pd.Series({"all": scoped["session_id"].nunique()})
    matrix = np.ma.masked_invalid(mean.to_numpy(dtype=float))
    style = {"cmap": cmap, "vmin": 0, "vmax": 100, "aspect": "auto", "interpolation": "nearest"}
    style.update(kwargs)
    ax.imshow(matrix, **style)
    rows, cols = matrix.shape
    masked = np.ma.getmaskarray(matrix)
    if annot and rows * cols <= 400:
        for i in range(rows):
            for j in range(cols):
                if masked[i, j]:
                    continue
                v = float(matrix[i, j])
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if v < 22 or v > 85 else "black")
    ax.set_xticks(np.arange(cols))
    ax.set_xticklabels([textwrap.fill(str(t), 16) for t in mean.columns], fontsize=8, rotation=30, ha="right",
                       rotation_mode="anchor")
    ax.set_yticks(np.arange(rows))
    small = [int(sessions_n.get(g, 0)) < SMALL_SAMPLE for g in mean.index]
    names, domain = _display_names([str(g) for g in mean.index])
    ax.set_yticklabels(
        [f"{_short(names[str(g)], 28)} (n={int(sessions_n.get(g, 0))}){' *' if sm else ''}"
         for g, sm in zip(mean.index, small)],
        fontsize=8,
    )
    ax.set_xlabel("Report-card topic" + (f"\n{SMALL_NOTE}" if any(small) else ""))
    ax.set_ylabel(_axis_label(label, domain) if by else "")
    scenario_names = scoped["scenario_name"].dropna().astype(str).unique() if "scenario_name" in scoped.columns else []
    what = (scenario_names[0] if len(scenario_names) == 1
            else _plural(len(scenario_names), "scenario") + " (same rubric)")
    n = int(scoped["session_id"].nunique())
    _title(ax, title, f"{_short(str(what), 50)} · {_plural(n, 'analysed session')}", n)
    return ax


def facet_topic_heatmaps(
    data: Any,
    *,
    by: str | None = "team",
    ncols: int = 2,
    max_groups: int = 15,
    figsize: tuple[float, float] | None = None,
    **kwargs: Any,
) -> Figure:
    """One `plot_topic_heatmap` per scenario (each rubric on its own axes), in a new figure.

    The figure-level companion of `plot_topic_heatmap` for data spanning scenarios with different rubrics.
    Returns the `Figure` (never shown here; Jupyter displays it).
    """
    df = data if isinstance(data, pd.DataFrame) else _frames.report_card_frame(data)
    scenarios = list(dict.fromkeys(df["scenario_id"].dropna().astype(object))) if not df.empty else []
    n = max(len(scenarios), 1)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig = plt.figure(figsize=figsize or (7.5 * ncols, 4.2 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    if not scenarios:
        _empty(axes[0], "Mean topic score (0–100)")
    for ax, sid in zip(axes, scenarios):
        plot_topic_heatmap(df, by=by, scenario=sid, max_groups=max_groups, ax=ax, **kwargs)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig


def plot_first_vs_best(
    data: Any,
    *,
    by: str | None = None,
    min_attempts: int = 2,
    max_groups: int = 8,
    include_incomplete: bool = False,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Each learner's first analysed score against their best, per scenario (points above the diagonal improved).

    Parameters
    ----------
    data
        A `sessions_frame` (or sessions).
    by
        Colour points by this column (its value on the first attempt), capped at ``max_groups`` colours.
    min_attempts
        Only learner × scenario pairs with at least this many analysed attempts (default 2).
    include_incomplete
        Count scores of running / terminated sessions too.
    ax
        Axes to draw on.
    **kwargs
        Passed to `Axes.scatter`.
    """
    ax = _axes(ax)
    df = _sessions(data)
    title = "First vs best attempt"
    pairs = _frames.first_vs_best(df, by=by, include_incomplete=include_incomplete)
    pairs = pairs[pairs["attempts"] >= min_attempts]
    if pairs.empty:
        return _empty(ax, title, f"No learner with {min_attempts}+ analysed attempts" if len(df) else EMPTY_MESSAGE)
    ax.plot([0, 100], [0, 100], color="#777777", linestyle="--", linewidth=1, label="no change", zorder=1)
    style = {"s": 16, "alpha": 0.55, "edgecolors": "none"}
    style.update(kwargs)
    if by:
        group = _frames.cap_groups(pairs[by], max_groups)
        labels = [str(c) for c in group.cat.categories]
        colors = _colors(labels)
        names, domain = _display_names(labels)
        for label in labels:
            mask = (group == label).to_numpy()
            ax.scatter(pairs["first_score"][mask], pairs["best_score"][mask], color=colors[label],
                       label=f"{_short(names[label], 24)} ({int(mask.sum())})", zorder=2, **style)
        ax.legend(title=_axis_label(_pretty(by), domain), fontsize=7.5, title_fontsize=8, loc="lower right",
                  ncols=2 if len(labels) > 5 else 1)
    else:
        ax.scatter(pairs["first_score"], pairs["best_score"], color="#1f77b4", zorder=2, **style)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_xlabel("First analysed attempt (score 0–100)")
    ax.set_ylabel("Best analysed attempt (score 0–100)")
    gain = float(pairs["gain"].mean())
    n = len(pairs)
    _title(ax, f"{title} per learner × scenario",
           f"{_plural(n, 'pair')} with ≥ {min_attempts} analysed attempts · mean gain {gain:+.1f} points", n)
    return ax


def plot_feedback_themes(
    data: Any,
    *,
    top: int = 8,
    kind: str | None = None,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """The most frequent strength and improvement themes, as the number of sessions mentioning each.

    Each bar is labelled with the theme's most common wording and the share of analysed sessions.

    Parameters
    ----------
    data
        A `feedback_frame` (or sessions, converted with it).
    top
        Themes shown per kind.
    kind
        ``"strength"``, ``"improvement"`` or None for both (strengths on top).
    ax
        Axes to draw on.
    **kwargs
        Passed to `Axes.barh`.
    """
    ax = _axes(ax)
    if kind not in (None, "strength", "improvement"):
        raise ValueError(f"kind must be 'strength', 'improvement' or None, got {kind!r}")
    fb = data if isinstance(data, pd.DataFrame) else _frames.feedback_frame(data)
    title = {None: "Top feedback themes", "strength": "Top strengths", "improvement": "Top improvement areas"}[kind]
    if fb.empty:
        return _empty(ax, title)
    n_sessions = int(fb["session_id"].nunique())
    kinds = ["strength", "improvement"] if kind is None else [kind]
    work = pd.DataFrame(
        {
            "session_id": fb["session_id"].astype(object).to_numpy(),
            "kind": fb["kind"].astype(object).to_numpy(),
            "theme": fb["theme"].astype(object).to_numpy(),
            "text": fb["text"].astype(object).to_numpy(),
        }
    )
    mentions = work.drop_duplicates(["session_id", "kind", "theme"]).groupby(["kind", "theme"]).size()
    wording = work.groupby(["kind", "theme"])["text"].agg(_theme_label)
    y_labels: list[str] = []
    positions: list[float] = []
    y = 0.0
    widest = 0
    for k in kinds:
        if k not in mentions.index.get_level_values(0):
            continue
        counts = mentions.loc[k].sort_values(ascending=False, kind="stable").head(top)
        color = _STRENGTH_COLOR if k == "strength" else _IMPROVEMENT_COLOR
        heading = "Strengths" if k == "strength" else "Improvement areas"
        # A heading row above each block says which kind it is (a legend would cover bar labels).
        ax.text(0, y, f" {heading}", ha="left", va="center", fontsize=9, fontweight="bold", color=color)
        ys = [y - 1 - i for i in range(len(counts))]
        style = {"color": color, "height": 0.72}
        style.update(kwargs)
        bars = ax.barh(ys, counts.to_numpy(), label=heading, **style)
        for bar, value in zip(bars, counts.to_numpy()):
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {value} ({value / n_sessions:.0%})",
                    va="center", ha="left", fontsize=7.5, color="#333333")
        y_labels += [_short(str(wording.loc[(k, theme)]), 48) for theme in counts.index]
        positions += ys
        widest = max(widest, int(counts.max()))
        y = ys[-1] - 1.5
    if not positions:
        return _empty(ax, title)
    ax.set_yticks(positions)
    ax.set_yticklabels(y_labels, fontsize=8)
    ax.set_ylim(min(positions) - 0.7, 0.7)
    ax.set_xlim(0, widest * 1.2)
    ax.set_xlabel("Analysed sessions mentioning the theme")
    _title(ax, title, f"{_plural(n_sessions, 'analysed session')} with feedback", n_sessions,
           "bar labels: sessions mentioning the theme (share)")
    return ax
