"""Training runs on disk and on W&B: the run-folder format, its writer and its readers.

`format` is the one definition of a run folder (file names, statuses, the metrics row), used by
`writer` (training) and `local` (the Runs page); `records` is what a run is to a reader;
`tables` builds the Runs page's tables; `wandb_source` reads a W&B project online.

May import: `asl_core.io`, pandas, numpy, wandb (in `writer` and `wandb_source`). Never torch
at import time, never streamlit.
"""
