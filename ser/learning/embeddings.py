"""Pretrained speech representations as feature sets: every hidden state of a speech encoder
(ser.learning.encoder), mean-pooled over each clip's audio frames, stored per file and per layer.

A layer is a feature set named ``ssl:MODEL:LAYER`` (MODEL a hub id or a folder), which
``ser.learning.features.extract_features`` and ``get_feature_set`` accept like ``mfcc13``.

The cache: one folder per model identity (hub id and commit, or the folder's digest) and precision under
``cache/features/``::

    ssl-<model>-<identity>-v1/           float32 (ssl-...-v1-bf16/ for bf16 autocast, -fp16 for fp16)
        model.json            the identity, the number of hidden states and their size
        layer-00.parquet ...  one store per hidden state, in features.py's layout: index ``key`` (the file's
                              path, size and mtime), column ``error``, float32 columns emb_0...
        pending/<chunk>/      chunks written during extraction (each folder renamed into place whole),
                              merged into the layer stores when the corpus is done

A crash or a cancellation keeps every finished chunk; the next extraction skips the files already stored.
A feature set's name does not say the precision: reading takes the store of the precision asked for when it
holds every file, else any store of the model that does (float32 first), and computes what is missing in the
precision asked for (``auto``: the device's, see ser.learning.encoder).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .. import config
from ..data.corpus import Corpus, Problem
from ..errors import AudioError, FeatureError
from ..params import param
from ..progress import PhaseClock, Progress
from ..runs import Run, complete_run, corpus_record, create_run, progress_writer, titled_text
from ..storage import atomic_write
from .encoder import PRECISIONS, ModelIdentity, SpeechEncoder, load_encoder, model_identity
from .features import FeatureResult, file_keys

log = logging.getLogger(__name__)

VERSION = 1  # bumped when pooling or storage changes, so old caches are not reused
PREFIX = "ssl"
CPU_CHUNK_CLIPS = 64  # clips per written chunk: at most a chunk is recomputed after a crash
GPU_CHUNK_CLIPS = 512


class Cancelled(Exception):
    """Extraction stopped on request; the finished chunks are stored."""


# ---------------------------------------------------------------- names

def parse_set_name(name: str) -> tuple[str, int]:
    """``ssl:MODEL:LAYER`` -> (MODEL, LAYER)."""
    head, _, rest = str(name).partition(":")
    model, _, layer = rest.rpartition(":")
    if head != PREFIX or not model or not layer.strip().isdigit():
        raise FeatureError(f"the feature set {name!r} is not of the form ssl:MODEL:LAYER (MODEL a hub id or a "
                           "folder, LAYER a hidden state's number, 0 the embedding output).",
                           title="Unknown feature set")
    return model, int(layer)


def set_name(model: str, layer: int) -> str:
    return f"{PREFIX}:{model}:{layer}"


def parse_layers(text: str | int | None) -> list[int] | None:
    """``all`` (None: every hidden state) or a layer number or comma-separated numbers."""
    if text is None or str(text).strip().lower() == "all":
        return None
    try:
        layers = sorted({int(part) for part in str(text).split(",")})
    except ValueError:
        raise FeatureError(f"--layers {text!r}: give all, a layer number or numbers separated by commas.",
                           title="Unknown layers") from None
    if layers[0] < 0:
        raise FeatureError(f"--layers {text!r}: layers are numbered from 0 (the embedding output).",
                           title="Unknown layers")
    return layers


def columns(dim: int) -> list[str]:
    return [f"emb_{i}" for i in range(dim)]


# ---------------------------------------------------------------- the store

DTYPE_TAGS = {"float32": "", "bfloat16": "-bf16", "float16": "-fp16"}


class EmbeddingStore:
    """The cache folder of one model identity and precision (float32, bfloat16 or float16)."""

    def __init__(self, identity: ModelIdentity, dtype: str = "float32"):
        self.identity, self.dtype = identity, dtype
        self.folder = config.features_dir() / \
            f"{PREFIX}-{identity.slug()}-{identity.key()}-v{VERSION}{DTYPE_TAGS[dtype]}"
        self.pending = self.folder / "pending"

    @classmethod
    def every(cls, identity: ModelIdentity, first: str = "float32") -> list["EmbeddingStore"]:
        """The stores of this model in every precision, ``first`` first."""
        return [cls(identity, dtype) for dtype in sorted(DTYPE_TAGS, key=lambda d: d != first)]

    def info(self) -> dict | None:
        path = self.folder / "model.json"
        try:
            return json.loads(path.read_text()) if path.exists() else None
        except (OSError, ValueError):
            return None

    def write_info(self, layers: int, dim: int, precision: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"identity": self.identity.as_dict(), "layers": layers, "dim": dim, "version": VERSION,
                           "pooling": "mean over the frames holding audio", "precision": precision}, indent=1)
        atomic_write(self.folder / "model.json", lambda p: p.write_text(text))

    def layer_path(self, layer: int) -> Path:
        return self.folder / f"layer-{layer:02d}.parquet"

    def chunks(self) -> list[Path]:
        if not self.pending.exists():
            return []
        return sorted(p for p in self.pending.iterdir() if p.is_dir() and not p.name.startswith("."))

    def _parts(self, layer: int) -> list[Path]:
        parts = [self.layer_path(layer)] if self.layer_path(layer).exists() else []
        return parts + [c / f"layer-{layer:02d}.parquet" for c in self.chunks()
                        if (c / f"layer-{layer:02d}.parquet").exists()]

    def read_layer(self, layer: int, only_keys: bool = False) -> pd.DataFrame:
        """The stored rows of one hidden state (the merged store and any pending chunks; the newest row of a
        key wins). ``only_keys``: the index and the error column only."""
        frames = []
        for part in self._parts(layer):
            try:
                frames.append(pd.read_parquet(part, columns=["error"] if only_keys else None))
            except Exception as exc:  # a damaged part is dropped and its files recomputed
                log.warning("embedding cache part %s is unreadable (%s); recomputing its files", part, exc)
                part.unlink(missing_ok=True)
        if not frames:
            return pd.DataFrame({"error": pd.Series([], dtype=object)}, index=pd.Index([], name="key"))
        store = pd.concat(frames) if len(frames) > 1 else frames[0]
        store = store[~store.index.duplicated(keep="last")]
        store["error"] = store["error"].astype(object).where(store["error"].notna(), None)
        return store

    def stored_keys(self, layers: list[int]) -> set[str]:
        """Keys stored in every one of ``layers``."""
        keys = None
        for layer in layers:
            found = set(self.read_layer(layer, only_keys=True).index)
            keys = found if keys is None else keys & found
        return keys or set()

    def write_chunk(self, layers: list[int], keys: list[str], vectors: np.ndarray, errors: list[str | None]) -> None:
        """One chunk of files (vectors: files x hidden states x size, NaN where failed), all its layers
        written into a hidden folder that is then renamed into place: a chunk is there whole or not at all."""
        if not keys:
            return
        tmp = self.pending / f".{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        index = pd.Index(keys, name="key")
        error = pd.Series(errors, index=index, dtype="string")
        for layer in layers:
            frame = pd.DataFrame(vectors[:, layer, :], index=index, columns=columns(vectors.shape[2]))
            frame.insert(0, "error", error)
            frame.to_parquet(tmp / f"layer-{layer:02d}.parquet")
        tmp.rename(self.pending / f"{time.time_ns():020d}-{tmp.name[1:9]}")  # newest last

    def merge(self) -> None:
        """Fold the pending chunks into the layer stores (each written atomically), then drop them."""
        chunks = self.chunks()
        if not chunks:
            return
        layers = sorted({int(p.stem.split("-")[1]) for c in chunks for p in c.glob("layer-*.parquet")})
        for layer in layers:
            store = self.read_layer(layer)
            frame = store.copy()
            frame["error"] = frame["error"].astype("string")
            atomic_write(self.layer_path(layer), frame.to_parquet)
        for chunk in chunks:
            shutil.rmtree(chunk, ignore_errors=True)

    def clean(self) -> None:
        """Remove the hidden folders of chunks a crash left half-written."""
        if self.pending.exists():
            for tmp in self.pending.glob(".*"):
                shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- what the cache holds

@dataclass(frozen=True)
class StoredModel:
    """A model whose embeddings the feature cache holds: ``model`` is what its feature sets are named with
    (the hub id, or the folder's absolute path), ``layers`` the hidden states stored; with a corpus,
    ``stored`` of its ``clips`` files are stored in each of them (failed files count as stored)."""

    model: str
    identity: ModelIdentity
    layers: tuple[int, ...]
    dim: int
    precision: str | None
    stored: int | None = None
    clips: int | None = None

    @property
    def complete(self) -> bool:
        return self.clips is not None and self.stored == self.clips

    def label(self, layer: int) -> str:
        """``wav2vec2-base · layer 7 (facebook/wav2vec2-base)``."""
        return f"{_short(self.model)} · layer {layer} ({self.model})"

    def set_names(self) -> list[str]:
        return [set_name(self.model, layer) for layer in self.layers]


def stored_models(corpus: Corpus | None = None) -> list[StoredModel]:
    """The models whose embeddings are in the feature cache (from each store's model.json and layer files; a
    folder model whose folder is gone is left out: its sets could not be read), by name; with ``corpus``, how
    many of its files each has stored, those with none of them last."""
    found = []
    folders = sorted({*config.features_dir().glob(f"{PREFIX}-*-v{VERSION}"),
                      *config.features_dir().glob(f"{PREFIX}-*-v{VERSION}-*")})
    for folder in folders:
        try:
            info = json.loads((folder / "model.json").read_text())
            identity = ModelIdentity(**info["identity"])
            dim = int(info["dim"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if identity.where == "folder" and not Path(identity.source).is_dir():
            continue
        dtype = next((d for d, tag in DTYPE_TAGS.items() if tag and folder.name.endswith(tag)), "float32")
        store = EmbeddingStore(identity, dtype)
        layers = tuple(sorted({int(p.stem.split("-")[1]) for c in [store.folder, *store.chunks()]
                               for p in c.glob("layer-*.parquet")}))
        if not layers:
            continue
        model = identity.source if identity.where == "folder" else identity.name
        entry = StoredModel(model, identity, layers, dim, info.get("precision"))
        if corpus is not None:
            keys = file_keys(corpus.files)
            entry = replace(entry, stored=int(keys.isin(store.stored_keys(list(layers))).sum()),
                            clips=int(len(keys)))
        found.append(entry)
    found.sort(key=lambda m: (-(m.stored or 0), -len(m.layers)))  # a model in two precisions: its fuller store
    unique = list({m.model: m for m in reversed(found)}.values())
    return sorted(unique, key=lambda m: (corpus is not None and not m.stored, m.model.lower()))


def stored_clips(corpus: Corpus, name: str) -> tuple[int, int]:
    """(files of the corpus stored for the feature set ``ssl:MODEL:LAYER``, files of the corpus). Resolves the
    model's identity (a folder's digest, a hub id's commit in the local cache), so it may raise
    ``ModelUnavailable``; reads only the layer's keys."""
    model, layer = parse_set_name(name)
    keys = file_keys(corpus.files)
    stored = [int(keys.isin(store.stored_keys([layer])).sum()) for store in EmbeddingStore.every(model_identity(model))
              if store.info() is not None]
    return max(stored, default=0), int(len(keys))


# ---------------------------------------------------------------- extraction

@dataclass
class EmbeddingResult:
    model: str
    identity: ModelIdentity
    layers: list[int]  # the hidden states stored
    dim: int
    failed: list[Problem]
    clips: int
    seconds: float
    cached: bool
    computed: int = 0
    precision: str | None = None  # as model.json says it: float32, bfloat16 autocast...
    dtype: str = "float32"  # the store's precision (its cache key)

    def summary(self) -> dict:
        return {"set": PREFIX, "model": self.model, "layers": len(self.layers), "layer_numbers": self.layers,
                "dim": self.dim, "identity": self.identity.as_dict(), "clips": self.clips,
                "failed": [p.as_dict() for p in self.failed], "seconds": round(self.seconds, 3),
                "cached": self.cached, "computed": self.computed, "precision": self.precision}


def extract_embeddings(corpus: Corpus, model: str, layers: str | int | list[int] | None = "all",
                       revision: str | None = None, device: str = "auto", batch_seconds: float | None = None,
                       progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
                       encoder: SpeechEncoder | None = None, chunk_clips: int | None = None,
                       precision: str | None = "auto") -> EmbeddingResult:
    """Pooled hidden states of every clip, stored per file and per layer; what the cache holds is read, the
    rest computed in chunks (each stored as it finishes). ``layers``: all, a number or a list. ``precision``:
    auto (a store of any precision that holds every file is read; the rest is computed in the device's
    precision), float32 or bfloat16 (only that precision's store). A clip that fails is recorded with its
    problem and never stops the others. ``Cancelled`` when ``should_stop`` says so (the finished chunks stay
    stored)."""
    started = time.perf_counter()
    wanted = layers if isinstance(layers, list) else parse_layers(layers)
    identity = encoder.identity if encoder is not None and encoder.identity else model_identity(model, revision)
    strict = precision not in (None, "auto")
    if strict and precision not in PRECISIONS:
        raise FeatureError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}.",
                           title="Unknown precision")
    keys = file_keys(corpus.files)
    first = encoder.dtype if encoder is not None else precision if strict else "float32"
    store, todo, info = None, keys, None
    for candidate in EmbeddingStore.every(identity, first):
        found = candidate.info()
        if found is None or (strict and candidate.dtype != precision):
            continue
        layers_there = _check_layers(wanted, found["layers"], model)
        if keys.isin(candidate.stored_keys(layers_there)).all():
            store, todo, info, wanted = candidate, keys.iloc[:0], found, layers_there
            break
    computed = 0
    if store is None and len(keys):
        encoder = encoder or load_encoder(model, revision, device, batch_seconds, identity=identity,
                                          precision=precision)
        store = EmbeddingStore(identity, encoder.dtype)
        store.clean()
        count, dim = hidden_states(encoder)
        wanted = _check_layers(wanted, count, model)
        if store.info() is not None:
            todo = keys[~keys.isin(store.stored_keys(wanted))]
        store.write_info(count, dim, encoder.precision)
        computed = _compute(corpus, todo, len(keys), encoder, store, wanted, progress, should_stop, chunk_clips)
        info = store.info()
    else:
        store = store or EmbeddingStore(identity)
        wanted = wanted or []
        if progress:
            progress(len(keys), len(keys), f"{_short(model)} embeddings: {len(keys)}/{len(keys)} clips "
                                           "(from the cache)")
    store.merge()
    failed = _failures(store, wanted[0], keys) if len(keys) else []
    return EmbeddingResult(str(model), identity, wanted, int(info["dim"]) if info else 0, failed,
                           clips=int(len(keys)) - len(failed), seconds=time.perf_counter() - started,
                           cached=len(todo) == 0, computed=computed, precision=(info or {}).get("precision"),
                           dtype=store.dtype)


