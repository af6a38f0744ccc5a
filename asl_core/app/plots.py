"""Plotly figure builders shared by the pages: training curves, confusion matrices, per-class
scores and a prediction's top-k bar chart.

Every builder takes plain data (DataFrames, lists, arrays), never a Streamlit object, so the
pages stay thin and the figures can be tested on their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

# One colour per run, stable for a given order of runs; Plotly's own palette, then Dark24 so
# a comparison of more than ten runs still gets distinct colours before they repeat.
PALETTE: tuple[str, ...] = tuple(qualitative.Plotly) + tuple(qualitative.Dark24)


# The curves a training page shows, as (metric key, title). The key is the suffix of the
# history columns: `train_<key>` is drawn dashed, `val_<key>` solid, a bare `<key>` solid.
CURVE_METRICS: tuple[tuple[str, str], ...] = (
    ("loss", "Loss"),
    ("acc", "Accuracy"),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("lr", "Learning rate"),
)


# Dash style per split: what a reader of every training plot expects (train dashed).
SPLIT_DASH: dict[str, str] = {"train": "dash", "val": "solid", "test": "dot", "": "solid"}


# Up to this many epochs the x axis labels every epoch.
MAX_EPOCH_TICKS = 30


# Up to this many classes every class is labelled on a categorical axis.
MAX_LABELLED_CLASSES = 64


ACCEPTED_COLOUR = "#2e7d32"


BELOW_THRESHOLD_COLOUR = "#9e9e9e"


def run_colours(names: Sequence[str]) -> dict[str, str]:
    """A colour for each name, in order; the same list always gives the same colours."""
    return {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(names)}


def metric_columns(history: pd.DataFrame, metric: str) -> list[tuple[str, str]]:
    """The (split, column) pairs of `history` that hold `metric`, train first."""
    found = []
    for split in ("train", "val", "test"):
        column = f"{split}_{metric}"
        if column in history.columns:
            found.append((split, column))
    if metric in history.columns:
        found.append(("", metric))
    return [(split, column) for split, column in found if history[column].notna().any()]


def curves(
    histories: Mapping[str, pd.DataFrame],
    metric: str,
    *,
    x: str = "epoch",
    title: str | None = None,
    colours: Mapping[str, str] | None = None,
) -> go.Figure:
    """Overlaid per-epoch curves of one metric for several runs.

    `histories` maps a run's name to its history (one row per epoch). Each run gets one colour;
    train is dashed, validation solid. Runs without the metric are left out, so the figure
    may have no traces (the caller can check `fig.data`).
    """
    colours = dict(colours or run_colours(list(histories)))
    figure = go.Figure()
    for name, history in histories.items():
        for split, column in metric_columns(history, metric):
            rows = history[history[column].notna()]
            xs = rows[x] if x in rows.columns else pd.Series(range(1, len(rows) + 1))
            figure.add_trace(
                go.Scatter(
                    x=list(xs),
                    y=list(rows[column]),
                    name=f"{name} · {split}" if split else name,
                    legendgroup=name,
                    mode="lines+markers",
                    line={"color": colours.get(name), "dash": SPLIT_DASH[split]},
                    marker={"size": 5},
                    customdata=_stage_column(rows),
                    hovertemplate=_curve_hover(name, split, "stage" in rows.columns),
                )
            )
    if x == "epoch" and _max_x(figure) <= MAX_EPOCH_TICKS:
        figure.update_xaxes(dtick=1)  # whole epochs, not 1.2, 1.4, ...
    figure.update_layout(
        title=title or _metric_title(metric),
        xaxis_title=x.replace("_", " "),
        yaxis_title=_metric_title(metric),
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "top", "y": -0.2},
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    if metric == "lr":
        # Plain decimals ("0.003"): Plotly's defaults wrote a log axis's 0.003 as "3" (one
        # digit between decades) and 1e-4 as "100µ". Schedules that span decades get a log
        # axis with ticks at 1, 2 and 5 of each decade (warm-up and decay alike); others a
        # linear one from zero (a constant rate was drawn on an axis around 0).
        if _spans_decades(figure):
            figure.update_yaxes(type="log", dtick="D2", tickformat="~g")
        else:
            figure.update_yaxes(rangemode="tozero", tickformat="~g")
    return figure


def _stage_column(rows: pd.DataFrame) -> list[str] | None:
    return [str(stage) for stage in rows["stage"]] if "stage" in rows.columns else None


def _curve_hover(name: str, split: str, has_stage: bool) -> str:
    label = f"{name} {split}".strip()
    stage = " (stage %{customdata})" if has_stage else ""
    return f"{label}: %{{y:.4g}}{stage}<extra></extra>"


def _metric_title(metric: str) -> str:
    return dict(CURVE_METRICS).get(metric, metric.replace("_", " ").capitalize())


def _max_x(figure: go.Figure) -> float:
    values = [value for trace in figure.data for value in (trace.x or ()) if value is not None]
    return max(values, default=0)


def _spans_decades(figure: go.Figure) -> bool:
    values = [value for trace in figure.data for value in (trace.y or ()) if value is not None]
    positive = bool(values) and all(value > 0 for value in values)
    return positive and max(values) / min(values) >= 10


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its total (the recall of that class); empty rows stay zero."""
    matrix = np.asarray(matrix, dtype=float)
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)


