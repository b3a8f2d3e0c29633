"""Feature sets, parallel extraction and the per-file disk cache.

- ``mfcc13``: the report's features: 13 MFCCs with librosa's defaults (audio at librosa's default
  22,050 Hz, n_fft 2048, hop 512, 128 Slaney mel bands, power in dB with top_db 80, DCT-II ortho),
  averaged over frames. Files are decoded at their own rate and resampled once to 22,050 Hz, as
  ``librosa.load`` does (soxr HQ, the length fixed to ceil(n * ratio)). Computed with numpy on a
  precomputed mel basis: the same numbers as ``librosa.feature.mfcc(y=librosa.load(path)[0]).mean(axis=1)``
  at any sample rate, without rebuilding the filter bank for every clip.
- ``mfcc-stats``: 13 MFCCs with their deltas and delta-deltas at 16 kHz (25 ms windows, 10 ms hop),
  mean and standard deviation over frames: 78 values.
- ``egemaps``: openSMILE's eGeMAPSv02 functionals, the field's standard hand-crafted set: 88 values.
- ``ssl:MODEL:LAYER``: one hidden state of a pretrained speech encoder, mean-pooled over the clip
  (ser.learning.embeddings, with its own per-layer cache folder).

The cache keeps one row per audio file, keyed by the file's path, size and modification time and by
the feature set's parameters: a changed file is recomputed, an unchanged one never.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config
from ..data.audio import SAMPLE_RATE, decode_file, load_audio
from ..data import spectrum
from ..data.corpus import Corpus, Problem
from ..errors import AudioError, FeatureError
from ..progress import Progress
from ..storage import atomic_write

log = logging.getLogger(__name__)

CHUNK_TIMEOUT_S = 180  # a chunk is at most 64 clips: minutes mean the worker pool is stuck


# ---------------------------------------------------------------- the feature sets

@dataclass(frozen=True)
class FeatureSet:
    name: str
    description: str
    params: dict = field(default_factory=dict)
    version: int = 1  # bumped when the computation changes, so cached rows of the old one are not reused
    native_rate: bool = False  # files decoded at their own rate (else at 16 kHz) and resampled by compute

    @property
    def cache_key(self) -> str:
        text = json.dumps({"name": self.name, "params": self.params, "version": self.version}, sort_keys=True)
        return f"{self.name}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"

    def columns(self) -> list[str]:
        return feature_columns(self.name)

    def compute(self, audio: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
        """Features of one clip (mono float32 at ``rate``; only a native-rate set takes other rates than 16 kHz)."""
        if rate != SAMPLE_RATE and not self.native_rate:
            raise ValueError(f"feature set {self.name} takes audio at {SAMPLE_RATE} Hz, not {rate} Hz")
        return COMPUTE[self.name](audio, rate, self.params)


FEATURE_SETS: dict[str, FeatureSet] = {
    "mfcc13": FeatureSet("mfcc13", "13 MFCCs averaged over frames, as in the report (librosa defaults)",
                         {"sr": 22050, "n_mfcc": 13, "n_fft": 2048, "hop_length": 512, "n_mels": 128,
                          "top_db": 80.0}, version=2, native_rate=True),  # 1: went through 16 kHz first
    "mfcc-stats": FeatureSet("mfcc-stats", "13 MFCCs + deltas + delta-deltas, mean and std (78 values)",
                             {"sr": SAMPLE_RATE, "n_mfcc": 13, "n_fft": 512, "win_length": 400,
                              "hop_length": 160, "n_mels": 40}),
    "egemaps": FeatureSet("egemaps", "openSMILE eGeMAPSv02 functionals (88 values)",
                          {"feature_set": "eGeMAPSv02", "level": "Functionals"}),
}


def get_feature_set(name: str) -> FeatureSet:
    """A feature set by name; ``ssl:MODEL:LAYER`` is one hidden state of a speech encoder
    (``ser.learning.embeddings.LayerFeatureSet``, with the same interface)."""
    if is_embedding_set(name):
        from .embeddings import LayerFeatureSet, parse_set_name

        parse_set_name(name)
        return LayerFeatureSet(name)
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise FeatureError(f"unknown feature set {name!r}; choose one of {', '.join(FEATURE_SETS)}.",
                           title="Unknown feature set") from None


def is_embedding_set(name: str) -> bool:
    return str(name).startswith("ssl:")


def feature_columns(name: str) -> list[str]:
    if name == "mfcc13":
        return [f"mfcc_{i}" for i in range(1, 14)]
    if name == "mfcc-stats":
        return [f"{part}_{i}_{stat}" for stat in ("mean", "std") for part in ("mfcc", "delta", "delta2")
                for i in range(1, 14)]
    if name == "egemaps":
        return list(_smile().feature_names)
    if is_embedding_set(name):
        return get_feature_set(name).columns()
    raise FeatureError(f"unknown feature set {name!r}")


# Constant tables, built once per process. The parent builds them and hands them to the worker processes
# with their chunks (``_tables``/``_seed_tables``), so that a worker never imports librosa or scipy.signal,
# which took each new worker 2 to 3 s on 2 cores before its first clip.
_TABLES: dict[tuple, np.ndarray] = {}


def _mel_basis(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    key = ("mel", sr, n_fft, n_mels)
    if key not in _TABLES:
        _TABLES[key] = spectrum.mel_filters(sr, n_fft, n_mels)
    return _TABLES[key]


def _hann(n_fft: int) -> np.ndarray:
    key = ("hann", n_fft)
    if key not in _TABLES:
        _TABLES[key] = spectrum.periodic_hann(n_fft)
    return _TABLES[key]


def _tables(feature_set: FeatureSet) -> dict[tuple, np.ndarray]:
    """The constant tables a feature set's computation needs, built here to travel with each chunk."""
    if feature_set.name == "mfcc13":
        params = feature_set.params
        _mel_basis(params["sr"], params["n_fft"], params["n_mels"])
        _hann(params["n_fft"])
        return dict(_TABLES)
    return {}


