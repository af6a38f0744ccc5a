"""Answers from models: the `Predictor` (photos), the stream recogniser, the speller, the J/Z
motion rule and word suggestions (video), and the practice drill (`practice`).

May import: `asl_core.io`, `asl_core.vision`, `asl_core.models`, torch, numpy, and
spellchecker (pyspellchecker's offline English word list, in `words` only).
Never streamlit, av or fastapi: the pages and the HTTP API call into this package.
"""
