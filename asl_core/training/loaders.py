"""The datasets and DataLoaders of a run, and what it records about photos without a hand."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Subset

from asl_core.data.augment import eval_preset, train_preset
from asl_core.data.dataset import AslDataset
from asl_core.data.features import FeatureTable
from asl_core.data.sequences import SequenceDataset, side_sequences
from asl_core.data.splits import Split
from asl_core.training.config import TrainConfig
from asl_core.training.distributed import DistContext
from asl_core.vision.spec import InputSpec


def loader_batches(count: int, batch_size: int) -> tuple[bool, int]:
    """(drop_last, batches): drop a last batch of ONE sample, which BatchNorm cannot train on."""
    drop_last = count > 1 and count % batch_size == 1
    batches = count // batch_size if drop_last else math.ceil(count / batch_size)
    return drop_last, batches


def split_datasets(
    config: TrainConfig,
    table: FeatureTable,
    split: Split,
    spec: InputSpec,
    class_names: list[str],
) -> dict[str, AslDataset | SequenceDataset]:
    """train (augmented, photos without a hand left out), val and test (every photo); for a
    sequence model, the windows of consecutive frames of each side (`sequence_split`)."""
    representation = spec.representation if spec.kind != "landmarks" else None
    train_tf = train_preset(spec, config.augmentation, representation)
    eval_tf = eval_preset(spec)
    augmentation = config.augmentation
    replaces = spec.kind == "image" and augmentation.enabled and augmentation.background > 0
    black = augmentation.background_datasets if replaces else ()
    if spec.kind == "sequence":
        length = spec.sequence_length
        windows = {
            side: side_sequences(table.samples, length, idx) for side, idx in split.sides().items()
        }
        return {
            "train": SequenceDataset(table, windows["train"], class_names, spec, train_tf,
                                     include_no_hand=False),
            "val": SequenceDataset(table, windows["val"], class_names, spec, eval_tf),
            "test": SequenceDataset(table, windows["test"], class_names, spec, eval_tf),
        }  # fmt: skip
    train = AslDataset(table, split.train, class_names, spec, train_tf, include_no_hand=False,
                       black_background=black)  # fmt: skip
    return {
        "train": train,
        "val": AslDataset(table, split.val, class_names, spec, eval_tf),
        "test": AslDataset(table, split.test, class_names, spec, eval_tf),
    }


def eval_loader(
    config: TrainConfig, dataset: AslDataset | SequenceDataset, dist: DistContext
) -> DataLoader:
    """Each process evaluates every world_size-th sample; engine.collect_logits gathers them."""
    shard: Any = dataset
    if dist.enabled:
        shard = Subset(dataset, range(dist.rank, len(dataset), dist.world_size))
    return DataLoader(
        shard, batch_size=max(config.batch_size, 64), shuffle=False, num_workers=config.num_workers
    )


def train_loader(
    config: TrainConfig, dataset: AslDataset | SequenceDataset, dist: DistContext
) -> tuple[DataLoader, DistributedSampler | RandomSampler, torch.Generator | None]:
    """(loader, sampler, generator): one process shuffles with `generator` (the loop seeds it
    per epoch); several shard with a DistributedSampler (`set_epoch` per epoch)."""
    generator = None
    if dist.enabled:
        sampler: Any = DistributedSampler(
            dataset,
            num_replicas=dist.world_size,
            rank=dist.rank,
            shuffle=True,
            seed=config.seed,
        )
        per_rank = math.ceil(len(dataset) / dist.world_size)
    else:
        generator = torch.Generator()
        sampler = RandomSampler(dataset, generator=generator)
        per_rank = len(dataset)
    drop_last, _ = loader_batches(per_rank, config.batch_size)
    loader = DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.num_workers,
        drop_last=drop_last,
    )
    return loader, sampler, generator


def no_hand_record(table: FeatureTable, split: Split) -> dict[str, Any]:
    """config.json's `no_hand`: photos without a hand, per side, and the rule applied."""
    by_side = {
        side: int(sum(1 for i in idx if not table.has_hand[i]))
        for side, idx in split.sides().items()
    }
    used = sorted(set(split.train) | set(split.val) | set(split.test))
    used_sources = {table.samples[i].source for i in used}
    return {
        "count": int(sum(1 for i in used if not table.has_hand[i])),
        "by_side": by_side,
        "files": table.no_hand_sources(used),
        "unreadable": [u for u in table.report.unreadable if u["source"] in used_sources],
        "rule": "left out of training; counted as wrong predictions in val and test",
    }