def _seed_tables(tables: dict[tuple, np.ndarray]) -> None:
    for key, value in tables.items():
        _TABLES.setdefault(key, value)


def _fix_length(y: np.ndarray, size: int) -> np.ndarray:
    return y[:size] if y.size >= size else np.pad(y, (0, size - y.size))


def _mfcc_report(audio: np.ndarray, rate: int, params: dict) -> np.ndarray:
    """librosa.feature.mfcc with its defaults, averaged over frames, of audio at ``rate``."""
    import scipy.fft
    import soxr

    sr, n_fft, hop = params["sr"], params["n_fft"], params["hop_length"]
    y = audio
    if sr != rate:  # as librosa.resample: soxr HQ, then the length fixed to ceil(n * ratio)
        y = soxr.resample(audio, rate, sr, quality="HQ").astype(np.float32)
        y = _fix_length(y, int(np.ceil(audio.size * sr / rate)))
    power = spectrum.power_frames(y, n_fft, hop, _hann(n_fft))
    mel = power @ _mel_basis(sr, n_fft, params["n_mels"]).T
    log_mel = 10.0 * np.log10(np.maximum(mel, 1e-10))
    log_mel = np.maximum(log_mel, log_mel.max() - params["top_db"])
    mfcc = scipy.fft.dct(log_mel, axis=1, type=2, norm="ortho")[:, : params["n_mfcc"]]
    return mfcc.mean(axis=0)


def _mfcc_stats(audio: np.ndarray, rate: int, params: dict) -> np.ndarray:
    import librosa

    mfcc = librosa.feature.mfcc(y=audio, sr=params["sr"], n_mfcc=params["n_mfcc"], n_fft=params["n_fft"],
                                win_length=params["win_length"], hop_length=params["hop_length"],
                                n_mels=params["n_mels"])
    width = min(9, mfcc.shape[1] if mfcc.shape[1] % 2 else mfcc.shape[1] - 1)
    if width < 3:
        raise AudioError("the clip is too short for delta features (under 30 ms)")
    parts = [mfcc, librosa.feature.delta(mfcc, width=width), librosa.feature.delta(mfcc, order=2, width=width)]
    stacked = np.vstack(parts)
    return np.concatenate([stacked.mean(axis=1), stacked.std(axis=1)])


@lru_cache(maxsize=1)
def _smile():
    try:
        import opensmile
    except ImportError:
        raise FeatureError("the egemaps feature set needs the opensmile package: pip install opensmile",
                           title="openSMILE is not installed") from None
    return opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                           feature_level=opensmile.FeatureLevel.Functionals)


def _egemaps(audio: np.ndarray, rate: int, params: dict) -> np.ndarray:
    return _smile().process_signal(audio, SAMPLE_RATE).to_numpy()[0]


COMPUTE = {"mfcc13": _mfcc_report, "mfcc-stats": _mfcc_stats, "egemaps": _egemaps}


