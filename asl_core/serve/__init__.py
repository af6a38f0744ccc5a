"""The HTTP API (FastAPI): POST /predict, GET /health, GET /labels.

The only subpackage that imports fastapi. May import `asl_core.inference` and what it imports,
and `asl_core.runs` (what a run folder given as the model is, when it holds none).
"""
