"""Real-browser tests: the app under `streamlit run`, driven by Debian's Chromium."""
