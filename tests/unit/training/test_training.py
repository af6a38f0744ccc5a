"""Whole training runs on a small real slice of massey36 (6 classes x 10 photos), on the CPU."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from asl_core.io.progress import ProgressLine
from asl_core.models.checkpoint import load_checkpoint
from asl_core.models.registry import PretrainedWeightsMissing
from asl_core.runs.format import METRIC_KEYS, read_metrics
from asl_core.settings import REPO_ROOT
from asl_core.training import fit as fit_module
from asl_core.training.config import (
    config_from_dict,
    iter_grid,
    load_config,
    load_config_file,
    parse_overrides,
    resume_config,
)
from asl_core.training.engine import summarise_predictions
from asl_core.training.fit import fit
from asl_core.training.optim import (
    build_model,
    freeze_frozen_modules,
    param_groups,
    plan_phases,
    set_phase_trainable,
)
from tests.helpers.training import SLICE, read_json, slice_args, tiny, training_environment

CONFIGS = REPO_ROOT / "training" / "configs"


@pytest.fixture(scope="module", autouse=True)
def _environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A session-wide feature cache that starts cold, and W&B offline."""
    root = tmp_path_factory.getbasetemp()
    with training_environment(root):
        yield


def test_every_shipped_config_loads_and_reproduces_its_seed() -> None:
    files = {p.stem: p for p in CONFIGS.glob("*.yaml")}
    grids = {stem for stem, path in files.items() if "grid" in load_config_file(path)}
    assert grids == {"seed004_grid"}  # load_config refuses a grid: training.sweep runs it
    loaded = {stem: load_config(path) for stem, path in files.items() if stem not in grids}
    assert set(loaded) >= {
        "defaults",
        "seed000_mobilenet_v2",
        "seed003_scratch",
        "seed003_resnet18_staged",
        "seed004_baseline_cnn",
        "seed004_enhanced_cnn",
        "landmark_mlp",
    }
    s000 = loaded["seed000_mobilenet_v2"]
    assert (s000.model, s000.batch_size, s000.lr, s000.epochs, s000.optimizer) == (
        "custom_mobilenet_v2",
        100,
        1e-3,
        10,
        "adam",
    )
    s003 = loaded["seed003_scratch"]
    assert (s003.model, s003.lr, s003.batch_size, s003.split.name, s003.split.folds) == (
        "scratch_mlp",
        0.002,
        32,
        "kfold",
        5,
    )
    staged = loaded["seed003_resnet18_staged"]
    assert staged.freeze == "head" and staged.stages == ["layer4", "layer3"]
    assert (staged.lr, staged.finetune_lr, staged.stage_epochs) == (0.002, 1e-4, 5)
    enhanced = loaded["seed004_enhanced_cnn"]
    assert enhanced.arch_kwargs == {"image_size": 224, "dropout": 0.2}  # 004: 224 px
    assert (enhanced.lr, enhanced.batch_size, enhanced.weight_decay) == (1e-3, 32, 1e-4)
    grid = load_config_file(CONFIGS / "seed004_grid.yaml")["grid"]
    assert len(list(iter_grid(grid))) == 8


def test_overrides_parse_yaml_values_and_dotted_keys() -> None:
    assert parse_overrides(["lr=0.01", "split.name=loso", "stages=[layer4]"]) == {
        "lr": 0.01,
        "split": {"name": "loso"},
        "stages": ["layer4"],
    }
    config = load_config(
        CONFIGS / "defaults.yaml", ["lr=1e-3", "split.name=loso", "split.test_signer=hand3"]
    )
    assert config.lr == 1e-3 and isinstance(config.lr, float)  # YAML reads 1e-3 as text
    assert config.split.test_signer == "hand3"
    with pytest.raises(ValueError, match="did you mean lr"):
        config_from_dict({"lrr": 0.1})
    with pytest.raises(ValueError, match="stages need freeze: head"):
        config_from_dict({"stages": ["layer4"]})


