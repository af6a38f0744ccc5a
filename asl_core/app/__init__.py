"""Everything the Streamlit pages use: page state, page logic, plots, WebRTC adapters.

The only subpackage that imports streamlit, plotly or av; `Home.py` and `pages/` lay out
widgets and call into it. Logic that needs no browser lives in the subpackages below it and is
tested without Streamlit.
"""
