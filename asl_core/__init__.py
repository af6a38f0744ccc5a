"""asl_core: recognise American Sign Language hand signs from photos and video.

Subpackages, by job (each `__init__` says what lives there and what it may import):

- `io`: decoding photos safely, atomic writes, hashes, progress lines
- `vision`: MediaPipe hands, what each model sees, model input tensors
- `models`: the model registry, the seed architectures, the checkpoint format, ONNX runtime
- `data`: dataset registry and readers, person-level splits, feature cache, augmentation
- `inference`: the Predictor, the stream recogniser and the speller
- `training`: config, epoch loop, distributed runs, resume, `fit`, personalisation
- `runs`: the run-folder format, its writer, and readers for local folders and W&B
- `export`: ONNX / TorchScript export, quantisation, pruning
- `capture`: capturing a user's own photos
- `serve`: the HTTP API (the only user of fastapi)
- `app`: everything Streamlit (the only user of streamlit, plotly and av)

`labels` (class names and filters) and `settings` (folders from the environment) are shared by
all of them.
"""

__version__ = "0.1.0"
