"""The Plotly figure builders shared by the pages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from asl_core.app import plots


def history(epochs: int, with_stage: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "epoch": range(1, epochs + 1),
            "train_loss": np.linspace(2.0, 0.5, epochs),
            "val_loss": np.linspace(2.2, 0.8, epochs),
            "train_acc": np.linspace(0.2, 0.9, epochs),
            "val_acc": np.linspace(0.1, 0.8, epochs),
            "val_f1": np.linspace(0.1, 0.7, epochs),
            "lr": [1e-3] * epochs,
        }
    )
    if with_stage:
        frame["stage"] = ["head"] + ["full"] * (epochs - 1)
    return frame


def test_curves_overlay_runs_with_train_dashed_and_val_solid() -> None:
    figure = plots.curves({"run-a": history(3), "run-b": history(5, False)}, "loss")
    names = [trace.name for trace in figure.data]
    assert names == ["run-a · train", "run-a · val", "run-b · train", "run-b · val"]
    dashes = {trace.name: trace.line.dash for trace in figure.data}
    assert dashes["run-a · train"] == "dash" and dashes["run-a · val"] == "solid"
    colours = {trace.legendgroup: trace.line.color for trace in figure.data}
    assert colours["run-a"] != colours["run-b"]
    assert list(figure.data[1].x) == [1, 2, 3]
    assert figure.data[0].customdata is not None  # stage shown on hover
    assert figure.layout.title.text == "Loss"


def test_curves_leave_out_missing_metrics() -> None:
    runs = {"run-a": history(3)}
    assert [trace.name for trace in plots.curves(runs, "f1").data] == ["run-a · val"]
    assert plots.curves(runs, "precision").data == ()


def test_learning_rate_gets_a_log_axis_only_when_it_spans_decades() -> None:
    constant = plots.curves({"run-a": history(3)}, "lr")
    assert [trace.name for trace in constant.data] == ["run-a"]
    assert constant.layout.yaxis.type is None
    decaying = history(3).assign(lr=[1e-2, 1e-3, 1e-4])
    assert plots.curves({"run-a": decaying}, "lr").layout.yaxis.type == "log"


def test_learning_rate_ticks_are_plain_decimals() -> None:
    """Issue 18: the log axis labelled 0.003 as "3" (Plotly writes only the digit between
    decades) and a constant rate sat on an axis around 0. Checked by eye in Chromium too."""
    decaying = history(4).assign(lr=[3e-3, 1e-3, 3e-4, 1e-4])
    log_axis = plots.curves({"run-a": decaying}, "lr").layout.yaxis
    assert (log_axis.type, log_axis.dtick, log_axis.tickformat) == ("log", "D2", "~g")
    constant = plots.curves({"run-a": history(3).assign(lr=3e-3)}, "lr").layout.yaxis
    assert (constant.rangemode, constant.tickformat) == ("tozero", "~g")
    loss = plots.curves({"run-a": history(3)}, "loss").layout.yaxis
    assert loss.tickformat is None  # other metrics keep Plotly's own ticks


def test_curves_skip_missing_values_and_number_rows_without_epoch() -> None:
    frame = pd.DataFrame({"val_acc": [0.1, None, 0.3]})
    (trace,) = plots.curves({"r": frame}, "acc").data
    assert list(trace.y) == [0.1, 0.3]


def test_confusion_heatmap_counts_and_normalised() -> None:
    labels = ["A", "B", "C"]
    matrix = np.array([[3, 1, 0], [0, 0, 0], [2, 0, 2]])
    counts = plots.confusion_heatmap(labels, matrix, title="t")
    (heatmap,) = counts.data
    assert heatmap.type == "heatmap"
    assert list(heatmap.x) == labels and list(heatmap.y) == labels
    assert np.asarray(heatmap.z).tolist() == matrix.tolist()
    assert counts.layout.yaxis.autorange == "reversed"
    normalised = plots.confusion_heatmap(labels, matrix, normalise=True).data[0]
    z = np.asarray(normalised.z)
    assert z[0].tolist() == [0.75, 0.25, 0.0]
    assert z[1].tolist() == [0.0, 0.0, 0.0]  # a class never seen stays zero, no NaN
    assert np.asarray(normalised.customdata).tolist() == matrix.tolist()  # raw counts on hover


def test_confusion_heatmap_rejects_a_mismatched_matrix() -> None:
    with pytest.raises(ValueError, match="3 labels"):
        plots.confusion_heatmap(["A", "B", "C"], [[1, 2], [3, 4]])


def test_per_class_bars_one_trace_per_metric() -> None:
    report = pd.DataFrame(
        {"precision": [0.9, 0.5], "recall": [0.8, 0.4], "f1": [0.85, 0.45], "support": [4, 4]},
        index=["A", "B"],
    )
    figure = plots.per_class_bars(report)
    assert [trace.name for trace in figure.data] == ["precision", "recall", "f1"]
    assert list(figure.data[0].x) == ["A", "B"]
    assert figure.layout.barmode == "group"


def test_topk_bar_colours_by_threshold_and_draws_the_line() -> None:
    top = [("A", 0.7), ("S", 0.2), ("E", 0.1)]
    figure = plots.topk_bar(top, threshold=0.6)
    (bar,) = figure.data
    assert bar.orientation == "h"
    assert list(bar.y) == ["A", "S", "E"] and list(bar.x) == [0.7, 0.2, 0.1]
    assert list(bar.marker.color) == [
        plots.ACCEPTED_COLOUR,
        plots.BELOW_THRESHOLD_COLOUR,
        plots.BELOW_THRESHOLD_COLOUR,
    ]
    assert [shape.x0 for shape in figure.layout.shapes] == [0.6]
    assert figure.layout.yaxis.autorange == "reversed"  # most likely at the top
    without = plots.topk_bar(top, None)
    assert without.layout.shapes == ()
    assert set(without.data[0].marker.color) == {plots.ACCEPTED_COLOUR}


def test_group_bars_mean_line_and_missing_values() -> None:
    figure = plots.group_bars({"fold-1": 0.8, "fold-2": None, "fold-3": 0.6}, mean=0.7)
    assert list(figure.data[0].x) == ["fold-1", "fold-3"]
    assert [shape.y0 for shape in figure.layout.shapes] == [0.7]


def test_run_colours_are_stable_and_distinct() -> None:
    names = [f"run-{i}" for i in range(12)]
    colours = plots.run_colours(names)
    assert colours == plots.run_colours(names)
    assert len(set(colours.values())) == 12
