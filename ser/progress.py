"""How long work says where it is: one callback type for every job (grid searches, fine-tuning, the
learning-rate search) and for feature extraction.

A ``Progress`` is called as ``progress(done, total, message)``: ``done`` of ``total`` units (clips,
fits, steps), and a sentence for the person watching ("grid search: 12/240 fits")."""

from __future__ import annotations

from typing import Callable

Progress = Callable[[int, int, str], None]


class PhaseClock:
    """Elapsed time and an estimate of the time left for the current phase of a job, from the work done
    so far (a straight-line estimate: time per unit so far x units left). A phase is named by the part
    of the message before its first colon ("grid search", "mfcc13 features"); a new name starts a new
    clock."""

    def __init__(self, clock=None):
        import time

        self._now = clock or time.monotonic
        self.phase, self.started = None, 0.0

    def read(self, done: int, total: int, message: str) -> dict:
        """``phase``, ``elapsed_s`` and ``eta_s`` (None until one unit is done; 0 when all are)."""
        phase = message.split(":", 1)[0]
        now = self._now()
        if phase != self.phase:
            self.phase, self.started = phase, now
        elapsed = now - self.started
        if total and done >= total:
            eta = 0.0
        elif done > 0 and total:
            eta = elapsed / done * (total - done)
        else:
            eta = None
        return {"phase": phase, "elapsed_s": round(elapsed, 1), "eta_s": None if eta is None else round(eta, 1)}

    def describe(self, done: int, total: int, message: str) -> tuple[str, dict]:
        """The message with the phase's elapsed time and time left, and the figures themselves."""
        figures = self.read(done, total, message)
        text = f"{message} · {clock_text(figures['elapsed_s'])} elapsed"
        if figures["eta_s"] is not None and figures["eta_s"] > 0:
            text += f", about {clock_text(figures['eta_s'])} left"
        return text, figures


def clock_text(seconds: float) -> str:
    """Seconds as m:ss, or h:mm:ss past an hour."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
