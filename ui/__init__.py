"""Streamlit glue shared by the pages: cached engine calls and small widgets. The engine is ser/."""
