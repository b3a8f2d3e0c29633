"""Settings that survive and can be shared.

Streamlit forgets a widget's value as soon as a run does not draw it, so leaving a page reset its k,
colour, run and grouping. ``kept(key)`` copies each value into a store of the session's own and writes
it back when the page is drawn again. What defines a view also lives in the URL: the widgets are drawn
with Streamlit's own ``bind="query-params"`` (1.67), which writes the value into the query string (the
key is the parameter's name; a value equal to the widget's default is left out) and reads it back when
a shared or bookmarked URL is opened. Invalid values in a URL are ignored by Streamlit.

Use: ``st.selectbox("Group by", options, key=kept("bias_by", options), bind=URL)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

URL = "query-params"  # the bind= value for the settings that define a view
STORE = "_kept_settings"


def kept(key: str, choices: Sequence | None = None, fallback: Any = None) -> str:
    """The widget key to draw with, after restoring what the widget showed when its page was left.

    ``choices`` (the widget's options): a kept value that is no longer one of them (a deleted run, a
    feature set of another corpus) is dropped, and so are the members of a kept list that are not.
    ``fallback``: the value to show when nothing was chosen yet and the URL does not say (e.g. the newest
    run, which then always stands in the URL: it is not the widget's default)."""
    state = st.session_state
    store = state.setdefault(STORE, {})
    if key in state:
        value = state[key]
    elif key in store:
        value = store[key]
    elif fallback is not None and key not in st.query_params:
        value = fallback
    else:
        return key  # first draw in this session: the widget's default, or what the URL says
    value = _valid(value, choices)
    if value is None and fallback is not None:
        value = fallback
    if value is None:
        store.pop(key, None)
        state.pop(key, None)
        return key
    store[key] = value
    if key not in state or state[key] != value:
        state[key] = value
    return key


def remember(key: str) -> None:
    """Keep a widget's value for the next visit (for widgets whose key did not go through ``kept``, e.g.
    after changing it in a callback)."""
    if key in st.session_state:
        st.session_state.setdefault(STORE, {})[key] = st.session_state[key]


def _valid(value: Any, choices: Sequence | None) -> Any:
    if choices is None:
        return value
    allowed = list(choices)
    if isinstance(value, (list, tuple)):
        return [v for v in value if v in allowed]
    return value if value in allowed else None
