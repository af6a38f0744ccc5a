"""The reference experiments' configs (training/configs/seed*.yaml): every one loads and follows
its write-up, and tiny real runs of seed 003's scratch protocol, seed 003's staged recipe and
seed 004's CNN+LSTM complete."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from asl_core.data.augment import describe
from asl_core.models.registry import create_model, model_info
from asl_core.runs.format import read_metrics
from asl_core.training.config import (
    CONFIG_DIR,
    apply_updates,
    iter_grid,
    load_config,
    load_grid_config,
)
from asl_core.training.fit import fit
from asl_core.training.optim import param_groups, plan_phases
from tests.helpers.training import read_json, training_environment

SEED_CONFIGS = sorted(CONFIG_DIR.glob("seed*.yaml"))


@pytest.fixture(scope="module", autouse=True)
def _environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A feature cache of this module's own (MediaPipe runs on the slices), W&B offline."""
    root = tmp_path_factory.getbasetemp()
    with training_environment(root, "seed-feature-cache"):
        yield


def test_every_write_up_experiment_has_a_config() -> None:
    assert {p.stem for p in SEED_CONFIGS} == {
        "seed000_custom_cnn", "seed000_mobilenet_v2", "seed000_resnet18",
        "seed002_small_cnn", "seed002_vgg16",
        "seed003_scratch", "seed003_resnet18_head", "seed003_resnet18_staged",
        "seed004_baseline_cnn", "seed004_enhanced_cnn", "seed004_cnn_lstm", "seed004_grid",
    }  # fmt: skip