def hidden_states(encoder: SpeechEncoder) -> tuple[int, int]:
    """(number of hidden states, their size): the embedding output plus one per transformer layer."""
    cfg = encoder.encoder.config
    return int(cfg.num_hidden_layers) + 1, int(cfg.hidden_size)


def _check_layers(wanted: list[int] | None, count: int, model: str) -> list[int]:
    if wanted is None:
        return list(range(count))
    if wanted[-1] >= count:
        raise FeatureError(f"layer {wanted[-1]} of {model}: the model has hidden states 0-{count - 1} (0 is the "
                           "embedding output).", title="No such layer")
    return wanted


def _short(model: str) -> str:
    return Path(str(model)).name or str(model)


def _compute(corpus, todo: pd.Series, total: int, encoder: SpeechEncoder, store: EmbeddingStore,
             layers: list[int], progress, should_stop, chunk_clips) -> int:
    """Chunks of clips in order of duration; the next chunk's audio is decoded while the model runs."""
    durations = corpus.clips["duration_s"].reindex(todo.index).fillna(0.0) if "duration_s" in corpus.clips \
        else pd.Series(0.0, index=todo.index)
    order = durations.sort_values(kind="stable").index
    size = chunk_clips or (CPU_CHUNK_CLIPS if not encoder.cuda else GPU_CHUNK_CLIPS)
    chunks = [list(order[i:i + size]) for i in range(0, len(order), size)]
    paths = corpus.files["path"]
    done = total - len(todo)
    name = f"{_short(encoder.identity.name if encoder.identity else 'model')} embeddings"
    clock = PhaseClock()

    def report(n: int) -> None:
        if progress:
            text, _ = clock.describe(n, total, f"{name}: {n}/{total} clips")
            progress(n, total, text)

    report(done)
    with ThreadPoolExecutor(max_workers=1) as pool:
        loading = pool.submit(_decode, [paths[c] for c in chunks[0]], encoder.min_samples()) if chunks else None
        for i, chunk in enumerate(chunks):
            audio = loading.result()
            if i + 1 < len(chunks):
                loading = pool.submit(_decode, [paths[c] for c in chunks[i + 1]], encoder.min_samples())
            done = _embed_chunk(chunk, audio, todo, encoder, store, layers, done, report, should_stop)
    return len(todo)


