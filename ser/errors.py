"""Errors written for the person reading them: a short title and a detail that says what to do."""

from __future__ import annotations


class SerError(Exception):
    """Base error of the workbench. ``title`` is a few words, ``detail`` names the file or
    parameter at fault and what to do about it."""

    title = "Something went wrong"

    def __init__(self, detail: str, title: str | None = None):
        super().__init__(detail)
        if title is not None:
            self.title = title
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.title}: {self.detail}"


class ConfigError(SerError):
    title = "Invalid setting"


class NotEnoughData(SerError):
    """Not an error of the user's: the data at hand cannot support this analysis (pages show it as a note)."""

    title = "Not enough data"


class CorpusError(SerError):
    title = "Corpus cannot be read"


class AudioError(SerError):
    title = "Clip cannot be decoded"


class FeatureError(SerError):
    title = "Features cannot be computed"


class AudioProblem(AudioError):
    """An audio file that cannot be used, with the ``kind`` of problem that the corpus' data health
    counts: missing, unreadable, empty, lfs-pointer, truncated, undecodable, no-samples, not-finite."""

    def __init__(self, detail: str, kind: str, title: str | None = None):
        super().__init__(detail, title)
        self.kind = kind
