"""The training loop, in the style of torchvision's references/classification `train.py`.

`fit(config)` does a whole run: load the datasets, split them, fill the feature cache (MediaPipe
once per photo), train, validate every epoch, test the best weights and write the run folder
(`asl_core.runs.format` documents its format) and the W&B run. Pieces usable on their own:
`train_one_epoch`, `evaluate`, `collect_logits`, `summarise_predictions`, `build_model`.

Decisions worth knowing:
- Photos in which MediaPipe finds no hand are left out of training, and counted WRONG in every
  evaluation (validation and test accuracy, recall, F1); they are not in the confusion matrix,
  which has a separate `no_hand` count per true label. Loss is over photos with a hand.
- The checkpoint holds the BEST weights by the monitored metric (`early_stopping.monitor`,
  val_loss by default), whether or not early stopping is enabled; `keep: last` keeps the last
  epoch's instead. `init_checkpoint` starts from a checkpoint of this project.
- Transfer learning (seed 003): `freeze: head` trains only the classifier for `epochs` epochs,
  then each name in `stages` (e.g. [layer4, layer3]) is unfrozen in turn, cumulatively, for up
  to `stage_epochs` epochs; unfrozen backbone layers learn at `finetune_lr`, the head at
  `stage_head_lr` (default: `lr`). Each stage stops early when the monitored metric stops
  improving (always, as in seed 003) and ends by restoring the best weights so far, so a stage
  that only overfits is undone. Frozen layers are kept in eval mode (BatchNorm statistics of
  pretrained layers do not drift while their weights are frozen).
- Resume: after every epoch `state.safetensors` (weights, best weights, optimiser tensors,
  torch RNG) and `state.json` (epoch, phase, early-stopping counters, scheduler, the rest of the
  optimiser, python/numpy RNG, W&B id) are written atomically. `fit(config, resume_dir=...)`
  continues after the last finished epoch; metrics.jsonl keeps exactly one row per epoch. A
  finished run can be extended the same way with more epochs. The process training into a run
  folder holds its lock (`state.run_lock`): a second one is refused. Ctrl-C ends the run
  "interrupted" (not "crashed") and raises `state.TrainingInterrupted`, whose text says where
  it stopped and how to continue.
- Several processes: launched by `torchrun --nproc_per_node=N`, WORLD_SIZE/RANK are read, a
  process group (gloo on CPU, nccl on CUDA) is opened, the model is wrapped in
  DistributedDataParallel and the training side is sharded with DistributedSampler;
  evaluation shards the data and gathers the predictions. Only rank 0 extracts features,
  writes files and talks to W&B: one run folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from asl_core.data.augment import describe
from asl_core.data.features import FeatureCache, extract_features
from asl_core.data.sequences import sequence_split
from asl_core.data.sources import DatasetError, SampleSet, load_datasets
from asl_core.data.splits import Split, make_split
from asl_core.io.files import atomic_write_json
from asl_core.io.progress import ProgressLine, format_seconds
from asl_core.models.checkpoint import require_finite, save_checkpoint
from asl_core.models.registry import AslModel
from asl_core.runs.format import (
    CHECKPOINT_WEIGHTS_FILE,
    CONFIG_FILE,
    SUMMARY_FILE,
    epoch_row,
    now_iso,
    read_metrics,
)
from asl_core.runs.writer import RunLog, git_commit, make_run_name, unique_run_dir
from asl_core.settings import REPO_ROOT, runs_dir
from asl_core.training.calibrate import calibrate_run
from asl_core.training.config import ResumeError, TrainConfig, default_suffix, split_params
from asl_core.training.distributed import DistContext, resolve_device, seed_everything
from asl_core.training.engine import evaluate, train_one_epoch
from asl_core.training.loaders import (
    eval_loader,
    no_hand_record,
    split_datasets,
    train_loader,
)
from asl_core.training.optim import (
    build_model,
    build_optimizer,
    build_scheduler,
    load_initial_weights,
    param_groups,
    plan_phases,
    set_phase_trainable,
)
from asl_core.training.state import (
    BestTracker,
    ResumeState,
    RunResult,
    TrainingInterrupted,
    _json_safe,
    format_metric,
    interrupts_deferred,
    run_lock,
    save_state,
)
from asl_core.vision import views
from asl_core.vision.spec import Representation


@dataclass
class FitData:
    """Samples and split assembled by the caller (personalisation), used instead of the
    config's `datasets` and `split`; `split.name` names the run and is what config.json
    records."""

    samples: SampleSet
    split: Split


EpochHook = Callable[[int, int, dict[str, Any]], None]
"""on_epoch(epoch, total_epochs, metrics row), after each epoch is written."""


ScoresHook = Callable[[AslModel, Path], dict[str, Any]]
"""final_scores(model with the kept weights, run folder) -> extra summary and checkpoint
metrics."""


class _Run:
    """One call of `fit`: holds the pieces so each step stays a short method."""

    def __init__(
        self, config: TrainConfig, resume_dir: Path | None, command: Sequence[str] | None
    ) -> None:
        self.config = config
        self.resume_dir = Path(resume_dir).resolve() if resume_dir else None
        self.command = list(command) if command is not None else list(sys.argv)
        self.data: FitData | None = None
        self.record: dict[str, Any] = {}
        self.on_epoch: EpochHook | None = None
        self.final_scores: ScoresHook | None = None
        self.device = resolve_device(config.device)
        self.dist = DistContext.from_env(self.device)
        self.started_at = now_iso()
        self.init_record: dict[str, Any] | None = None
        self.log: RunLog | None = None
        self.at_epoch: tuple[int, int] | None = None  # (epoch in progress, of total)
        self.saved_epoch = 0  # the epoch of the resume state on disk

    # -- setup --

    def _run_dir(self) -> Path:
        if self.resume_dir is not None:
            return self.resume_dir
        run_dir = None
        if self.dist.is_main:
            root = Path(self.config.runs_dir) if self.config.runs_dir else runs_dir()
            name = self.config.run_name or make_run_name(
                self.config.model, self.split.name, default_suffix(self.config)
            )
            run_dir = unique_run_dir(root.resolve(), name)
            run_dir.mkdir(parents=True)
        return Path(self.dist.broadcast(str(run_dir) if run_dir else None))

    def _config_json(self, extra: dict[str, Any]) -> dict[str, Any]:
        config = self.config
        data = config.to_dict()
        data.update(
            {
                "run_name": self.run_dir.name,
                "representation": self.representation,
                "split": self.split.describe(self.samples.samples),
                "class_names": self.samples.class_names,
                "num_classes": len(self.samples.class_names),
                "input_spec": self.model.input_spec.to_dict(),
                "sources": self.samples.sources,
                "selection": self.samples.selection,
                "augmentation_applied": describe(
                    config.augmentation, self.model.input_spec, self.representation
                ),
                "phases": [asdict(p) for p in self.phases],
                "pretrained_loaded": bool(self.model.pretrained_loaded),
                **({"initialised_from": self.init_record} if self.init_record else {}),
                "pipeline_version": views.PIPELINE_VERSION,
                "world_size": self.dist.world_size,
                "device": str(self.device),
                "torch_version": torch.__version__,
                "started_at": self.started_at,
                "command": self.command,
                "git_commit": git_commit(REPO_ROOT),
                **self.record,
                **extra,
            }
        )
        return _json_safe(data)

    # -- the run --

    def run(self) -> RunResult:
        with contextlib.ExitStack() as held:
            try:
                return self._open_and_run(held)
            except KeyboardInterrupt:
                run_dir = self.resume_dir or getattr(self, "run_dir", None)
                stop = TrainingInterrupted.at(run_dir, self.at_epoch, self.saved_epoch)
                if self.log is not None:
                    self.log.finish("interrupted", epochs_done=self.saved_epoch,
                                    resume_command=stop.command)  # fmt: skip
                raise stop.without_empty_folder() from None

    def _open_and_run(self, held: contextlib.ExitStack) -> RunResult:
        if self.resume_dir is not None:
            if not (self.resume_dir / CONFIG_FILE).is_file():
                raise ResumeError(f"{self.resume_dir} is not a run folder (no {CONFIG_FILE})")
            if self.dist.is_main:  # one writer per run folder (RunBusyError otherwise)
                held.enter_context(run_lock(self.resume_dir))
            self.resume: ResumeState | None = ResumeState.read(self.resume_dir)
            self.saved_epoch = int(self.resume.info["epoch"])
            self.resume.refuse_if_finished(self.resume_dir, self.config, plan_phases(self.config))
        else:
            self.resume = None
        self._prepare()
        self.run_dir = self._run_dir()
        if self.resume_dir is None and self.dist.is_main:
            held.enter_context(run_lock(self.run_dir))
        self.log = RunLog(
            self.run_dir,
            active=self.dist.is_main,
            use_wandb=self.config.wandb,
            project=self.config.project,
            group=self.config.group,
            job_type=self.config.job_type,
        )
        try:
            return self._run_logged()
        except KeyboardInterrupt:
            raise  # `run` records it as interrupted
        except BaseException as error:
            self.log.finish("crashed", error=f"{type(error).__name__}: {error}")
            raise

    def _prepare(self) -> None:
        """Data, model (and its starting weights), split and phases: everything that can fail
        fast, before a run folder exists and before MediaPipe runs for minutes."""
        config = self.config
        self.dist.set_threads(config.threads)
        seed_everything(config.seed)
        if self.data is not None:
            self.samples: SampleSet = self.data.samples
        else:
            self.samples = load_datasets(
                config.datasets,
                classes=config.classes,
                limit=config.limit_per_class,
                seed=config.seed,
                verify=config.verify_datasets,
                dataset_limits=config.dataset_limits, min_classes=2)  # fmt: skip
        names = self.samples.class_names
        model = build_model(config, len(names))  # a missing weights file fails here
        if config.init_checkpoint and self.resume is None:
            self.init_record = load_initial_weights(model, config, names)
        elif self.resume is not None and self.resume_dir is not None:
            previous = json.loads((self.resume_dir / CONFIG_FILE).read_text(encoding="utf-8"))
            self.init_record = previous.get("initialised_from")
        self.model = model.to(self.device)
        spec = self.model.input_spec
        self.representation = (
            Representation.LANDMARKS if spec.kind == "landmarks" else spec.representation
        )
        if self.data is not None:
            self.split: Split = self.data.split
        elif spec.kind == "sequence":  # whole windows of consecutive frames go to one side
            self.split = sequence_split(self.samples.samples, spec.sequence_length,
                                        config.split.name, **split_params(config))  # fmt: skip
        else:
            self.split = make_split(self.samples.samples, config.split.name, **split_params(config))
        for side in ("train", "val", "test"):
            if not self.split.sides()[side]:
                raise DatasetError(f"the {self.split.name} split left the {side} side empty")
        self.phases = plan_phases(config)

    def _run_logged(self) -> RunResult:
        config = self.config
        kept_rows: list[dict[str, Any]] = []
        previous_summary: dict[str, Any] = {}
        if self.resume is not None:
            done = int(self.resume.info["epoch"])
            kept_rows = [r for r in read_metrics(self.run_dir) if int(r["epoch"]) <= done]
            summary_path = self.run_dir / SUMMARY_FILE
            if summary_path.is_file():
                previous_summary = json.loads(summary_path.read_text(encoding="utf-8"))
                for ended in ("error", "resume_command"):  # how the session it resumes ended
                    previous_summary.pop(ended, None)
        if self.dist.is_main:
            # A first config.json and a "running" summary before MediaPipe: the run browser
            # shows the run while features are extracted; rewritten with no-hand counts below.
            atomic_write_json(self.run_dir / CONFIG_FILE, self._config_json({}))
            atomic_write_json(
                self.run_dir / SUMMARY_FILE,
                {
                    **previous_summary,
                    "status": "running",
                    "pid": os.getpid(),
                    "hostname": socket.gethostname(),
                    "updated_at": now_iso(),
                },
            )
        cache = FeatureCache(size=config.cache_size)
        if self.dist.is_main:
            table = extract_features(
                self.samples.samples,
                cache,
                workers=config.extract_workers,
                progress=config.progress,
            )
        self.dist.barrier()  # the other processes read what rank 0 cached
        if not self.dist.is_main:
            table = extract_features(self.samples.samples, cache, workers=1, progress=False)
        no_hand = no_hand_record(table, self.split)
        extraction = table.report.to_dict()
        extraction.pop("no_hand"), extraction.pop("unreadable")
        config_json = self._config_json({"no_hand": no_hand, "extraction": extraction})
        self.log.start(
            config_json,
            resumed_rows=kept_rows,
            wandb_id=(self.resume.info.get("wandb_id") if self.resume else None),
            summary={**previous_summary, "no_hand": no_hand},
        )
        spec, names = self.model.input_spec, self.samples.class_names
        datasets = split_datasets(config, table, self.split, spec, names)
        if len(datasets["train"]) == 0:
            raise DatasetError("no training photo has a detectable hand")
        loader, sampler, self.generator = train_loader(config, datasets["train"], self.dist)
        val_loader = eval_loader(config, datasets["val"], self.dist)
        self.val_set = datasets["val"]  # every validation photo: `calibrate_run` reads them all
        test_loader = eval_loader(config, datasets["test"], self.dist)
        criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        import sklearn.metrics  # noqa: F401  (imported now, not inside epoch 1's timing)

        history = self._train_phases(criterion, loader, sampler, val_loader, kept_rows)
        return self._finish(criterion, test_loader, history, no_hand)

    def _train_phases(
        self,
        criterion: nn.Module,
        train_loader: DataLoader,
        sampler: Any,
        val_loader: DataLoader,
        history: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        config, model = self.config, self.model
        early = config.early_stopping
        self.best = BestTracker(early.monitor, early.min_delta, keep=config.keep)
        start_phase, start_phase_epoch, bad_epochs, epoch = 0, 0, 0, 0
        self.stopped_early: list[str] = []
        if self.resume is not None:
            info = self.resume.info
            self.resume.restore_model(model, self.best)
            start_phase = int(info["phase_index"])
            start_phase_epoch = int(info["phase_epoch"])
            bad_epochs = int(info["bad_epochs"])
            epoch = int(info["epoch"])
            self.stopped_early = list(info.get("stopped_early", []))
        total_epochs = epoch + sum(p.epochs for p in self.phases[start_phase:]) - start_phase_epoch
        epoch_times: list[float] = []
        for phase_index in range(start_phase, len(self.phases)):
            phase = self.phases[phase_index]
            resuming = self.resume is not None and phase_index == start_phase
            phase_epoch = start_phase_epoch if resuming else 0
            if not resuming:
                bad_epochs = 0
            early = config.early_stopping
            # Seed 003: every fine-tuning stage stops early, whatever `enabled` says.
            stops_early = early.enabled or phase.name not in ("full", "head")
            if resuming and stops_early and bad_epochs >= early.patience:
                phase_epoch = phase.epochs  # it had stopped early: go on with the next phase
            if phase_epoch < phase.epochs:
                set_phase_trainable(model, phase.name, config.stages)
                optimizer = build_optimizer(param_groups(model, config, phase.name), config)
                scheduler = build_scheduler(optimizer, config, phase.epochs)
                if resuming and phase_epoch > 0:
                    self.resume.restore_optimizer(optimizer, scheduler)
                    self.resume.restore_rng()
                trained = model
                if self.dist.enabled:
                    trained = nn.parallel.DistributedDataParallel(model)
            while phase_epoch < phase.epochs:
                epoch += 1
                phase_epoch += 1
                self.at_epoch = (epoch, total_epochs)
                started = time.monotonic()
                if isinstance(sampler, DistributedSampler):
                    sampler.set_epoch(epoch)
                elif self.generator is not None:
                    self.generator.manual_seed(config.seed * 1000 + epoch)
                # Augmentation draws from the global RNG: seeded per epoch (and rank), so a
                # resumed run sees the same augmentations as an uninterrupted one.
                torch.manual_seed(config.seed * 1000 + epoch * 10 + self.dist.rank)
                progress = ProgressLine(
                    len(train_loader),
                    f"epoch {epoch}/{total_epochs} [{phase.name}]",
                    enabled=config.progress and self.dist.is_main,
                    unit="batches",
                )
                train = train_one_epoch(
                    trained,
                    criterion,
                    optimizer,
                    train_loader,
                    self.device,
                    dist=self.dist,
                    progress=progress,
                )
                lr = optimizer.param_groups[0]["lr"]  # the head's (or the only) group
                rates = {g.get("name"): g["lr"] for g in optimizer.param_groups}
                if scheduler is not None:
                    scheduler.step()
                val = evaluate(
                    model, criterion, val_loader, self.device, self.samples.class_names,
                    dist=self.dist,
                )  # fmt: skip
                elapsed = time.monotonic() - started
                epoch_times.append(elapsed)
                row = _json_safe(
                    epoch_row(
                        epoch, phase.name, train_loss=train["loss"], train_acc=train["acc"],
                        train_precision=train["precision"], train_recall=train["recall"],
                        train_f1=train["f1"], val_loss=val.loss, val_acc=val.accuracy,
                        val_precision=val.precision, val_recall=val.recall, val_f1=val.f1,
                        lr=lr, lr_backbone=rates.get("backbone"), seconds=elapsed,
                    )
                )  # fmt: skip
                history = [r for r in history if int(r["epoch"]) != epoch] + [row]
                if self.best.update(epoch, row, model):
                    bad_epochs = 0
                else:
                    bad_epochs += 1
                wandb_extra = {"stage_index": phase_index, "train/images": train["count"]}
                wandb_extra |= {f"train/{k}": train[k] for k in ("precision", "recall", "f1")}
                for group in optimizer.param_groups[1:]:
                    wandb_extra[f"lr_{group.get('name', 'group')}"] = group["lr"]
                with interrupts_deferred():  # printed, logged and kept: one unit (Ctrl-C waits)
                    left = (total_epochs - epoch) * (sum(epoch_times) / len(epoch_times))
                    progress.close(
                        extra=f"val_loss {format_metric(val.loss)} val_acc {val.accuracy:.3f} "
                        f"({elapsed:.1f}s, about {format_seconds(left)} left at most)"
                    )
                    self.log.log_epoch(row, val.confusion_json(epoch, "val"),
                                       wandb_extra=wandb_extra,
                                       predictions=(val.y_true, val.y_pred))  # fmt: skip
                    should_stop = stops_early and bad_epochs >= early.patience
                    if should_stop and phase_epoch < phase.epochs:
                        self.stopped_early.append(phase.name)
                    info = {"epoch": epoch, "phase_index": phase_index, "phase_name": phase.name,
                            "phase_epoch": phase_epoch, "bad_epochs": bad_epochs,
                            "stopped_early": self.stopped_early, "seed": config.seed,
                            "wandb_id": self.log.wandb_id,
                            "world_size": self.dist.world_size}  # fmt: skip
                    state = (self.run_dir, model, optimizer, scheduler, self.best, info)
                    if self.dist.is_main and not save_state(*state):
                        self.saved_epoch = epoch  # written: Ctrl-C from here on keeps this epoch
                self.log.update_summary(
                    status="running",
                    epochs_done=epoch,
                    best_epoch=self.best.epoch,
                    best_val_acc=self.best.val_acc,
                    best_val_loss=self.best.val_loss,
                )
                if self.on_epoch is not None:
                    self.on_epoch(epoch, total_epochs, row)
                # A diverged run stops at its first NaN epoch (the row above shows it) instead
                # of training NaN weights to the last epoch; the run ends "crashed".
                require_finite(model.state_dict(), f"after epoch {epoch} the model's weights")
                if should_stop:
                    break
            # End of a phase: go back to the best weights so far (seed 003: "reverting the
            # model to its last best-performing configuration") before the next stage.
            self.best.restore(model)
        self.epochs_done = epoch
        return history

    def _finish(
        self,
        criterion: nn.Module,
        test_loader: DataLoader,
        history: list[dict[str, Any]],
        no_hand: dict[str, Any],
    ) -> RunResult:
        config, model = self.config, self.model
        self.best.restore(model)
        names = self.samples.class_names
        test = evaluate(model, criterion, test_loader, self.device, names, dist=self.dist)
        test_metrics = _json_safe(test.metrics())
        scores = _json_safe(self.final_scores(model, self.run_dir)) if self.final_scores else {}
        calibrated = calibrate_run(model, self.val_set, self.split, self.samples, self.device)
        self.log.log_test(
            test_metrics,
            test.confusion_json(None, "test"),
            test.report,
            step=self.epochs_done + 1,
            predictions=(test.y_true, test.y_pred),
        )
        checkpoint = None
        split_record = self.split.describe(self.samples.samples)
        if self.dist.is_main:
            save_checkpoint(
                self.run_dir / "checkpoint",
                model,
                names,
                architecture=config.model,
                arch_kwargs=config.arch_kwargs,
                data={
                    "datasets": self.samples.sources,
                    "selection": self.samples.selection,
                    "split": split_record,
                    "counts": split_record["counts"],
                    "no_hand": {k: v for k, v in no_hand.items() if k != "files"},
                },
                metrics={f"test_{k}": v for k, v in test_metrics.items()}
                | {"best_val_acc": self.best.val_acc, "best_val_loss": self.best.val_loss}
                | scores,
                extra={
                    "run_name": self.run_dir.name, "representation": self.representation,
                    "pipeline_version": views.PIPELINE_VERSION, "cache_size": config.cache_size,
                    "best_epoch": self.best.epoch, "kept_epoch": self.best.kept_epoch,
                    "epochs_done": self.epochs_done, "pretrained": config.pretrained,
                    "initialised_from": self.init_record, "kept_weights": config.keep,
                    "stages": [p.name for p in self.phases], "optimizer": config.optimizer,
                    "lr": config.lr, "batch_size": config.batch_size, "seed": config.seed,
                    "trained_at": now_iso(), **calibrated.checkpoint_extra(), **self.record,
                },
            )  # fmt: skip
            checkpoint = self.run_dir / CHECKPOINT_WEIGHTS_FILE
        status = "stopped_early" if self.stopped_early else "finished"
        self.log.finish(
            status,
            epochs_done=self.epochs_done,
            best_epoch=self.best.epoch,
            best_val_acc=self.best.val_acc,
            best_val_loss=self.best.val_loss,
            kept_epoch=self.best.kept_epoch,
            test_acc=test_metrics["acc"],
            test_precision=test_metrics["precision"],
            test_recall=test_metrics["recall"],
            test_f1=test_metrics["f1"],
            test_loss=test_metrics["loss"],
            test_count=test_metrics["count"],
            stopped_early_stages=self.stopped_early,
            no_hand=no_hand,
            **scores,
            **calibrated.summary_fields(),
        )
        if self.dist.is_main:  # also with progress: false, the one line that says how it went
            kept = [r["val_acc"] for r in history if r["epoch"] == self.best.kept_epoch]
            print(
                f"{self.run_dir.name}: {status}, {self.best.describe(kept[0] if kept else None)}"
                f", test_acc {test.accuracy:.4f} on {test.count} photos ({test.no_hand} "
                f"without a hand, counted wrong); {calibrated.sentence()}",
                file=sys.stderr,
            )
        return RunResult(
            run_dir=self.run_dir,
            run_name=self.run_dir.name,
            status=status,
            epochs_done=self.epochs_done,
            best_epoch=self.best.epoch,
            best_val_acc=self.best.val_acc,
            best_val_loss=self.best.val_loss,
            test=test_metrics,
            history=history,
            checkpoint=checkpoint,
            no_hand=no_hand,
            class_names=names,
        )


def fit(
    config: TrainConfig,
    *,
    resume_dir: str | Path | None = None,
    command: Sequence[str] | None = None,
    data: FitData | None = None,
    record: dict[str, Any] | None = None,
    on_epoch: EpochHook | None = None,
    final_scores: ScoresHook | None = None,
) -> RunResult:
    """Train one run end to end (see the module doc); resume_dir continues a run folder.

    `config.init_checkpoint` starts from a checkpoint (classifier rows mapped by class name).
    For callers that assemble their own data (personalisation): `data` replaces the config's
    datasets and split, `record` adds keys to config.json and the checkpoint's `extra`,
    `on_epoch` follows the epochs, and `final_scores` measures the kept weights before they
    are saved (its values join the summary and the checkpoint's metrics). torch's thread
    count is restored afterwards. Raises ConfigError, ResumeError (RunBusyError when another
    process trains into the run folder), CheckpointError, DatasetError or
    PretrainedWeightsMissing with a message for the user.
    """
    run = _Run(config, Path(resume_dir) if resume_dir else None, command)
    run.data, run.record = data, dict(record or {})
    run.on_epoch, run.final_scores = on_epoch, final_scores
    threads = torch.get_num_threads()
    try:
        return run.run()
    finally:
        run.dist.shutdown()
        torch.set_num_threads(threads)
