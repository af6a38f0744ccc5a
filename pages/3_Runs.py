"""Training runs: browse, plot and compare them, from the local runs folder or a W&B project.

Layout only; reading runs lives in `asl_core.runs`, figures in `asl_core.app.plots`. With
thousands of runs every click stays cheap: listing rereads only run folders whose files changed
(`asl_core.runs.local`), the table shows one page of PAGE_SIZE runs, and curves, confusion
matrices, reports and checkpoints are read only for the runs picked (bench/runs_page.py).
"""

from __future__ import annotations

import math
from pathlib import Path

import streamlit as st

from asl_core.app import plots
from asl_core.runs.local import LocalRunSource
from asl_core.runs.records import Run, RunSourceError
from asl_core.runs.tables import (
    differing_keys,
    filter_runs,
    format_mean_std,
    group_table,
    groups,
    highlight_differences,
    history_csv,
    hyperparameter_table,
    kfold_summary,
    runs_table,
    unique_labels,
)
from asl_core.runs.wandb_source import WANDB_LOGIN_HELP, WandbRunSource, wandb_credentials_available
from asl_core.settings import REPO_ROOT, OutsideRootsError, folder_within_roots, runs_dir

CLASSIFY_PAGE = "pages/1_Classify.py"
# The venv's Python: a bare `python` outside the venv lacks torch and fails.
TRAIN_COMMAND = ".venv/bin/python -m training.train --config training/configs/landmark_mlp.yaml"
ALL_RUNS = "All runs"
PAGE_SIZE = 50
PAGE_KEY = "runs_page"
COMPARE_KEY = "compare_runs"

st.set_page_config(page_title="Training runs", page_icon="📈", layout="wide")
st.title("Training runs")


@st.cache_resource(ttl=300, show_spinner="Fetching runs from W&B…")
def wandb_runs(entity: str, project: str) -> list[Run]:
    # Network reads are slow and rate-limited: keep a project's runs for five minutes.
    return WandbRunSource(entity, project).list_runs()


def load_runs() -> tuple[list[Run], str | None]:
    """The chosen source's runs and, for a local folder, the folder."""
    source = st.radio("Source", ["Local folder", "W&B project"], horizontal=True)
    if source == "Local folder":
        typed = st.text_input(
            "Runs folder",
            value=str(runs_dir()),
            help="A folder inside the runs, captures or datasets folder (ASL_RUNS_DIR, "
            "ASL_CAPTURE_DIR, ASL_DATA_DIR).",
        )
        try:
            folder = folder_within_roots(typed)
        except OutsideRootsError as error:
            st.error(str(error))
            st.stop()
        # runs.local caches each run folder by file stats, so a rerun rereads only what changed.
        return LocalRunSource(folder).list_runs(), str(folder)
    left, right, refresh = st.columns([2, 2, 1], vertical_alignment="bottom")
    entity = left.text_input("W&B entity (user or team)", placeholder="your-team")
    project = right.text_input("W&B project", placeholder="sign-language")
    if refresh.button("Refresh"):
        wandb_runs.clear()
    if not wandb_credentials_available():
        st.info(WANDB_LOGIN_HELP)
        st.stop()
    if not project.strip():
        st.info("Enter the W&B project to browse.")
        st.stop()
    try:
        return wandb_runs(entity.strip(), project.strip()), None
    except RunSourceError as error:
        st.error(str(error))
        st.stop()


def show_empty_state(folder: str | None) -> None:
    if folder is not None and not Path(folder).expanduser().is_dir():
        where = f"`{folder}` is not a folder (yet)"
    else:
        where = f"No training runs in `{folder}` yet" if folder else "No runs in this project"
    st.info(
        f"{where}. Train a model with\n\n"
        f"```bash\n{TRAIN_COMMAND}\n```\n\n"
        "and its run appears here (set `ASL_RUNS_DIR`, or the folder above, to look elsewhere)."
    )


def page_of(runs: list[Run]) -> list[Run]:
    """The runs of the page picked (PAGE_SIZE a page, newest first)."""
    pages = max(1, math.ceil(len(runs) / PAGE_SIZE))
    if pages == 1:
        return runs
    if st.session_state.get(PAGE_KEY, 1) > pages:  # the filters left fewer pages
        st.session_state[PAGE_KEY] = pages
    left, right = st.columns([1, 4], vertical_alignment="bottom")
    page = left.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, key=PAGE_KEY)
    first = (int(page) - 1) * PAGE_SIZE
    shown = runs[first : first + PAGE_SIZE]
    right.caption(f"Runs {first + 1:,}–{first + len(shown):,} of {len(runs):,}, newest first.")
    return shown


