"""The runs page under Streamlit's AppTest, on run folders from a real tiny training."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from asl_core.runs import local as runs_module
from asl_core.settings import REPO_ROOT

# The real-runs helper (tests/helpers/runs.py) trains once per session: its marker file
# tells whichever module asks second that the runs are there.
from tests.helpers.runs import run_folders, train_real_runs, truncate_last_line, write_run

PAGE = str(REPO_ROOT / "pages" / "3_Runs.py")


BROKEN = "broken-run"


@pytest.fixture(scope="module")
def page_runs_dir(tmp_path_factory: pytest.TempPathFactory, massey_root: Path) -> Path:
    """The real runs plus a crashed copy with truncated metrics and no summary."""
    base = tmp_path_factory.getbasetemp() / "asl-real-runs"
    base.mkdir(exist_ok=True)
    real = train_real_runs(base, massey_root.parent)
    runs_dir = Path(shutil.copytree(real, tmp_path_factory.mktemp("page") / "runs"))
    broken = Path(shutil.copytree(run_folders(runs_dir)[0], runs_dir / BROKEN))
    truncate_last_line(broken / "metrics.jsonl")
    (broken / "summary.json").unlink()
    return runs_dir


@pytest.fixture
def app(page_runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("ASL_RUNS_DIR", str(page_runs_dir))
    runs_module.clear_cache()
    return AppTest.from_file(PAGE, default_timeout=60).run()


def real_names(runs_dir: Path) -> list[str]:
    return sorted(path.name for path in run_folders(runs_dir) if path.name != BROKEN)


def charts(app: AppTest) -> list[dict[str, Any]]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def chart_titled(app: AppTest, title: str) -> dict[str, Any]:
    for figure in charts(app):
        if figure["layout"].get("title", {}).get("text", "").startswith(title):
            return figure
    raise AssertionError(f"no chart titled {title!r}")


def widget(elements: Any, label: str) -> Any:
    return next(element for element in elements if element.label == label)


def test_runs_are_listed_and_the_broken_one_flagged(app: AppTest, page_runs_dir: Path) -> None:
    assert not app.exception
    table = app.dataframe[0].value.set_index("name")
    assert set(table.index) == {*real_names(page_runs_dir), BROKEN}
    assert table.loc[BROKEN, "⚠"] == "⚠️" and table.loc[BROKEN, "status"] == "incomplete"
    for name in real_names(page_runs_dir):
        assert table.loc[name, "⚠"] == "" and table.loc[name, "status"] == "finished"
    assert any("1 of 3 runs" in warning.value for warning in app.warning)
    problems = " ".join(markdown.value for markdown in app.markdown)
    assert "summary.json is missing" in problems
    assert "metrics.jsonl ends with a truncated line" in problems


def test_two_selected_runs_get_overlaid_curves_and_details(
    app: AppTest, page_runs_dir: Path
) -> None:
    first, second = real_names(page_runs_dir)
    widget(app.multiselect, "Compare runs").set_value([first, second]).run()
    assert not app.exception
    for title in ("Loss", "Accuracy"):
        traces = [trace["name"] for trace in chart_titled(app, title)["data"]]
        for name in (first, second):
            assert f"{name} · train" in traces and f"{name} · val" in traces
    heatmap = chart_titled(app, "Confusion")["data"][0]
    assert heatmap["type"] == "heatmap" and len(heatmap["x"]) == len(heatmap["y"]) > 1
    assert chart_titled(app, "Per-class scores")["data"][0]["type"] == "bar"
    # Hyperparameters of the two runs: the learning rate differs.
    hyper = app.dataframe[1].value
    assert "lr" in hyper.index and set(hyper.columns) == {first, second}
    assert app.get("download_button")


def test_confusion_epoch_slider_and_normalise(app: AppTest) -> None:
    slider = widget(app.select_slider, "Confusion matrix of epoch")
    assert slider.value == "test"
    slider.set_value(1).run()
    assert chart_titled(app, "Confusion (validation, epoch 1)")
    widget(app.toggle, "Normalise rows (per-class recall)").set_value(True).run()
    assert not app.exception
    heatmap = chart_titled(app, "Confusion")["data"][0]
    assert heatmap["zmax"] == 1


def test_group_shows_mean_and_spread(app: AppTest) -> None:
    group = widget(app.selectbox, "Group (grid search, k-fold)")
    group.set_value(group.options[1]).run()
    assert not app.exception
    # The broken copy belongs to the group too: its best val acc comes from its metrics.
    assert app.metric[0].label == "best val acc (mean ± std, 3 runs)"
    assert "±" in app.metric[0].value
    varying = app.dataframe[1].value
    assert "lr" in varying.columns and len(varying) == 3
    assert chart_titled(app, "best val acc per run")


def test_filters_narrow_the_table(app: AppTest, page_runs_dir: Path) -> None:
    widget(app.multiselect, "Model").set_value(["landmark_mlp"]).run()
    assert len(app.dataframe[0].value) == 3
    widget(app.multiselect, "Model").set_value([]).run()
    assert not app.exception


def test_empty_folder_tells_how_to_train(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASL_RUNS_DIR", str(tmp_path))
    app = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not app.exception
    # The command that works from a fresh clone: the venv's Python, not a bare `python`.
    assert any(".venv/bin/python -m training.train" in info.value for info in app.info)


def test_a_folder_outside_the_configured_ones_is_refused(
    app: AppTest, tmp_path: Path, page_runs_dir: Path
) -> None:
    secret = tmp_path / "elsewhere" / "run"
    secret.mkdir(parents=True)
    (secret / "config.json").write_text('{"password": "hunter2"}')
    widget(app.text_input, "Runs folder").input(str(secret)).run()
    assert not app.exception
    assert any("outside the folders this app may use" in error.value for error in app.error)
    assert "hunter2" not in str([element.value for element in app.get("json")])
    assert not app.dataframe
    widget(app.text_input, "Runs folder").input(str(page_runs_dir)).run()
    assert not app.error and len(app.dataframe[0].value) == 3


MANY = 60  # more than a page (PAGE_SIZE 50)


@pytest.fixture(scope="module")
def many_runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MANY runs written by the real writer (made-up numbers: paging, not accuracy)."""
    root = tmp_path_factory.mktemp("many") / "runs"
    for index in range(MANY):
        write_run(root / f"202601{1 + index // 24:02d}-{index % 24:02d}0000-run{index:03d}")
    return root