def test_metrics_count_photos_without_a_hand_as_wrong() -> None:
    logits = np.array([[5.0, 0.0], [0.0, 5.0], [0.0, 0.0], [5.0, 0.0]])
    result = summarise_predictions(
        logits, np.array([0, 1, 1, 1]), np.array([True, True, False, True]), ["A", "B"]
    )
    assert result.accuracy == 0.5  # the no-hand photo is wrong, not skipped
    assert result.confusion.tolist() == [[1, 0], [1, 1]]  # no-hand photos not in the matrix
    assert result.no_hand_per_class.tolist() == [0, 1]
    assert result.report["B"]["recall"] == pytest.approx(1 / 3)
    assert result.y_pred.tolist() == [0, 1, -1, 0]


def test_progress_line_reports_rate_and_time_left() -> None:
    import io

    stream = io.StringIO()
    line = ProgressLine(4, "MediaPipe", unit="photos", stream=stream, interval=0)
    for _ in range(4):
        line.advance()
    line.close()
    text = stream.getvalue()
    assert "MediaPipe 4/4 photos" in text and "/s" in text and "left" in text


def test_landmark_run_writes_the_run_folder(massey_root, tmp_path, capsys) -> None:
    result = fit(tiny(tmp_path, wandb=True, group="tests"), command=["pytest"])
    run = result.run_dir
    # progress: false hides the progress lines, never the final result line.
    assert f"{run.name}: finished, best epoch" in capsys.readouterr().err
    assert run.parent == tmp_path / "runs" and "-landmark_mlp-random" in run.name
    config = read_json(run / "config.json")
    assert config["model"] == "landmark_mlp" and config["group"] == "tests"
    assert config["split"]["name"] == "random"
    assert config["split"]["counts"] == {"train": 36, "val": 12, "test": 12}
    assert set(config["split"]["signers"]) == {"train", "val", "test"}
    assert config["no_hand"]["count"] == 0 and config["no_hand"]["files"] == []
    for key in (
        "optimizer",
        "lr",
        "batch_size",
        "epochs",
        "weight_decay",
        "scheduler",
        "augmentation",
        "early_stopping",
        "seed",
        "job_type",
        "started_at",
        "command",
        "git_commit",
        "class_names",
        "input_spec",
        "sources",
    ):
        assert key in config, key
    rows = read_metrics(run)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert all(list(r) == list(METRIC_KEYS) for r in rows)
    assert {r["stage"] for r in rows} == {"full"}
    for epoch in (1, 2, 3):
        matrix = read_json(run / "confusion" / f"epoch_{epoch:03d}.json")
        assert matrix["split"] == "val" and matrix["labels"] == SLICE["classes"]
        assert np.array(matrix["matrix"]).sum() == 12
    test_matrix = read_json(run / "confusion" / "test.json")
    assert test_matrix["split"] == "test"
    summary = read_json(run / "summary.json")
    assert summary["status"] == "finished" and summary["epochs_done"] == 3
    for key in (
        "best_epoch",
        "best_val_acc",
        "best_val_loss",
        "test_acc",
        "test_precision",
        "test_recall",
        "test_f1",
        "test_loss",
        "no_hand",
        "duration_s",
        "finished_at",
        "updated_at",
    ):
        assert key in summary, key
    assert summary["test_acc"] == pytest.approx(result.test["acc"])
    report = read_json(run / "report.json")
    assert set(report) == set(SLICE["classes"])
    assert set(report["B"]) == {"precision", "recall", "f1", "support"}
    loaded = load_checkpoint(run / "checkpoint.safetensors")
    assert loaded.meta.class_names == SLICE["classes"]
    assert loaded.meta.data["split"]["name"] == "random"
    assert loaded.meta.metrics["test_acc"] == pytest.approx(result.test["acc"])
    assert loaded.model(torch.zeros(2, 63)).shape == (2, 6)
    offline = list((run / "wandb").glob("offline-run-*"))
    assert len(offline) == 1 and list(offline[0].glob("run-*.wandb"))


def test_image_model_run_on_crops_and_skeletons(massey_root, tmp_path) -> None:
    crops = fit(
        tiny(
            tmp_path,
            model="small_cnn",
            arch_kwargs={"image_size": 32},
            epochs=2,
            representation="crop",
        )
    )
    loaded = load_checkpoint(crops.run_dir / "checkpoint")
    assert loaded.meta.input_spec.size == 32 and loaded.meta.input_spec.representation == "crop"
    assert len(read_metrics(crops.run_dir)) == 2
    skeleton = fit(tiny(tmp_path, model="scratch_mlp", epochs=1, representation="skeleton"))
    config = read_json(skeleton.run_dir / "config.json")
    assert config["representation"] == "skeleton" and config["input_spec"]["channels"] == 1
    assert config["augmentation_applied"]["colour_jitter"] is False
    assert load_checkpoint(skeleton.run_dir / "checkpoint").meta.input_spec.representation == (
        "skeleton"
    )