def show_table(runs: list[Run], source: LocalRunSource | None) -> tuple[list[Run], list[Run]]:
    """Filters, one page of the runs table and the group summary; returns the runs that pass
    the filters and those on the page."""
    models = sorted({run.model or "" for run in runs})
    splits = sorted({run.split or "" for run in runs})
    group_names = list(groups(runs))
    left, middle, right = st.columns(3)
    chosen_models = left.multiselect("Model", models)
    chosen_splits = middle.multiselect("Split", splits)
    group = right.selectbox("Group (grid search, k-fold)", [ALL_RUNS, *group_names])
    shown = filter_runs(
        runs,
        models=chosen_models,
        splits=chosen_splits,
        group=None if group == ALL_RUNS else group,
    )
    on_page = page_of(shown)
    st.dataframe(
        runs_table(on_page),
        hide_index=True,
        placeholder="–",  # a score the run does not have; Streamlit writes "None" otherwise
        column_config={
            "⚠": st.column_config.TextColumn("⚠", width="small", help="run has problems"),
            "best val acc": st.column_config.NumberColumn(format="percent"),
            "unseen-signer acc": st.column_config.NumberColumn(
                format="percent", help="accuracy on signers the model never saw in training"
            ),
            "test acc": st.column_config.NumberColumn(format="percent"),
            "started": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )
    if group != ALL_RUNS:
        show_group(group, shown, source)
    show_problems(shown, on_page)
    return shown, on_page


def show_group(group: str, runs: list[Run], source: LocalRunSource | None) -> None:
    summary = kfold_summary(runs)
    st.subheader(f"Group {group}: {summary['runs']} runs")
    columns = st.columns(3)
    for column, (metric, title) in zip(
        columns,
        [
            ("best_val_acc", "best val acc"),
            ("test_acc", "test acc"),
            ("unseen_signer_acc", "unseen-signer acc"),
        ],
        strict=True,
    ):
        column.metric(
            f"{title} (mean ± std, {summary[f'{metric}_n']} runs)",
            format_mean_std(summary[f"{metric}_mean"], summary[f"{metric}_std"]),
        )
    left, right = st.columns(2)
    left.caption("What varies across the group, best first")
    left.dataframe(
        group_table(runs),
        placeholder="–",
        column_config={
            column: st.column_config.NumberColumn(format="percent")
            for column in ("best val acc", "test acc", "unseen-signer acc")
        },
    )
    values = {run.name: run.best_val_acc for run in runs}
    if any(value is not None for value in values.values()):
        right.plotly_chart(
            plots.group_bars(
                values, title="best val acc per run", mean=summary["best_val_acc_mean"]
            )
        )
    if source is not None and (info := source.group_info(group)):
        with st.expander("Group summary file"):
            st.json(info)


def show_problems(runs: list[Run], on_page: list[Run]) -> None:
    flagged = sum(run.has_problems for run in runs)
    if not flagged:
        return
    st.warning(f"⚠️ {flagged:,} of {len(runs):,} runs are incomplete or have problems.")
    listed = [run for run in on_page if run.has_problems]
    title = "Problems" if len(on_page) == len(runs) else "Problems of the runs on this page"
    with st.expander(title):
        for run in listed:
            st.markdown(f"**⚠️ {run.name}** ({run.status})")
            for sentence in run.problems or [f"status {run.status}"]:
                st.markdown(f"- {sentence}")


def show_curves(selected: dict[str, Run]) -> None:
    histories = {label: run.history for label, run in selected.items()}
    colours = plots.run_colours(list(histories))
    figures = [
        plots.curves(histories, metric, title=title, colours=colours)
        for metric, title in plots.CURVE_METRICS
    ]
    figures = [figure for figure in figures if figure.data]
    if not figures:
        st.info("The selected runs have no finished epochs yet.")
        return
    st.caption("Train dashed, validation solid; one colour per run.")
    for index in range(0, len(figures), 2):
        for column, figure in zip(st.columns(2), figures[index : index + 2], strict=False):
            column.plotly_chart(figure)


def show_run_details(run: Run) -> None:
    show_actions(run)
    # Full width: 36 classes need the room to keep every label readable.
    show_confusion(run)
    report = run.report()
    if report is None:
        st.info("No per-class report (report.json) for this run.")
    else:
        st.plotly_chart(plots.per_class_bars(report, title="Per-class scores (test split)"))
    if run.problems:
        with st.expander(f"⚠️ Problems of {run.name}", expanded=True):
            for sentence in run.problems:
                st.markdown(f"- {sentence}")
    with st.expander("Summary and config"):
        st.json({"summary": run.summary, "config": run.config}, expanded=False)


def show_actions(run: Run) -> None:
    left, right = st.columns(2)
    classify_exists = (REPO_ROOT / CLASSIFY_PAGE).is_file()
    checkpoint = run.checked_checkpoint()  # read now, for this run only
    if checkpoint is not None and classify_exists:
        if left.button("Open on the classify page", key=f"open-{run.id}"):
            st.session_state["selected_checkpoint"] = str(checkpoint)
            st.switch_page(CLASSIFY_PAGE)
    elif checkpoint is not None:
        left.caption(f"Checkpoint: `{checkpoint}`")
    else:
        left.caption("This run has no usable checkpoint.")
    right.download_button(
        "Download metrics CSV",
        data=history_csv(run),
        file_name=f"{run.name}-metrics.csv",
        mime="text/csv",
        on_click="ignore",
        key=f"csv-{run.id}",
        disabled=run.history.empty,
    )


def show_confusion(run: Run) -> None:
    epochs = run.confusion_epochs()
    if not epochs:
        st.info("No confusion matrix for this run.")
        return
    default = "test" if "test" in epochs else epochs[-1]
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    epoch = (
        left.select_slider("Confusion matrix of epoch", options=epochs, value=default)
        if len(epochs) > 1
        else epochs[0]
    )
    normalise = right.toggle("Normalise rows (per-class recall)", value=False)
    confusion = run.confusion(epoch)
    if confusion is None:
        st.warning(f"The confusion matrix of {epoch} cannot be read.")
        return
    which = "test split" if epoch == "test" else f"validation, epoch {epoch}"
    st.plotly_chart(
        plots.confusion_heatmap(
            confusion.labels, confusion.matrix, normalise=normalise, title=f"Confusion ({which})"
        ),
    )
    if no_hand := sum(confusion.no_hand.values()):
        st.caption(
            f"{no_hand} photos had no hand found: training counts them wrong; they are not in "
            "the matrix."
        )


def show_comparison(runs: list[Run], on_page: list[Run]) -> None:
    labelled = unique_labels(runs)
    by_id = {run.id: label for label, run in labelled.items()}
    # Offered: the runs on this page and those picked already (kept across pages).
    kept = [label for label in st.session_state.get(COMPARE_KEY, []) if label in labelled]
    page_labels = [by_id[run.id] for run in on_page if run.id in by_id]
    options = list(dict.fromkeys([*kept, *page_labels]))
    if COMPARE_KEY not in st.session_state:
        st.session_state[COMPARE_KEY] = page_labels[:1]
    elif kept != st.session_state[COMPARE_KEY]:
        st.session_state[COMPARE_KEY] = kept  # runs gone from the folder or filtered out
    chosen = st.multiselect("Compare runs", options, key=COMPARE_KEY)
    if chosen:
        # The picker's chips cut a name after about 16 characters and run names begin with
        # their start time, so two runs of one sweep look the same there: name them in full.
        st.caption("Comparing " + ", ".join(f"`{label}`" for label in chosen))
    selected = {label: labelled[label] for label in chosen}
    if not selected:
        st.info("Pick one or more runs to plot.")
        return
    st.subheader("Curves")
    show_curves(selected)
    if len(selected) > 1:
        st.subheader("Hyperparameters")
        table = hyperparameter_table(list(selected.values()))
        only_differences = st.toggle("Only keys that differ", value=True)
        differ = differing_keys(table)
        if only_differences:
            table = table.loc[differ] if differ else table.iloc[0:0]
        st.caption(f"{len(differ)} keys differ (highlighted).")
        st.dataframe(highlight_differences(table))
    st.subheader("Run details")
    label = st.selectbox("Run", chosen) if len(chosen) > 1 else chosen[0]
    show_run_details(labelled[label])


runs, folder = load_runs()
if not runs:
    show_empty_state(folder)
    st.stop()
shown, on_page = show_table(runs, LocalRunSource(folder) if folder is not None else None)
if shown:
    show_comparison(shown, on_page)
else:
    st.info("No run matches the filters.")
