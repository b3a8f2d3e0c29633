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
FALLBACKS = "_shown_fallbacks"  # key -> the fallback a page shows in place of a kept value it cannot
_NONE = object()


def kept(key: str, choices: Sequence | None = None, fallback: Any = None) -> str:
    """The widget key to draw with, after restoring what the widget showed when its page was left.

    ``choices`` (the widget's options): a kept value that is not one of them (a deleted run, a feature set
    of another corpus) is not shown, and neither are the members of a kept list that are not.
    ``fallback``: the value to show when nothing was chosen yet and the URL does not name one of
    ``choices`` (e.g. the newest run, which then always stands in the URL: it is not the widget's
    default; a shared link naming a deleted run gets it too), or when the kept value is not among them.
    A fallback is shown, never kept: a run chosen on Bias that another page cannot offer is still Bias'
    run when the user comes back there."""
    state = st.session_state
    store = state.setdefault(STORE, {})
    shown_fallback = state.setdefault(FALLBACKS, {})
    if key in state and shown_fallback.get(key, _NONE) != state[key]:
        value, chosen = state[key], True  # the user's choice, or the URL's
    elif key in store:
        value, chosen = store[key], True
    elif fallback is not None and (key in state or not _url_names_a_choice(key, choices)):
        value, chosen = fallback, False  # nothing chosen yet, or a shared link naming e.g. a deleted run
    else:
        return key  # first draw in this session: the widget's default, or what the URL says
    value = _valid(value, choices)
    if value is None:
        if fallback is None:
            state.pop(key, None)
            return key
        value, chosen = fallback, False
    if chosen:
        store[key] = value
        shown_fallback.pop(key, None)
    else:
        shown_fallback[key] = value
    state[key] = value  # always: a value left by another page's widget of the same key would not be shown
    return key


def remember(key: str) -> None:
    """Keep a widget's value for the next visit (for widgets whose key did not go through ``kept``, e.g.
    after changing it in a callback)."""
    if key in st.session_state:
        st.session_state.setdefault(STORE, {})[key] = st.session_state[key]


def _url_names_a_choice(key: str, choices: Sequence | None) -> bool:
    """Whether the URL gives ``key`` a value the widget can show (the widget then reads it itself)."""
    return key in st.query_params and (choices is None or st.query_params.get(key) in list(choices))


def _valid(value: Any, choices: Sequence | None) -> Any:
    if choices is None:
        return value
    allowed = list(choices)
    if isinstance(value, (list, tuple)):
        return [v for v in value if v in allowed]
    return value if value in allowed else None