def test_resume_after_a_crash_continues_the_epoch_count(massey_root, tmp_path, monkeypatch):
    real = fit_module.train_one_epoch
    calls = {"n": 0}

    def crash_in_epoch_three(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("simulated interruption")
        return real(*args, **kwargs)

    monkeypatch.setattr(fit_module, "train_one_epoch", crash_in_epoch_three)
    with pytest.raises(RuntimeError, match="simulated"):
        fit(tiny(tmp_path, epochs=4, wandb=True, scheduler="cosine"))
    monkeypatch.setattr(fit_module, "train_one_epoch", real)
    (run,) = (tmp_path / "runs").iterdir()
    assert read_json(run / "summary.json")["status"] == "crashed"
    assert read_json(run / "state.json")["epoch"] == 2
    assert [r["epoch"] for r in read_metrics(run)] == [1, 2]

    resumed = fit(resume_config(run), resume_dir=run)
    assert resumed.run_dir == run
    rows = read_metrics(run)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert read_json(run / "summary.json")["status"] == "finished"
    assert read_json(run / "summary.json")["epochs_done"] == 4
    assert len(list((run / "wandb").glob("offline-run-*"))) >= 1

    # The same run without the interruption gives the same numbers: resume restores the
    # weights, the optimiser, the schedule and the data order.
    straight = fit(tiny(tmp_path / "straight", epochs=4, scheduler="cosine"))
    for mine, theirs in zip(rows, read_metrics(straight.run_dir), strict=True):
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-5)
        assert mine["val_loss"] == pytest.approx(theirs["val_loss"], rel=1e-5)
        assert mine["lr"] == pytest.approx(theirs["lr"])

    # A finished run is extended the same way: two more epochs, no duplicate rows.
    extended = fit(resume_config(run, ["epochs=6"]), resume_dir=run)
    assert [r["epoch"] for r in read_metrics(run)] == [1, 2, 3, 4, 5, 6]
    assert extended.epochs_done == 6


def test_early_stopping_restores_the_best_weights(massey_root, tmp_path, monkeypatch) -> None:
    scripted = [1.0, 0.5, 0.9, 0.95, 0.97, 0.99, 1.0, 1.0, 1.0, 1.0]  # best at epoch 2
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    validated = {"epochs": 0}
    real_train, real_evaluate = fit_module.train_one_epoch, fit_module.evaluate

    def train_and_snapshot(model, *args, **kwargs):
        out = real_train(model, *args, **kwargs)
        snapshots[len(snapshots) + 1] = {k: v.clone() for k, v in model.state_dict().items()}
        return out

    def scripted_val_loss(*args, **kwargs):
        result = real_evaluate(*args, **kwargs)
        if len(snapshots) > validated["epochs"]:  # the validation right after an epoch
            validated["epochs"] = len(snapshots)
            result = dataclasses.replace(result, loss=scripted[len(snapshots) - 1])
        return result  # the final test evaluation is left alone

    monkeypatch.setattr(fit_module, "train_one_epoch", train_and_snapshot)
    monkeypatch.setattr(fit_module, "evaluate", scripted_val_loss)
    config = tiny(tmp_path, epochs=10, early_stopping={"enabled": True, "patience": 2})
    result = fit(config)
    assert result.status == "stopped_early"
    assert result.best_epoch == 2 and result.epochs_done == 4
    assert [r["val_loss"] for r in read_metrics(result.run_dir)] == [1.0, 0.5, 0.9, 0.95]
    saved = load_file(str(result.run_dir / "checkpoint.safetensors"))
    for key, tensor in snapshots[2].items():
        assert torch.equal(saved[key], tensor), key
    assert not all(torch.equal(saved[k], t) for k, t in snapshots[4].items())
    assert read_json(result.run_dir / "summary.json")["status"] == "stopped_early"