def test_many_runs_are_paged_and_only_the_opened_ones_are_read(
    many_runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASL_RUNS_DIR", str(many_runs_dir))
    runs_module.clear_cache()
    app = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not app.exception
    names = list(app.dataframe[0].value["name"])
    assert len(names) == 50 and names[0].endswith("run059") and names[-1].endswith("run010")
    assert any("Runs 1–50 of 60, newest first." in caption.value for caption in app.caption)
    compare = widget(app.multiselect, "Compare runs")
    assert compare.value == [names[0]] and len(compare.options) == 50
    # Curves and details were read for the one run opened, for no other.
    built = [run.name for run in cached_runs() if "history" in vars(run)]
    assert built == [names[0]]
    app.number_input(key="runs_page").set_value(2).run()
    assert not app.exception
    second = list(app.dataframe[0].value["name"])
    assert len(second) == 10 and second[-1].endswith("run000")
    # The run picked on page 1 stays picked; page 2's runs are offered beside it.
    compare = widget(app.multiselect, "Compare runs")
    assert compare.value == [names[0]] and set(second) <= set(compare.options)
    compare.set_value([names[0], second[0]]).run()
    assert not app.exception
    built = {run.name for run in cached_runs() if "history" in vars(run)}
    assert built == {names[0], second[0]}


def cached_runs() -> list[Any]:
    return [entry.run for entry in runs_module._FOLDER_CACHE.values() if entry.run is not None]


def test_wandb_without_a_key_explains_how_to_log_in(
    app: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    app.radio[0].set_value("W&B project").run()
    assert not app.exception
    assert any("wandb login" in info.value for info in app.info)


@pytest.mark.skipif(
    not (REPO_ROOT / "pages" / "1_Classify.py").is_file(), reason="no classify page yet"
)
def test_open_on_the_classify_page_hands_over_the_checkpoint(
    page_runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASL_RUNS_DIR", str(page_runs_dir))
    # From Home.py, as `streamlit run Home.py` does, so page paths resolve as in the app.
    app = AppTest.from_file(str(REPO_ROOT / "Home.py"), default_timeout=60)
    app.switch_page("pages/3_Runs.py").run()
    selected = widget(app.multiselect, "Compare runs").value[0]
    checkpoint = page_runs_dir / selected / "checkpoint.safetensors"
    widget(app.button, "Open on the classify page").click().run()
    assert not app.exception
    assert app.session_state["selected_checkpoint"] == str(checkpoint)
    assert "Training runs" not in [title.value for title in app.title]


def test_the_picker_names_each_chosen_run_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two trials of a sweep started in the same second: the picker's chips cut a name after
    # about 16 characters, so both chips read "20260101-120000-…".
    names = [
        "20260101-120000-landmark_mlp-random-trial1",
        "20260101-120000-landmark_mlp-random-trial2",
    ]
    for name in names:
        write_run(tmp_path / name)
    monkeypatch.setenv("ASL_RUNS_DIR", str(tmp_path))
    runs_module.clear_cache()
    app = AppTest.from_file(PAGE, default_timeout=60).run()
    widget(app.multiselect, "Compare runs").set_value(names).run()
    assert not app.exception
    comparing = [caption.value for caption in app.caption if caption.value.startswith("Comparing")]
    assert comparing == [f"Comparing `{names[0]}`, `{names[1]}`"]