def _decode(paths: list[str], min_samples: int) -> list[np.ndarray | str]:
    """Each clip's audio, or the problem that keeps it out."""
    from ..data.audio import load_audio

    out = []
    for path in paths:
        try:
            audio = load_audio(path)
            if audio.size < min_samples:
                raise AudioError(f"{path}: the clip is shorter than the model's shortest input "
                                 f"({min_samples / 16000 * 1000:.0f} ms)")
            out.append(audio)
        except AudioError as exc:
            out.append(exc.detail)
        except Exception as exc:  # a library failure on one clip must not stop the corpus
            out.append(f"{path}: decoding failed ({type(exc).__name__}: {exc})")
    return out


def _embed_chunk(chunk, audio, todo, encoder: SpeechEncoder, store, layers, done, report, should_stop) -> int:
    count, dim = hidden_states(encoder)
    vectors = np.full((len(chunk), count, dim), np.nan, dtype=np.float32)
    errors: list[str | None] = [a if isinstance(a, str) else None for a in audio]
    good = [i for i, a in enumerate(audio) if not isinstance(a, str)]
    finished = [i for i in range(len(chunk)) if errors[i] is not None]
    clips = [audio[i] for i in good]
    try:
        if should_stop and should_stop():
            raise Cancelled(f"stopped after {done} clips; the finished ones are stored")
        for batch, pooled in encoder.run_batches(clips, encoder.batches([c.size for c in clips])):
            members = [good[j] for j in batch]
            _keep_batch(members, pooled, audio, chunk, encoder, vectors, errors)
            finished += members
            report(done + len(finished))
            if should_stop and should_stop():
                raise Cancelled(f"stopped after {done + len(finished)} clips; the finished ones are stored")
    finally:  # also on Cancelled: what was computed is stored
        keep = sorted(finished)
        store.write_chunk(layers, [todo[chunk[i]] for i in keep], vectors[keep], [errors[i] for i in keep])
    return done + len(chunk)


