"""ASL hand-sign recogniser: the Streamlit app's home page."""

import streamlit as st

st.set_page_config(page_title="ASL recogniser", page_icon="🤟", layout="wide")
st.title("ASL hand-sign recogniser")
st.write("Upload a photo of a signed letter or digit, or sign live in the browser.")