@pytest.mark.parametrize("path", SEED_CONFIGS, ids=lambda p: p.stem)
def test_seed_config_loads_validates_and_states_its_source(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Seed 00"), "the comment names the write-up it follows"
    config, grid = load_grid_config(path)  # unknown and inapplicable keys raise here
    for point in iter_grid(grid) if grid else ():
        apply_updates(config, point)
    info = model_info(config.model)
    if config.pretrained and config.model in ("resnet18", "vgg16"):
        # no ImageNet weights for these offline: the comment says which file and how to pass it
        assert "weights_path=" in text and "cannot be downloaded" in text
        assert f"{config.model}-" in text
    if info.input_spec.kind == "sequence":
        assert "consecutive" in text and config.datasets == ["grassknoted_letters"]


def test_seed003_scratch_follows_the_protocol_without_augmentation() -> None:
    config = load_config(CONFIG_DIR / "seed003_scratch.yaml")
    assert (config.model, config.lr, config.batch_size, config.epochs) == (
        "scratch_mlp", 0.002, 32, 10,
    )  # fmt: skip
    assert config.datasets == ["massey36"]
    assert (config.split.name, config.split.folds, config.split.val_fraction) == ("kfold", 5, 0)
    spec = create_model("scratch_mlp", 36).input_spec
    assert (spec.size, spec.channels) == (28, 1)
    assert describe(config.augmentation, spec, config.representation) == {"enabled": False}


def test_seed003_stages_train_everything_at_1e4_and_stop_at_the_first_rise() -> None:
    config = load_config(CONFIG_DIR / "seed003_resnet18_staged.yaml")
    assert [(p.name, p.epochs) for p in plan_phases(config)] == [
        ("head", 10), ("layer4", 5), ("layer3", 5),
    ]  # fmt: skip
    assert config.early_stopping.patience == 1 and config.early_stopping.monitor == "val_loss"
    model = create_model("resnet18", 36, image_size=32)
    assert [g["lr"] for g in param_groups(model, config, "head")] == [0.002]
    for stage in ("layer4", "layer3"):
        assert [(g["name"], g["lr"]) for g in param_groups(model, config, stage)] == [
            ("head", 1e-4), ("backbone", 1e-4),
        ]  # fmt: skip


def test_seed004_configs_use_a_26_letter_single_signer_set_and_its_augmentation() -> None:
    for name in ("seed004_baseline_cnn", "seed004_enhanced_cnn", "seed004_cnn_lstm"):
        config = load_config(CONFIG_DIR / f"{name}.yaml")
        assert config.datasets == ["grassknoted_letters"]
        assert (config.split.name, config.split.random_state) == ("random", 42)
        assert config.arch_kwargs["image_size"] == 224
        applied = describe(config.augmentation, create_model(config.model, 26).input_spec, None)
        assert applied["colour_jitter"] is False and applied["translate"] == 0.0
        assert (applied["rotation"], applied["scale"], applied["hflip_prob"]) == (
            15.0, (1.0, 1.0), 0.5,
        )  # fmt: skip
    assert load_config(CONFIG_DIR / "seed004_baseline_cnn.yaml").limit_per_class == 150


QUIET = ["wandb=false", "progress=false", "extract_workers=1"]


@pytest.mark.slow
def test_seed003_scratch_protocol_runs_on_a_tiny_slice(massey_root, tmp_path) -> None:
    from training import kfold

    args = ["--config", str(CONFIG_DIR / "seed003_scratch.yaml"), "--folds", "2",
            "--limit-per-class", "6", "--runs-dir", str(tmp_path), "--set",
            "classes=[B,C,L,V,W,Y]", *(a for s in QUIET for a in ("--set", s))]  # fmt: skip
    record = kfold.main(kfold.get_args_parser().parse_args(args))
    assert [r["status"] for r in record["runs"]] == ["finished", "finished"]
    for run in record["runs"]:
        config = read_json(Path(run["run_dir"]) / "config.json")
        assert config["split"]["val_is_test_fold"] is True  # validated on the held-out fold
        assert config["augmentation_applied"] == {"enabled": False}
        assert run["best_val_acc"] == pytest.approx(run["test_acc"])
    assert record["stats"]["test_acc"]["n"] == 2


@pytest.mark.slow
def test_seed003_staged_recipe_logs_the_backbone_rate(massey_root, tmp_path) -> None:
    """The staged config on a small network (the scratch MLP's `hidden` stage stands in for
    ResNet18's layers) from a checkpoint of this project: lr and lr_backbone per epoch."""
    small = [*QUIET, "classes=[B,C,L,V,W,Y]", "limit_per_class=6", f"runs_dir={tmp_path}"]
    start = fit(load_config(CONFIG_DIR / "seed003_scratch.yaml", [*small, "epochs=1"]))
    staged = load_config(
        CONFIG_DIR / "seed003_resnet18_staged.yaml",
        [*small, "model=scratch_mlp", "arch_kwargs.image_size=28", "stages=[hidden]",
         "pretrained=false", f"init_checkpoint={start.run_dir / 'checkpoint.json'}",
         "epochs=2", "stage_epochs=3", "split.folds=2"],
    )  # fmt: skip
    result = fit(staged)
    rows = read_metrics(result.run_dir)
    head = [r for r in rows if r["stage"] == "head"]
    tuned = [r for r in rows if r["stage"] == "hidden"]
    assert len(head) == 2 and 1 <= len(tuned) <= 3
    assert all((r["lr"], r["lr_backbone"]) == (0.002, None) for r in head)
    assert all((r["lr"], r["lr_backbone"]) == (1e-4, 1e-4) for r in tuned)
    # patience 1: the stage ends at the first epoch whose validation loss is not the lowest yet
    best = min(r["val_loss"] for r in head)
    for row in tuned[:-1]:
        assert row["val_loss"] < best
        best = row["val_loss"]
    assert (tuned[-1]["val_loss"] >= best) == (len(tuned) < 3)
    assert all(r["train_f1"] is not None for r in rows)


@pytest.mark.slow
def test_seed004_cnn_lstm_trains_on_frame_sequences(letters_root, tmp_path) -> None:
    config = load_config(
        CONFIG_DIR / "seed004_cnn_lstm.yaml",
        [*QUIET, "classes=[A,B,L,Y]", "limit_per_class=24", "epochs=1",
         "arch_kwargs.image_size=32", "arch_kwargs.sequence_length=4", f"runs_dir={tmp_path}"],
    )  # fmt: skip
    result = fit(config)
    assert result.status == "finished" and result.epochs_done == 1
    record = json.loads((result.run_dir / "config.json").read_text())
    split = record["split"]
    assert split["unit"] == "sequence" and split["sequence_length"] == 4
    assert split["sequences"] == {"train": 16, "val": 4, "test": 4}  # 6 windows per letter
    assert split["counts"] == {"train": 64, "val": 16, "test": 16}  # frames
    assert result.test["count"] == 4  # scored per sequence
    row = read_metrics(result.run_dir)[0]
    assert {"train_precision", "train_recall", "train_f1"} <= set(row)


@pytest.mark.slow
def test_seed004_enhanced_cnn_logs_training_precision_recall_f1(
    letters_root, tmp_path, monkeypatch
) -> None:
    """Seed 004 logs precision, recall and F1 for training as well as validation: in
    metrics.jsonl and in the W&B run, every epoch; and its config.json says colour jitter is
    off (the write-up's augmentation is flip and rotation only)."""
    from asl_core.runs.writer import RunLog

    logged: list[dict] = []
    real_log = RunLog._wandb_log

    def spy(self, payload, step):
        logged.append(dict(payload))
        real_log(self, payload, step)

    monkeypatch.setattr(RunLog, "_wandb_log", spy)
    config = load_config(
        CONFIG_DIR / "seed004_enhanced_cnn.yaml",
        ["wandb=true", "progress=false", "extract_workers=1", "classes=[A,B,L,Y]",
         "limit_per_class=8", "epochs=2", "arch_kwargs.image_size=32", f"runs_dir={tmp_path}"],
    )  # fmt: skip
    result = fit(config)
    rows = read_metrics(result.run_dir)
    assert [r["epoch"] for r in rows] == [1, 2]
    for row in rows:
        for side in ("train", "val"):
            for metric in ("precision", "recall", "f1"):
                assert 0.0 <= row[f"{side}_{metric}"] <= 1.0
    assert any(r["train_recall"] > 0 for r in rows)  # computed from the predictions
    epochs = [p for p in logged if "train/loss" in p]
    assert [p["epoch"] for p in epochs] == [1, 2]
    for payload, row in zip(epochs, rows, strict=True):
        for metric in ("precision", "recall", "f1"):
            assert payload[f"train/{metric}"] == pytest.approx(row[f"train_{metric}"])
            assert payload[f"val/{metric}"] == pytest.approx(row[f"val_{metric}"])
    applied = read_json(result.run_dir / "config.json")["augmentation_applied"]
    assert applied["colour_jitter"] is False and "brightness" not in applied