def _keep_batch(members, pooled, audio, chunk, encoder: SpeechEncoder, vectors, errors) -> None:
    """A batch's vectors into ``vectors``; a batch that failed is tried again clip by clip, and a clip that
    fails alone gets its problem in ``errors``."""
    if isinstance(pooled, Exception):
        if len(members) == 1:
            errors[members[0]] = f"{chunk[members[0]]}: the model failed on this clip " \
                                 f"({type(pooled).__name__}: {pooled})"
            return
        log.warning("a batch of %d clips failed (%s); trying them one by one", len(members), pooled)
        for i in members:
            _keep_batch([i], encoder._attempt([audio[i]]), audio, chunk, encoder, vectors, errors)
        return
    for i, vector in zip(members, pooled):
        if np.all(np.isfinite(vector)):
            vectors[i] = vector
        else:
            errors[i] = f"{chunk[i]}: the model's hidden states are not finite for this clip"


def _failures(store: EmbeddingStore, layer: int, keys: pd.Series) -> list[Problem]:
    errors = store.read_layer(layer, only_keys=True)["error"].reindex(keys.to_numpy())
    errors.index = keys.index
    failed = errors[errors.notna()]
    return [Problem(clip, str(err), "features") for clip, err in failed.items()]


# ---------------------------------------------------------------- one layer as a feature set

