"""Command-line training, in the style of torchvision's references/classification.

    python -m training.train    --config training/configs/NAME.yaml [--set key=value ...]
    python -m training.sweep    --config training/configs/seed004_grid.yaml
    python -m training.kfold    --config ... [--folds 5 | --split loso]
    python -m training.evaluate --model runs/RUN/checkpoint.safetensors [--model ...] --data ...

Each module has `get_args_parser()` and `main(args)`; the work is in `asl_core.training`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table (numbers to 4 significant digits) for the command-line summaries."""

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    cells = [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)