def compute_file(feature_set: FeatureSet, path: str | Path) -> np.ndarray:
    """Features of one file. Raises AudioError for a file that cannot be used."""
    if feature_set.native_rate:
        audio, rate = decode_file(path)
    else:
        audio, rate = load_audio(path), SAMPLE_RATE
    if audio.size < rate // 100:
        raise AudioError(f"{path}: the clip is shorter than 10 ms")
    values = np.asarray(feature_set.compute(audio, rate), dtype=np.float32)
    if not np.all(np.isfinite(values)):
        raise AudioError(f"{path}: features are not finite (is the clip silent?)")
    return values


# ---------------------------------------------------------------- extraction with the cache

@dataclass
class FeatureResult:
    set_name: str
    table: pd.DataFrame  # index clip_id, float32 columns
    failed: list[Problem]
    seconds: float
    cached: bool
    computed: int = 0

    def summary(self) -> dict:
        return {"set": self.set_name, "clips": int(len(self.table)),
                "failed": [p.as_dict() for p in self.failed],
                "seconds": round(self.seconds, 3), "cached": self.cached, "computed": self.computed}


def extract_features(corpus: Corpus, set_name: str = "mfcc13", jobs: int | None = None,
                     progress: Progress | None = None, use_cache: bool = True) -> FeatureResult:
    """Features for every clip of the corpus, reading what the cache has and computing the rest in
    parallel. Clips that fail are reported in ``failed``; they never stop the others. ``ssl:MODEL:LAYER``
    reads (or extracts) a speech encoder's hidden state: ser.learning.embeddings."""
    if is_embedding_set(set_name):
        from .embeddings import embedding_features

        return embedding_features(corpus, set_name, progress=progress)
    started = time.perf_counter()
    feature_set = get_feature_set(set_name)
    files = corpus.files
    keys = file_keys(files)
    store_path = config.features_dir() / f"{feature_set.cache_key}.parquet"
    store = read_store(store_path) if use_cache else empty_store()
    todo = keys[~_isin(keys, store.index)]
    if len(todo):
        fresh = _compute_many(feature_set, files.loc[todo.index, "path"], todo, jobs, progress,
                              total=len(keys), already=len(keys) - len(todo))
        store = pd.concat([store[~store.index.isin(fresh.index)], fresh]) if len(store) else fresh
        if use_cache:
            write_store(store_path, store)
    elif progress:
        progress(len(keys), len(keys), f"{set_name} features: {len(keys)}/{len(keys)} clips (from the cache)")
    table, failed = _assemble(feature_set, store, keys)
    return FeatureResult(set_name, table, failed, time.perf_counter() - started, cached=len(todo) == 0,
                         computed=int(len(todo)))


_KEYS: dict[int, pd.Series] = {}  # file_keys' results by a digest of the files table (this process)
_STORES: dict[tuple, pd.DataFrame] = {}  # read_store's tables by path, modification time and size


def file_keys(files: pd.DataFrame) -> pd.Series:
    """clip_id -> a key made of the file's absolute path, size and modification time. Remembered per files
    table in this process: a page asks for the same corpus' keys at every rerun (150 ms for 7,462 files)."""
    if files.empty:
        return pd.Series([], dtype=str, index=pd.Index([], name="clip_id"))
    columns = files[["path", "size", "mtime_ns"]]
    digest = int(pd.util.hash_pandas_object(columns, index=True).sum()) ^ len(files)
    if digest not in _KEYS:
        if len(_KEYS) >= 8:
            _KEYS.pop(next(iter(_KEYS)))
        _KEYS[digest] = _file_keys(files)
    return _KEYS[digest].copy()


def _file_keys(files: pd.DataFrame) -> pd.Series:
    keys = [hashlib.sha1(f"{os.path.abspath(path)}|{size}|{mtime}".encode()).hexdigest()
            for path, size, mtime in zip(files["path"].tolist(), files["size"].tolist(), files["mtime_ns"].tolist())]
    return pd.Series(keys, index=files.index, dtype=object, name="path")


def _isin(keys: pd.Series, index: pd.Index) -> np.ndarray:
    """keys.isin(index) through a plain hash table (pandas' isin on Arrow strings was 90 ms for 7,462 keys)."""
    if not len(index):
        return np.zeros(len(keys), dtype=bool)
    return pd.Index(index.to_numpy(dtype=object)).get_indexer(keys.to_numpy(dtype=object)) >= 0