def embedding_features(corpus: Corpus, name: str, progress: Progress | None = None, device: str = "auto",
                       should_stop: Callable[[], bool] | None = None) -> FeatureResult:
    """The features table of ``ssl:MODEL:LAYER`` (every hidden state is extracted and stored when missing,
    so the other layers are then at hand)."""
    started = time.perf_counter()
    model, layer = parse_set_name(name)
    result = extract_embeddings(corpus, model, "all", device=device, progress=progress, should_stop=should_stop)
    _check_layers([layer], max(result.layers) + 1, model)
    keys = file_keys(corpus.files)
    rows = EmbeddingStore(result.identity, result.dtype).read_layer(layer).reindex(keys.to_numpy())
    rows.index = keys.index
    ok = rows["error"].isna().to_numpy()
    table = rows.loc[ok, columns(result.dim)].astype(np.float32)
    table.index.name = "clip_id"
    return FeatureResult(name, table, result.failed, time.perf_counter() - started, cached=result.cached,
                         computed=result.computed)


@dataclass(frozen=True)
class LayerFeatureSet:
    """``ssl:MODEL:LAYER`` with the interface of ``features.FeatureSet``: ``compute`` embeds one clip (the
    model is loaded once per process), so a run trained on a layer can classify a new clip."""

    name: str
    native_rate: bool = False

    @property
    def model(self) -> str:
        return parse_set_name(self.name)[0]

    @property
    def layer(self) -> int:
        return parse_set_name(self.name)[1]

    @property
    def description(self) -> str:
        return f"hidden state {self.layer} of {self.model}, mean-pooled over the clip"

    @property
    def params(self) -> dict:
        return {"model": self.model, "layer": self.layer, "version": VERSION}

    @property
    def cache_key(self) -> str:
        store = EmbeddingStore(model_identity(self.model))
        return f"{store.folder.name}/layer-{self.layer:02d}"

    def columns(self) -> list[str]:
        return columns(hidden_states(_encoder(self.model))[1])

    def compute(self, audio: np.ndarray, rate: int = 16_000) -> np.ndarray:
        if rate != 16_000:
            raise ValueError(f"{self.name} takes audio at 16000 Hz, not {rate} Hz")
        encoder = _encoder(self.model)
        _check_layers([self.layer], hidden_states(encoder)[0], self.model)
        return encoder.embed([np.asarray(audio, dtype=np.float32)])[0, self.layer]