def confusion_heatmap(
    labels: Sequence[str],
    matrix: np.ndarray | Sequence[Sequence[float]],
    *,
    normalise: bool = False,
    title: str | None = None,
) -> go.Figure:
    """Confusion matrix, true class down the side, predicted class along the top.

    With `normalise` every row sums to 1 (per-class recall on the diagonal); hovering shows
    the raw count either way, so a high fraction of a rare class is never misread.
    """
    counts = np.asarray(matrix, dtype=float)
    if counts.shape != (len(labels), len(labels)):
        raise ValueError(f"matrix is {counts.shape[0]}x{counts.shape[1]} for {len(labels)} labels")
    shown = normalise_rows(counts) if normalise else counts
    text = [[_cell_text(value, normalise) for value in row] for row in shown]
    figure = go.Figure(
        go.Heatmap(
            z=shown,
            x=list(labels),
            y=list(labels),
            text=text,
            texttemplate="%{text}" if len(labels) <= 40 else None,
            customdata=counts,
            colorscale="Blues",
            zmin=0,
            zmax=1 if normalise else None,
            hovertemplate="true %{y}, predicted %{x}: %{customdata:.0f}<extra></extra>",
            colorbar={"title": "fraction" if normalise else "count"},
        )
    )
    size = max(360, min(900, 24 * len(labels) + 160))
    every = 1 if len(labels) <= MAX_LABELLED_CLASSES else None
    figure.update_layout(
        title=title,
        xaxis={"title": "predicted", "side": "top", "type": "category", "dtick": every},
        yaxis={"title": "true", "autorange": "reversed", "type": "category", "dtick": every},
        height=size,
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
    )
    return figure


def _cell_text(value: float, normalise: bool) -> str:
    if value == 0:
        return ""
    return f"{value:.2f}" if normalise else f"{value:.0f}"


def per_class_bars(
    report: pd.DataFrame,
    metrics: Sequence[str] = ("precision", "recall", "f1"),
    *,
    title: str | None = None,
) -> go.Figure:
    """Grouped bars of per-class scores; `report` has one row per class (index = class)."""
    figure = go.Figure()
    classes = [str(label) for label in report.index]
    for metric in metrics:
        if metric not in report.columns:
            continue
        figure.add_trace(
            go.Bar(
                x=classes,
                y=list(report[metric]),
                name=metric,
                hovertemplate=f"%{{x}} {metric}: %{{y:.3f}}<extra></extra>",
            )
        )
    figure.update_layout(
        title=title,
        barmode="group",
        xaxis={
            "title": "class",
            "type": "category",
            "dtick": 1 if len(classes) <= MAX_LABELLED_CLASSES else None,
        },
        yaxis={"title": "score", "range": [0, 1.05]},
        legend={"orientation": "h", "yanchor": "top", "y": -0.25},
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return figure


def topk_bar(
    top: Sequence[tuple[str, float]],
    threshold: float | None = None,
    *,
    title: str | None = None,
) -> go.Figure:
    """Horizontal bars of a prediction's top classes, most likely at the top.

    With a `threshold`, bars that reach it are green and the others grey, and a dashed line
    marks it: the reader sees at once whether the answer was accepted.
    """
    labels = [str(label) for label, _ in top]
    scores = [float(score) for _, score in top]
    colours = [
        ACCEPTED_COLOUR if threshold is None or score >= threshold else BELOW_THRESHOLD_COLOUR
        for score in scores
    ]
    figure = go.Figure(
        go.Bar(
            x=scores,
            y=labels,
            orientation="h",
            marker={"color": colours},
            text=[f"{score:.0%}" for score in scores],
            textposition="auto",
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
            name="probability",
        )
    )
    if threshold is not None:
        figure.add_vline(
            x=threshold,
            line={"dash": "dash", "color": "#d32f2f"},
            annotation_text=f"threshold {threshold:.0%}",
            annotation_position="top",
        )
    figure.update_layout(
        title=title,
        xaxis={"range": [0, 1], "tickformat": ".0%", "title": "probability"},
        yaxis={"autorange": "reversed", "type": "category"},
        height=max(160, 40 * len(labels) + 80),
        margin={"l": 10, "r": 10, "t": 40 if title or threshold is not None else 10, "b": 10},
        showlegend=False,
    )
    return figure


def group_bars(
    values: Mapping[str, float | None],
    *,
    title: str | None = None,
    mean: float | None = None,
) -> go.Figure:
    """One bar per run (a fold or a grid point) with an optional dashed line at the mean."""
    names = [name for name, value in values.items() if value is not None]
    figure = go.Figure(
        go.Bar(
            x=names,
            y=[values[name] for name in names],
            marker={"color": list(run_colours(names).values())},
            hovertemplate="%{x}: %{y:.1%}<extra></extra>",
        )
    )
    if mean is not None:
        figure.add_hline(y=mean, line={"dash": "dash"}, annotation_text=f"mean {mean:.1%}")
    figure.update_layout(
        title=title,
        yaxis={"range": [0, 1.05], "tickformat": ".0%"},
        xaxis={"type": "category"},
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        showlegend=False,
    )
    return figure
