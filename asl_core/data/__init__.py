"""Training data: the dataset registry and readers, splits by person, features, augmentation.

`sources` reads registered datasets, folders, npz files and landmark CSVs into `Sample`s (the
last two formats, reader and writer, in `arrays`);
`splits` makes random, k-fold, leave-one-signer-out and leave-one-dataset-out splits; `features`
caches MediaPipe's output per photo; `dataset` is the torch `Dataset`; `sequences` builds windows
of consecutive video frames for sequence models; `augment` holds the transform presets;
`typical` picks a class's most typical photo (the practice page's reference handshape).

May import: `asl_core.io`, `asl_core.vision`, `asl_core.models`, torch, numpy, pandas.
"""
