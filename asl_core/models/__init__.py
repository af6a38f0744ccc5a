"""Models: the registry, the architectures of the reference write-ups, the checkpoint format.

`create_model(name, num_classes=..., pretrained=...)` builds any registered model (timm-style);
importing this package registers every family: `seed000` (`custom_cnn`, `custom_mobilenet_v2`,
`custom_resnet18`: channel attention; and the plain `mobilenet_v2`), `seed002` (small CNN,
VGG16), `seed003` (`resnet18` transfer learning, scratch MLP), `seed004` (baseline and enhanced
CNN, CNN+LSTM) and `landmark` (ours). Each model declares its `InputSpec` in its constructor.
`checkpoint` is the one module that writes and reads checkpoints; `onnx_model` runs an exported
ONNX file.

May import: torch, torchvision, safetensors, onnxruntime, `asl_core.io`, `asl_core.vision`.
Never streamlit, plotly, av or fastapi.
"""

from asl_core.models import landmark, seed000, seed002, seed003, seed004  # noqa: F401 (registers)
from asl_core.models.registry import AslModel, create_model, list_models, model_info, register_model

__all__ = ["AslModel", "create_model", "list_models", "model_info", "register_model"]
