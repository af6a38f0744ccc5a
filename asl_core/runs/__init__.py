"""Training runs on disk and on W&B: the run-folder format, its writer and its readers.

`format` is the one definition of a run folder (file names, written and inferred statuses, the
metrics row, the confusion-matrix object), used by `writer` (training) and by the readers
`local` (run folders, cached for thousands of runs) and `records` (what a run is to a reader);
`tables` builds the Runs page's tables; `wandb_source` reads a W&B project online.

May import: `asl_core.io`, pandas, numpy, wandb (in `writer` and `wandb_source`), and
`asl_core.models` (a checkpoint's metadata) only inside the function of `local` that reads it
for a run that is opened. Never torch at import time, never streamlit.
"""
