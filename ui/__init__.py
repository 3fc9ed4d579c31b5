"""The Streamlit side: tab UIs per page, shared widgets, cached loaders and the session.

`pages/*.py` are tables of contents that call `ui.<page>.<tab>.render(...)`; the rules behind every
figure live in `fund/`."""
