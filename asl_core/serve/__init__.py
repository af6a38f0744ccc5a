"""The HTTP API (FastAPI): POST /predict, GET /health, GET /labels.

The only subpackage that imports fastapi. May import `asl_core.inference` and what it imports.
"""
