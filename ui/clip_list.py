"""One clip in a line of words: its id, emotion, intensity, speaker, sex, age band, race and duration (the
clip table, ui.clip_table, lists many)."""

from __future__ import annotations

import pandas as pd

from ser.data.corpus import age_band


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
