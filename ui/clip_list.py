"""A paged list of clips with their metadata and an audio player each: never thousands of players
pushed to the browser at once."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from ser.data.corpus import age_band

PAGE_SIZE = 10


def paged_clips(clips: pd.DataFrame, key: str, extra: pd.DataFrame | None = None, page_size: int = PAGE_SIZE) -> None:
    """Show ``clips`` a page at a time. ``extra`` (same index) adds columns to each line, e.g. what a
    model predicted."""
    pages = max(1, math.ceil(len(clips) / page_size))
    page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1, key=key)
    page = min(int(page or 1), pages)
    st.caption(f"{len(clips):,} clip(s) match; showing {page_size} per page.")
    for clip_id, row in clips.iloc[(page - 1) * page_size: page * page_size].iterrows():
        info, player = st.columns([2, 3])
        info.markdown(clip_line(clip_id, row, None if extra is None else extra.loc[clip_id]))
        player.audio(row["path"])


def clip_line(clip_id: str, row: pd.Series, extra: pd.Series | None = None) -> str:
    band = age_band(pd.Series([row.get("age")])).iloc[0]
    parts = [f"**{clip_id}** · {row['emotion']}"]
    if isinstance(row.get("intensity"), str):
        parts.append(row["intensity"])
    details = [f"speaker {row['speaker']}", row.get("sex") if isinstance(row.get("sex"), str) else "sex unknown",
               band or "age unknown"]
    if isinstance(row.get("race"), str):
        details.append(row["race"])
    details.append(f"{row['duration_s']:.2f} s")
    text = " · ".join(parts) + "  \n" + " · ".join(details)
    if extra is not None:
        text += "  \n" + " · ".join(f"{name}: {value}" for name, value in extra.items())
    return text
