"""Answers from models: the `Predictor` (photos), the stream recogniser and the speller (video).

May import: `asl_core.io`, `asl_core.vision`, `asl_core.models`, torch, numpy.
Never streamlit, av or fastapi: the pages and the HTTP API call into this package.
"""