def test_phases_unfreeze_stages_cumulatively_with_their_own_lr() -> None:
    from asl_core.models.registry import create_model

    config = config_from_dict(
        {
            "model": "resnet18",
            "pretrained": True,  # only validated here: no weights are loaded
            "freeze": "head",
            "stages": ["layer4", "layer3"],
            "lr": 0.002,
            "finetune_lr": 1e-4,
            "epochs": 2,
            "stage_epochs": 5,
        }
    )
    assert [(p.name, p.epochs) for p in plan_phases(config)] == [
        ("head", 2),
        ("layer4", 5),
        ("layer3", 5),
    ]
    model = create_model("resnet18", 4, image_size=32)

    def trainable() -> set[str]:
        return {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}

    expected = {"head": {"fc"}, "layer4": {"fc", "layer4"}, "layer3": {"fc", "layer4", "layer3"}}
    for phase, names in expected.items():
        set_phase_trainable(model, phase, config.stages)
        assert trainable() == names
        groups = param_groups(model, config, phase)
        assert [(g["name"], g["lr"]) for g in groups] == (
            [("head", 0.002)] if phase == "head" else [("head", 0.002), ("backbone", 1e-4)]
        )
    model.train()
    freeze_frozen_modules(model)
    norms = {
        n.split(".")[0]: m.training
        for n, m in model.named_modules()
        if isinstance(m, torch.nn.BatchNorm2d)
    }
    assert norms == {
        "stem": False,
        "layer1": False,
        "layer2": False,
        "layer3": True,
        "layer4": True,
    }  # frozen BatchNorm keeps its statistics


@pytest.mark.slow
def test_staged_fine_tuning_unfreezes_in_order(massey_root, tmp_path, monkeypatch) -> None:
    phases: list[list[tuple[str, float, set[str]]]] = []
    captured: dict[str, torch.nn.Module] = {}
    real_build_model, real_build_optimizer = fit_module.build_model, fit_module.build_optimizer

    def build_model(config, num_classes):
        model = real_build_model(config, num_classes)
        captured["model"] = model
        captured["initial"] = {k: v.clone() for k, v in model.state_dict().items()}
        return model

    def build_optimizer(groups, config):
        names = {id(p): n for n, p in captured["model"].named_parameters()}
        phases.append(
            [
                (g["name"], g["lr"], {names[id(p)].split(".")[0] for p in g["params"]})
                for g in groups
            ]
        )
        return real_build_optimizer(groups, config)

    # No ImageNet ResNet18 here, and head-only training on a random backbone is refused: the
    # backbone comes from a one-epoch run of the same model (init_checkpoint).
    start = fit(
        tiny(tmp_path, model="resnet18", arch_kwargs={"image_size": 32}, limit_per_class=6,
             epochs=1)
    ).checkpoint  # fmt: skip
    monkeypatch.setattr(fit_module, "build_model", build_model)
    monkeypatch.setattr(fit_module, "build_optimizer", build_optimizer)
    config = tiny(
        tmp_path,
        model="resnet18",
        init_checkpoint=str(start),
        arch_kwargs={"image_size": 32},
        limit_per_class=6,
        freeze="head",
        stages=["layer4", "layer3"],
        epochs=1,
        stage_epochs=1,
        lr=0.002,
        finetune_lr=1e-4,
    )
    result = fit(config)
    assert [r["stage"] for r in read_metrics(result.run_dir)] == ["head", "layer4", "layer3"]
    assert phases == [
        [("head", 0.002, {"fc"})],
        [("head", 0.002, {"fc"}), ("backbone", 1e-4, {"layer4"})],
        [("head", 0.002, {"fc"}), ("backbone", 1e-4, {"layer3", "layer4"})],
    ]
    saved = load_file(str(result.run_dir / "checkpoint.safetensors"))
    initial = load_file(str(start))  # what every layer started from
    assert not torch.equal(initial["stem.0.weight"], captured["initial"]["stem.0.weight"])
    never_unfrozen = [k for k in saved if k.split(".")[0] in ("stem", "layer1", "layer2")]
    assert never_unfrozen and all(torch.equal(saved[k], initial[k]) for k in never_unfrozen)
    assert not torch.equal(saved["fc.2.weight"], initial["fc.2.weight"])
    config_json = read_json(result.run_dir / "config.json")
    assert [p["name"] for p in config_json["phases"]] == ["head", "layer4", "layer3"]


