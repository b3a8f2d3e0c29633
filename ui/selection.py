"""Linked selections: clips picked on one page (a lasso on Clusters, a confusion-matrix cell or a bar on
Bias) become a named filter the other pages offer ("selection from Clusters, 729 clips").

One selection is kept per source, for the session; a new pick from the same source replaces it. The
clip ids stay in the session, not in the URL (hundreds of ids do not belong in a link).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ui.page_state import kept

STORE = "_selections"
ALL = "(all clips)"


@dataclass(frozen=True)
class Selection:
    source: str  # where it was made, e.g. "Clusters" or "Bias: true ANG, said SAD"
    clip_ids: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"selection from {self.source}, {len(self.clip_ids):,} clips"


def offer(source: str, clip_ids) -> Selection | None:
    """Keep these clips as the selection of ``source`` (none: forget it) and return it."""
    ids = tuple(dict.fromkeys(str(c) for c in clip_ids))
    store = st.session_state.setdefault(STORE, {})
    if not ids:
        store.pop(source, None)
        return None
    store[source] = Selection(source, ids)
    return store[source]


def selections() -> list[Selection]:
    """Every kept selection, the most recent first."""
    return list(reversed(st.session_state.get(STORE, {}).values()))


def selection_filter(key: str, index: pd.Index, exclude: str | None = None) -> tuple[pd.Index, Selection | None]:
    """A picker "Only the clips of" over the kept selections that share clips with ``index`` (sources
    other than ``exclude``, the page's own); returns the clips of ``index`` to show and the selection
    chosen, or all of ``index`` and None."""
    usable = [s for s in selections() if s.source != exclude and index.isin(s.clip_ids).any()]
    if not usable:
        st.session_state.pop(key, None)
        return index, None
    labels = [ALL] + [s.source for s in usable]
    source = st.selectbox("Only the clips of", labels, key=kept(key, labels),
                          format_func=lambda s: s if s == ALL else next(x.label for x in usable if x.source == s),
                          help="A selection made on another page: a lasso on Clusters, a confusion-matrix cell "
                               "or a bar on Bias.")
    if source == ALL:
        return index, None
    chosen = next(s for s in usable if s.source == source)
    st.caption("A selection stays in this browser session: a link to this view opens it on all clips.")
    return index[index.isin(chosen.clip_ids)], chosen