_loaded: dict[tuple, SpeechEncoder] = {}


def _encoder(model: str) -> SpeechEncoder:
    identity = model_identity(model)
    if (identity.source, identity.revision) not in _loaded:
        _loaded.clear()  # one model in memory at a time
        _loaded[(identity.source, identity.revision)] = load_encoder(model, identity=identity)
    return _loaded[(identity.source, identity.revision)]


# ---------------------------------------------------------------- the job

@dataclass(frozen=True)
class EmbeddingSpec:
    """An extraction job: written into the job and into run.json."""

    model: str = param("", "a speech encoder: a hub id (facebook/wav2vec2-base, microsoft/wavlm-base-plus, "
                       "openai/whisper-base...) or a local folder written by save_pretrained",
                       label="Model", cli_required=True)
    layers: str = param("all", "the hidden states to store: all, a number, or numbers separated by commas",
                        label="Layers")
    revision: str | None = param(None, "the hub revision (branch, tag or commit; default main)", page=False)
    device: str = param("auto", "where the model runs: auto (the GPU when there is one), cuda or cpu", page=False)
    batch_seconds: float | None = param(None, "padded audio per batch (default: 3 s on the CPU, 400 s on a GPU)",
                                        page=False)
    precision: str = param("auto", "auto: bf16 autocast on a GPU, float32 on the CPU; bfloat16: bf16 autocast on "
                           "the CPU too (a CPU with avx512_bf16 or AMX; faster, vectors slightly different: see "
                           "benchmarks/results/embeddings.json); float32", choices=PRECISIONS, label="Precision")

    def validate(self) -> "EmbeddingSpec":
        if not str(self.model).strip():
            raise FeatureError("no model given: a hub id (ORG/MODEL_ID) or a local folder.", title="No model")
        parse_layers(self.layers)
        if self.precision not in PRECISIONS:
            raise FeatureError(f"precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}.",
                               title="Unknown precision")
        if self.batch_seconds is not None and self.batch_seconds <= 0:
            raise FeatureError(f"batch_seconds is {self.batch_seconds}; give a positive number of seconds.")
        return self

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "EmbeddingSpec":
        from dataclasses import fields

        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def start_embedding_job(spec: EmbeddingSpec, corpus: Corpus) -> Run:
    """The run folder (status queued) of an extraction job; the worker fills it."""
    spec.validate()
    return create_run("embeddings", spec.to_dict(), corpus_record(corpus))


def run_embedding_job(spec: EmbeddingSpec, corpus: Corpus, run: Run | None = None,
                      should_stop: Callable[[], bool] | None = None, progress: Progress | None = None) -> Run:
    """Extract (or resume extracting) as a worker job: progress and its ETA in run.json; the summary of
    ``extract_embeddings`` as the run's ``embeddings`` when finished; cancelled keeps the stored chunks."""
    spec.validate()
    run = run or start_embedding_job(spec, corpus)
    report = progress_writer(run, progress, timed=False)  # the messages already say elapsed and left

    def extract() -> dict:
        result = extract_embeddings(corpus, spec.model, spec.layers, revision=spec.revision, device=spec.device,
                                    batch_seconds=spec.batch_seconds, progress=report, should_stop=should_stop,
                                    precision=spec.precision)
        return {"embeddings": result.summary()}

    return complete_run(run, extract, Cancelled, titled_text)