def test_resnet18_recipe_stops_at_once_without_weights(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    config = load_config(CONFIGS / "seed003_resnet18_staged.yaml", runs_dir=str(tmp_path / "r"))
    with pytest.raises(PretrainedWeightsMissing, match=r"resnet18-f37072fd\.pth"):
        fit(config)
    assert not (tmp_path / "r").exists()  # failed before any run folder or MediaPipe


def test_the_missing_weights_message_gives_fixes_that_work(tmp_path, monkeypatch) -> None:
    """Each `--set ...` the message offers, given to the same config, builds the model."""
    from torchvision.models import resnet18

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    base = ["model=resnet18", "pretrained=true"]
    with pytest.raises(PretrainedWeightsMissing) as caught:
        build_model(load_config(None, base), 36)
    fixes = re.findall(r"`(--set [^`]+)`", str(caught.value))
    assert fixes == ["--set weights_path=/path/to/resnet18-f37072fd.pth", "--set pretrained=false"]
    weights = tmp_path / "resnet18-f37072fd.pth"
    torch.save(resnet18(weights=None).state_dict(), weights)
    for fix in fixes:
        given = fix.replace("/path/to/resnet18-f37072fd.pth", str(weights)).split()[1::2]
        model = build_model(load_config(None, [*base, *given]), 36)
        assert model.pretrained_loaded == ("weights_path" in fix)


def test_train_and_evaluate_commands(massey_root, tmp_path) -> None:
    from training import evaluate, train

    args = train.get_args_parser().parse_args(
        [
            "--config",
            "landmark_mlp",
            "--set",
            "epochs=2",
            "--runs-dir",
            str(tmp_path / "runs"),
            *slice_args(),
        ]
    )
    result = train.main(args)
    assert result.epochs_done == 2
    output = tmp_path / "eval.json"
    report = evaluate.main(
        evaluate.get_args_parser().parse_args(
            ["--model", str(result.run_dir / "checkpoint.safetensors"), "--output", str(output)]
        )
    )
    assert report["metrics"]["acc"] == pytest.approx(result.test["acc"])
    assert report["split"]["counts"] == read_json(result.run_dir / "config.json")["split"]["counts"]
    ensemble = evaluate.main(
        evaluate.get_args_parser().parse_args(
            [
                "--model",
                str(result.run_dir / "checkpoint"),
                "--model",
                str(result.run_dir / "checkpoint.json"),
                "--split",
                "loso",
                "--test-signer",
                "hand2",
                "--output",
                str(tmp_path / "e2.json"),
            ]
        )
    )
    assert ensemble["ensemble"] and set(ensemble["per_signer"]) == {"hand2"}


def test_sweep_runs_every_grid_point_in_one_group(massey_root, tmp_path) -> None:
    from training import sweep

    grid = tmp_path / "grid.yaml"
    grid.write_text(
        f"defaults: [{CONFIGS / 'landmark_mlp.yaml'}]\nepochs: 1\n"
        "grid:\n  lr: [1.0e-3, 1.0e-2]\n  batch_size: [16]\n"
    )
    record = sweep.main(
        sweep.get_args_parser().parse_args(
            [
                "--config",
                str(grid),
                "--runs-dir",
                str(tmp_path / "runs"),
                "--group",
                "g1",
                *slice_args(),
            ]
        )
    )
    assert [t["params"] for t in record["trials"]] == [
        {"lr": 1e-3, "batch_size": 16},
        {"lr": 1e-2, "batch_size": 16},
    ]
    accs = [t["best_val_acc"] for t in record["ranking"]]
    assert accs == sorted(accs, reverse=True)
    group = tmp_path / "runs" / "g1"
    assert read_json(group / "sweep.json")["best"]["rank"] == 1
    runs = [p for p in group.iterdir() if p.is_dir()]
    assert len(runs) == 2
    assert {read_json(r / "config.json")["group"] for r in runs} == {"g1"}


def test_loso_command_reports_each_signer(massey_root, tmp_path) -> None:
    from training import kfold

    record = kfold.main(
        kfold.get_args_parser().parse_args(
            [
                "--config",
                "landmark_mlp",
                "--split",
                "loso",
                "--signers",
                "hand1",
                "hand2",
                "--set",
                "epochs=1",
                "--runs-dir",
                str(tmp_path / "runs"),
                "--group",
                "loso1",
                *slice_args(),
            ]
        )
    )
    assert [r["name"] for r in record["runs"]] == ["hand1", "hand2"]
    stats = record["stats"]
    assert set(stats["per_signer_acc"]) == {"hand1", "hand2"}
    assert stats["test_acc"]["n"] == 2 and stats["pooled_unseen_signer_acc"] is not None
    for run in record["runs"]:
        split = read_json(Path(run["run_dir"]) / "config.json")["split"]
        assert split["signers"]["test"] == [run["name"]]
        assert run["name"] not in split["signers"]["train"] + split["signers"]["val"]
    assert read_json(tmp_path / "runs" / "loso1" / "kfold.json")["kind"] == "loso"


def test_lopo_command_holds_every_person_out_once(massey_root, tmp_path) -> None:
    from training import kfold

    args = ["--config", "landmark_mlp", "--split", "lopo", "--folds", "2", "--set", "epochs=1",
            "--runs-dir", str(tmp_path / "runs"), "--group", "lopo1", *slice_args()]  # fmt: skip
    record = kfold.main(kfold.get_args_parser().parse_args(args))
    assert [r["name"] for r in record["runs"]] == ["fold0", "fold1"]
    held_out = [
        read_json(Path(r["run_dir"]) / "config.json")["split"]["test_people"]
        for r in record["runs"]
    ]
    assert sorted(held_out[0] + held_out[1]) == [f"hand{n}" for n in range(1, 6)]
    assert record["stats"]["pooled_unseen_signer_acc"] is not None


@pytest.mark.slow
def test_torchrun_two_processes_write_one_run(massey_root, tmp_path) -> None:
    runs = tmp_path / "runs"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "training.train",
        "--config",
        "landmark_mlp",
        "--runs-dir",
        str(runs),
        *slice_args(),
        "--set",
        "epochs=2",
        "--set",
        "wandb=true",  # after _slice_args: the last --set of a key wins
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = list(runs.iterdir())
    config = read_json(run / "config.json")
    assert config["world_size"] == 2
    assert [r["epoch"] for r in read_metrics(run)] == [1, 2]
    assert read_json(run / "summary.json")["status"] == "finished"
    assert len(list((run / "wandb").glob("offline-run-*"))) == 1
    assert load_checkpoint(run / "checkpoint").meta.class_names == SLICE["classes"]


def test_keep_last_reports_the_final_epoch_as_kept_not_as_best(
    massey_root, tmp_path, monkeypatch, capsys
) -> None:
    """Personalisation keeps the last epoch (no early stopping): its run said 'best epoch 30'
    of the last epoch. Validation losses scripted: the best epoch is 2, the kept one 3."""
    scripted = iter([1.0, 0.5, 0.9])
    real_evaluate = fit_module.evaluate
    snapshots: list[dict[str, torch.Tensor]] = []

    def scripted_val_loss(model, *args, **kwargs):
        result = real_evaluate(model, *args, **kwargs)
        if len(snapshots) < 3:  # the validations after each epoch, not the final test
            snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
            result = dataclasses.replace(result, loss=next(scripted))
        return result

    monkeypatch.setattr(fit_module, "evaluate", scripted_val_loss)
    result = fit(tiny(tmp_path, epochs=3, keep="last"))
    summary = read_json(result.run_dir / "summary.json")
    assert (summary["best_epoch"], summary["kept_epoch"], result.best_epoch) == (2, 3, 2)
    rows = read_metrics(result.run_dir)
    assert summary["best_val_acc"] == rows[1]["val_acc"]
    assert read_json(result.run_dir / "checkpoint.json")["extra"]["kept_epoch"] == 3
    saved = load_file(str(result.run_dir / "checkpoint.safetensors"))
    assert all(torch.equal(saved[k], t) for k, t in snapshots[2].items())
    err = capsys.readouterr().err
    assert f"{result.run_dir.name}: finished, kept the final epoch 3 (val_acc" in err
    assert "best by val_loss: epoch 2" in err and "best epoch 3" not in err
