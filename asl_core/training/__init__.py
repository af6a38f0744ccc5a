"""Training: configuration, the epoch loop, distributed runs, resume state, `fit`, personalising.

`config` is the schema of a training run; `engine` trains and evaluates one epoch; `optim`
decides what trains in each phase; `state` keeps the best weights and the resume state; `fit`
runs a whole training and writes the run folder (through `asl_core.runs.writer`);
`loaders` builds the datasets and DataLoaders; `personalise` adapts a checkpoint to a user's own
photos (`personal_data` picks the photos and holds back whole bursts, `compare` scores before and
after); `jobs` runs it on a background thread that outlives the page that started it;
`calibrate` fits a finished run's temperature and threshold when its validation side is people
it never trained on (with `asl_core.inference.calibration`, the shipped model's rule).

May import: `asl_core.io`, `asl_core.vision`, `asl_core.models`, `asl_core.data`,
`asl_core.runs`, `asl_core.inference`, torch, wandb. Never streamlit.
"""
