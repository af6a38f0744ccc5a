"""Deployment formats: ONNX and TorchScript export, int8 quantisation, pruning.

May import: `asl_core.io`, `asl_core.vision`, `asl_core.models`, `asl_core.data`, torch, onnx,
onnxruntime. Never streamlit.
"""
