"""Sales territory planning workbench: Streamlit entry point.

Run with ``streamlit run app.py``; it opens on the embedded (synthetic) demo. This file sets up the page, the shared
session state and the navigation; each page lives in ``pages/``.
"""

from __future__ import annotations

import streamlit as st

from ui import state

st.set_page_config(page_title="Territory workbench", layout="wide")  # default favicon: served locally
state.init_session()
state.mark_entry()

st.navigation(state.pages()).run()
