"""Generate the demo corpus: check the arguments, prepare the folder, write the metadata while worker
processes synthesise the clips, and mark the folder finished last."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from .. import cremad
from ...errors import ConfigError
from ...progress import Progress
from .actors import Voice, actor_voice, demographics
from .clips import Clip, corpus_clips
from .folder import MARKER, README, is_demo_corpus, marker, prepare_folder, read_marker, readme
from .metadata import write_metadata
from .sound import SAMPLE_RATE, synthesize_clip


def _check_arguments(actors, seed, jobs) -> None:
    if isinstance(actors, bool) or not isinstance(actors, (int, np.integer)) or actors < 2:
        raise ConfigError(f"actors={actors!r}: the demo corpus needs a whole number of at "
                          "least 2 actors.")
    if actors > 999:
        raise ConfigError(f"actors={actors}: actor ids run 1001..1999, so at most 999 actors.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed={seed!r}: use a non-negative whole number.")
    if jobs is not None and (not isinstance(jobs, (int, np.integer)) or jobs < 1):
        raise ConfigError(f"jobs={jobs!r}: use a positive number of processes, or None for all.")


def write_clips(folder: str, clips: list[Clip], voices: dict[int, Voice], seed: int) -> int:
    """Synthesise and write a batch of clips (runs in a worker); returns how many."""
    for clip in clips:
        sound = synthesize_clip(clip, voices[clip.actor], seed)
        sf.write(os.path.join(folder, clip.name + ".wav"), sound, SAMPLE_RATE, subtype="PCM_16")
    return len(clips)


def available_cores() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _batches(clips: list[Clip], jobs: int) -> list[list[Clip]]:
    size = int(np.clip(len(clips) // (jobs * 6), 8, 64))
    return [clips[i:i + size] for i in range(0, len(clips), size)]


def start_audio(folder: Path, clips: list[Clip], voices: dict[int, Voice], seed: int,
                jobs: int) -> Iterator[int]:
    """Start writing every clip; yields clip counts as batches finish. With jobs > 1 the
    worker processes start at once, so the caller can do other work meanwhile."""
    batches = _batches(clips, jobs)
    if jobs == 1:
        return (write_clips(str(folder), b, voices, seed) for b in batches)
    from joblib import Parallel, delayed

    pool = Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered")
    return pool(delayed(write_clips)(str(folder), b, {c.actor: voices[c.actor] for c in b}, seed)
                for b in batches)


def _follow(results: Iterator[int], total: int, progress: Progress | None) -> None:
    done = 0
    if progress:
        progress(0, total, f"generating the demo corpus: 0/{total} clips")
    for count in results:
        done += count
        if progress:
            progress(done, total, f"generating the demo corpus: {done}/{total} clips")


def generate_demo_corpus(out: Path | str, actors: int = 24, seed: int = 0, jobs: int | None = None,
                         progress: Progress | None = None) -> Path:
    """Write (or reuse) a synthetic CREMA-D-shaped corpus in ``out`` and return the folder."""
    out = Path(out)
    _check_arguments(actors, seed, jobs)
    actors, seed = int(actors), int(seed)
    found = read_marker(out) if is_demo_corpus(out) else None
    if found == marker(actors, seed):
        return out
    prepare_folder(out)
    (out / README).write_text(readme(actors, seed), encoding="utf-8")
    people = demographics(actors, seed)
    voices = {p.actor: actor_voice(p, seed) for p in people}
    clips = corpus_clips(actors)
    jobs = int(jobs) if jobs is not None else available_cores()
    written = start_audio(out / cremad.AUDIO_DIR, clips, voices, seed, jobs)
    write_metadata(out, people, voices, clips, seed)
    _follow(written, len(clips), progress)
    (out / MARKER).write_text(json.dumps(marker(actors, seed), indent=2) + "\n", encoding="utf-8")
    return out