def _compute_many(feature_set, paths: pd.Series, keys: pd.Series, jobs, progress, total, already) -> pd.DataFrame:
    jobs = jobs or config.default_jobs()
    items = list(zip(keys.tolist(), paths.tolist(), keys.index.tolist()))
    size = max(8, min(64, len(items) // (jobs * 4) or 8))
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    done, rows = already, []
    if progress:
        progress(done, total, f"{feature_set.name} features: {done}/{total} clips")
    for chunk_rows in _run_chunks(feature_set, chunks, jobs, _tables(feature_set)):
        rows.extend(chunk_rows)
        done += len(chunk_rows)
        if progress:
            progress(done, total, f"{feature_set.name} features: {done}/{total} clips")
    return _rows_to_store(feature_set, rows)


def _run_chunks(feature_set, chunks, jobs, tables=None):
    """Chunks on ``jobs`` loky processes, results as they finish. If the pool stalls (no chunk for
    CHUNK_TIMEOUT_S) or a worker process dies, the chunks not yet done are computed here instead,
    so the corpus still gets its features."""
    from joblib import Parallel, delayed

    if jobs == 1 or len(chunks) == 1:
        yield from (_compute_chunk(feature_set, chunk) for chunk in chunks)
        return
    tables = tables or {}
    remaining = {chunk[0][0]: chunk for chunk in chunks}  # keyed by the chunk's first file key
    try:
        for chunk_rows in Parallel(n_jobs=jobs, return_as="generator_unordered", timeout=CHUNK_TIMEOUT_S)(
                delayed(_compute_chunk)(feature_set, chunk, tables) for chunk in chunks):
            remaining.pop(chunk_rows[0][0], None)
            yield chunk_rows
    except Exception as exc:  # TimeoutError, TerminatedWorkerError: keep going without the pool
        log.warning("feature workers failed (%s: %s); computing the %d remaining chunk(s) in this process",
                    type(exc).__name__, exc, len(remaining))
        yield from (_compute_chunk(feature_set, chunk) for chunk in list(remaining.values()))


def _compute_chunk(feature_set: FeatureSet, chunk, tables=None) -> list[tuple[str, str, np.ndarray | None, str | None]]:
    _seed_tables(tables or {})
    out = []
    for key, path, clip_id in chunk:
        try:
            out.append((key, clip_id, compute_file(feature_set, path), None))
        except AudioError as exc:
            out.append((key, clip_id, None, exc.detail))
        except Exception as exc:  # a bug or a library failure on one clip must not stop the corpus
            out.append((key, clip_id, None, f"{path}: feature extraction failed ({type(exc).__name__}: {exc})"))
    return out


def _rows_to_store(feature_set: FeatureSet, rows) -> pd.DataFrame:
    columns = feature_set.columns()
    values = np.full((len(rows), len(columns)), np.nan, dtype=np.float32)
    for i, (_, _, vector, _) in enumerate(rows):
        if vector is not None:
            values[i] = vector
    store = pd.DataFrame(values, columns=columns, index=pd.Index([r[0] for r in rows], name="key"))
    store.insert(0, "error", pd.Series([r[3] for r in rows], index=store.index, dtype=object))
    return store


def _assemble(feature_set: FeatureSet, store: pd.DataFrame, keys: pd.Series):
    rows = store.reindex(keys.to_numpy())
    rows.index = keys.index
    errors = rows["error"]
    failed_mask = errors.notna().to_numpy()
    failed = [Problem(clip, str(err), "features") for clip, err in errors[failed_mask].items()]
    table = rows.loc[~failed_mask, feature_set.columns()].astype(np.float32)
    table.index.name = "clip_id"
    return table, failed


def empty_store() -> pd.DataFrame:
    return pd.DataFrame({"error": pd.Series([], dtype=object)}, index=pd.Index([], name="key"))


def read_store(path: Path) -> pd.DataFrame:
    """The cached rows; a corrupt or unreadable cache file is logged, removed and recomputed. The table
    read last is kept in this process while the file's modification time and size stay the same (callers
    never change it in place)."""
    try:
        stat = path.stat()
    except OSError:
        return empty_store()
    seen = (str(path), stat.st_mtime_ns, stat.st_size)
    if seen in _STORES:
        return _STORES[seen]
    try:
        store = pd.read_parquet(path)
        if "error" not in store.columns:
            raise ValueError("no error column")
        store["error"] = store["error"].astype(object).where(store["error"].notna(), None)
        for old in [key for key in _STORES if key[0] == seen[0]] + list(_STORES)[:max(0, len(_STORES) - 3)]:
            _STORES.pop(old, None)
        _STORES[seen] = store
        return store
    except Exception as exc:
        log.warning("feature cache %s is unreadable (%s); recomputing it", path, exc)
        path.unlink(missing_ok=True)
        return empty_store()


def write_store(path: Path, store: pd.DataFrame) -> None:
    """Write atomically: a crash mid-write leaves the previous cache intact."""
    frame = store.copy()
    frame["error"] = frame["error"].astype("string")
    atomic_write(path, frame.to_parquet)
