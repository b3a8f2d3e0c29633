"""How long work says where it is: one callback type for every job (grid searches, fine-tuning, the
learning-rate search) and for feature extraction.

A ``Progress`` is called as ``progress(done, total, message)``: ``done`` of ``total`` units (clips,
fits, steps), and a sentence for the person watching ("grid search: 12/240 fits")."""

from __future__ import annotations

from typing import Callable

Progress = Callable[[int, int, str], None]
