"""One epoch of training and one pass of evaluation, with the metrics they report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from asl_core.io.progress import ProgressLine
from asl_core.runs.format import confusion_record
from asl_core.training.distributed import DistContext
from asl_core.training.optim import freeze_frozen_modules


def train_one_epoch(
    model: nn.Module,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: DataLoader,
    device: torch.device,
    *,
    dist: DistContext | None = None,
    progress: ProgressLine | None = None,
) -> dict[str, float]:
    """One pass over the training side: loss and accuracy, and the macro precision, recall
    and F1 of the predictions made while training (seed 004 logs them for training too; as
    Keras and seed 004 do, each batch is scored before its update, in train mode, so dropout
    and augmentation are in them). Summed or gathered over every process."""
    model.train()
    freeze_frozen_modules(model)
    loss_sum, correct, count = 0.0, 0.0, 0.0
    truths: list[torch.Tensor] = []
    predictions: list[torch.Tensor] = []
    for inputs, labels, _has_input in loader:
        inputs, labels = inputs.to(device), labels.to(device)
        logits = model(inputs)
        loss = criterion(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        batch = labels.shape[0]
        predicted = logits.detach().argmax(1)
        loss_sum += float(loss.detach()) * batch
        correct += float((predicted == labels).sum())
        count += batch
        truths.append(labels.cpu())
        predictions.append(predicted.cpu())
        if progress is not None:
            progress.advance(extra=f"loss {loss_sum / count:.4f} acc {correct / count:.3f}")
    dist = dist or DistContext()
    loss_sum, correct, count = dist.sum([loss_sum, correct, count])
    y_true = torch.cat(truths).numpy() if truths else np.zeros(0, np.int64)
    y_pred = torch.cat(predictions).numpy() if predictions else np.zeros(0, np.int64)
    if dist.enabled:
        gathered = dist.gather((y_true, y_pred))
        y_true = np.concatenate([g[0] for g in gathered])
        y_pred = np.concatenate([g[1] for g in gathered])
    precision, recall, f1 = macro_scores(y_true, y_pred)
    return {
        "loss": loss_sum / count if count else float("nan"),
        "acc": correct / count if count else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "count": int(count),
    }


def macro_scores(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float, float]:
    """Macro precision, recall and F1 (sklearn, zero_division=0) over the classes present in
    the truth or the predictions; -1 in `y_pred` (no hand found) is a wrong answer, no class."""
    from sklearn.metrics import precision_recall_fscore_support

    present = sorted(set(y_true.tolist()) | set(y_pred[y_pred >= 0].tolist()))
    if not present:
        return 0.0, 0.0, 0.0
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=present, average="macro", zero_division=0
    )
    return float(precision), float(recall), float(f1)


@torch.no_grad()
def collect_logits(
    model: nn.Module, loader: DataLoader, device: torch.device, dist: DistContext | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(logits N x C, labels N, has_input N) over the loader, gathered from every process."""
    model.eval()
    logits, labels, valid = [], [], []
    for inputs, targets, has_input in loader:
        logits.append(model(inputs.to(device)).float().cpu())
        labels.append(targets)
        valid.append(has_input)
    parts = (
        torch.cat(logits).numpy() if logits else np.zeros((0, 0), np.float32),
        torch.cat(labels).numpy() if labels else np.zeros(0, np.int64),
        torch.cat(valid).numpy().astype(bool) if valid else np.zeros(0, bool),
    )
    if dist is None or not dist.enabled:
        return parts
    gathered = dist.gather(parts)
    non_empty = [g for g in gathered if len(g[1])]
    if not non_empty:
        return parts
    return (
        np.concatenate([g[0] for g in non_empty]),
        np.concatenate([g[1] for g in non_empty]),
        np.concatenate([g[2] for g in non_empty]),
    )


@dataclass
class EvalResult:
    """Metrics of one evaluation; photos without a hand count as wrong (y_pred -1)."""

    class_names: list[str]
    loss: float | None
    accuracy: float
    precision: float
    recall: float
    f1: float
    confusion: np.ndarray
    no_hand_per_class: np.ndarray
    report: dict[str, dict[str, float]]
    y_true: np.ndarray
    y_pred: np.ndarray

    @property
    def count(self) -> int:
        return len(self.y_true)

    @property
    def no_hand(self) -> int:
        return int(self.no_hand_per_class.sum())

    def metrics(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "acc": self.accuracy,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "count": self.count,
            "no_hand": self.no_hand,
        }

    def confusion_json(self, epoch: int | None, split: str) -> dict[str, Any]:
        """The run folder's confusion-matrix object (`asl_core.runs.format`)."""
        return confusion_record(
            self.class_names,
            self.confusion,
            epoch=epoch,
            split=split,
            no_hand=self.no_hand_per_class.tolist(),
        )


def summarise_predictions(
    probabilities_or_logits: np.ndarray,
    labels: np.ndarray,
    has_input: np.ndarray,
    class_names: Sequence[str],
    *,
    loss: float | None = None,
) -> EvalResult:
    """Accuracy, macro precision/recall/F1 (sklearn, zero_division=0), confusion matrix and a
    per-class report. Macro averages run over the classes present in the truth or the
    predictions (a lodo test side shows only some classes)."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    num_classes = len(class_names)
    labels = np.asarray(labels, dtype=np.int64)
    has_input = np.asarray(has_input, dtype=bool)
    y_pred = np.full(len(labels), -1, dtype=np.int64)
    if len(labels) and has_input.any():
        y_pred[has_input] = np.asarray(probabilities_or_logits)[has_input].argmax(1)
    accuracy = float((y_pred == labels).mean()) if len(labels) else 0.0
    precision, recall, f1 = macro_scores(labels, y_pred)
    all_classes = list(range(num_classes))
    p_each, r_each, f_each, support = precision_recall_fscore_support(
        labels, y_pred, labels=all_classes, average=None, zero_division=0
    )
    report = {
        name: {
            "precision": float(p_each[i]),
            "recall": float(r_each[i]),
            "f1": float(f_each[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    }
    matrix = confusion_matrix(labels[has_input], y_pred[has_input], labels=all_classes)
    no_hand = np.bincount(labels[~has_input], minlength=num_classes)
    return EvalResult(
        class_names=list(class_names),
        loss=loss,
        accuracy=accuracy,
        precision=float(precision),
        recall=float(recall),
        f1=float(f1),
        confusion=matrix,
        no_hand_per_class=no_hand,
        report=report,
        y_true=labels,
        y_pred=y_pred,
    )


def evaluate(
    model: nn.Module,
    criterion: nn.Module,
    loader: DataLoader,
    device: torch.device,
    class_names: Sequence[str],
    *,
    dist: DistContext | None = None,
) -> EvalResult:
    """Loss (over photos with a hand), accuracy, macro P/R/F1, confusion, per-class report."""
    logits, labels, has_input = collect_logits(model, loader, device, dist)
    loss = None
    if has_input.any():
        with torch.no_grad():
            loss = float(
                criterion(torch.from_numpy(logits[has_input]), torch.from_numpy(labels[has_input]))
            )
    return summarise_predictions(logits, labels, has_input, class_names, loss=loss)
