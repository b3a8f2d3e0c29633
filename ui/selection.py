"""Linked selections: clips picked on one page (a lasso on Clusters, a confusion-matrix cell or a bar on
Bias) become a named filter the other pages offer ("selection from Clusters, 729 clips").

One selection is kept per slot (a page's kind of pick: "Clusters", "Bias: cell"), for the session; a new
pick in the same slot replaces it, so listening to one actor after another keeps one actor's selection, not
a growing list. The clip ids stay in the session, not in the URL (hundreds of ids do not belong in a link).
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
    slot: str = ""  # what a new pick replaces (default: the source)

    @property
    def kept_as(self) -> str:
        return self.slot or self.source

    @property
    def page(self) -> str:
        """The page it was made on: the slot up to its first colon ("Bias: cell" -> "Bias")."""
        return self.kept_as.split(":")[0]

    @property
    def label(self) -> str:
        return f"selection from {self.source}, {len(self.clip_ids):,} clips"


def offer(source: str, clip_ids, slot: str | None = None) -> Selection | None:
    """Keep these clips as the selection in ``slot`` (default: ``source``), made at ``source``; no clips
    forget it. Returns the selection kept."""
    slot = slot or source
    ids = tuple(dict.fromkeys(str(c) for c in clip_ids))
    store = st.session_state.setdefault(STORE, {})
    if not ids:
        store.pop(slot, None)
        return None
    if store.get(slot) != Selection(source, ids, slot):  # (re-offered as is at every rerun: keep its place)
        store.pop(slot, None)
        store[slot] = Selection(source, ids, slot)
    return store[slot]


def selections() -> list[Selection]:
    """Every kept selection, the most recent first."""
    return list(reversed(st.session_state.get(STORE, {}).values()))


def selection_filter(key: str, index: pd.Index, exclude: str | None = None) -> tuple[pd.Index, Selection | None]:
    """A picker "Only the clips of" over the kept selections that share clips with ``index``, except those
    made on the page ``exclude`` (the page's own); returns the clips of ``index`` to show and the selection
    chosen, or all of ``index`` and None."""
    usable = [s for s in selections() if s.page != exclude and index.isin(s.clip_ids).any()]
    if not usable:
        st.session_state.pop(key, None)
        return index, None
    slots = [ALL] + [s.kept_as for s in usable]  # a slot stays chosen when a new pick replaces its clips
    slot = st.selectbox("Only the clips of", slots, key=kept(key, slots),
                        format_func=lambda s: s if s == ALL else next(x.label for x in usable if x.kept_as == s),
                        help="A selection made on another page: a lasso on Clusters, a confusion-matrix cell, a group "
                             "or an actor on Bias.")
    if slot == ALL:
        return index, None
    chosen = next(s for s in usable if s.kept_as == slot)
    st.caption("A selection stays in this browser session: a link to this view opens it on all clips.")
    return index[index.isin(chosen.clip_ids)], chosen
