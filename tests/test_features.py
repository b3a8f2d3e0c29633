import os

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from crema_layout import write_clip
from ser import config
from ser.data.corpus import load_corpus
from ser.errors import FeatureError
from ser.learning.features import (compute_file, extract_features, feature_columns, file_keys, get_feature_set,
                                   write_store)


@pytest.mark.parametrize("rate, samples", [(16000, 9600), (16000, 16718), (16000, 40000), (16000, 46071),
                                           (44100, 26460), (44100, 46071), (48000, 28800), (48000, 46071),
                                           (8000, 12001)])  # 16718 at 16 kHz: soxr gives 23039, librosa 23040
def test_mfcc13_is_the_reports_librosa_computation(tmp_path, rate, samples):
    """Same numbers as the report's librosa.load + librosa.feature.mfcc at any sample rate (decoded at the
    file's rate, resampled once to 22,050 Hz), including lengths where resampling rounds (librosa fixes
    the length to ceil(n * ratio))."""
    path = tmp_path / "clip.wav"
    rng = np.random.default_rng(samples)
    audio = np.zeros(samples, dtype=np.float32)
    start, stop = samples // 4, 3 * samples // 4  # silence around noise, as in real clips
    audio[start:stop] = 0.1 * rng.standard_normal(stop - start)
    sf.write(str(path), audio, rate, subtype="PCM_16")
    ours = compute_file(get_feature_set("mfcc13"), path)
    y, sr = librosa.load(path)  # the report: librosa defaults, 22,050 Hz
    reference = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13).mean(axis=1)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=2e-4)


def test_mfcc13_rows_cached_by_the_16_khz_computation_are_not_reused(tmp_path):
    """mfcc13 went through 16 kHz before 22,050 Hz until its version 2; a cache written then (under the
    key below) must not answer for a 44.1 kHz file now."""
    audio_dir = tmp_path / "AudioWAV"
    audio_dir.mkdir()
    write_clip(audio_dir / "1001_DFA_ANG_XX.wav", "ANG", rate=44100)
    corpus = load_corpus(tmp_path)
    keys = file_keys(corpus.files)
    config.features_dir().mkdir(parents=True, exist_ok=True)
    old = pd.DataFrame(np.zeros((1, 13), dtype=np.float32), columns=feature_columns("mfcc13"),
                       index=pd.Index(keys.to_list(), name="key"))
    old.insert(0, "error", pd.Series([None], index=old.index, dtype=object))
    write_store(config.features_dir() / "mfcc13-a3912150ba.parquet", old)  # version 1's cache key
    result = extract_features(corpus, "mfcc13", jobs=1)
    assert not result.cached and result.computed == 1
    expected = compute_file(get_feature_set("mfcc13"), corpus.clips["path"].iloc[0])
    np.testing.assert_array_equal(result.table.iloc[0].to_numpy(), expected)


@pytest.mark.parametrize("name, width", [("mfcc13", 13), ("mfcc-stats", 78), ("egemaps", 88)])
def test_every_feature_set_gives_named_float32_columns(crema_folder, name, width):
    result = extract_features(load_corpus(crema_folder), name, jobs=1)
    assert result.table.shape == (24, width)
    assert list(result.table.columns) == feature_columns(name)
    assert (result.table.dtypes == np.float32).all()
    assert np.isfinite(result.table.to_numpy()).all()


def test_unknown_feature_set():
    with pytest.raises(FeatureError):
        get_feature_set("spectrogram-art")


def test_cache_hit_and_invalidation(crema_folder):
    corpus = load_corpus(crema_folder)
    first = extract_features(corpus, "mfcc13", jobs=2)
    assert not first.cached and first.computed == 24
    second = extract_features(load_corpus(crema_folder), "mfcc13", jobs=2)
    assert second.cached and second.computed == 0
    np.testing.assert_array_equal(first.table.to_numpy(), second.table.loc[first.table.index].to_numpy())

    changed = crema_folder / "AudioWAV" / "1002_DFA_SAD_XX.wav"
    write_clip(changed, "ANG", seed=42)
    os.utime(changed, ns=(10**18, 10**18))
    third = extract_features(load_corpus(crema_folder), "mfcc13", jobs=2)
    assert not third.cached and third.computed == 1
    assert not np.allclose(third.table.loc["1002_DFA_SAD_XX"], first.table.loc["1002_DFA_SAD_XX"])
    others = first.table.index.drop("1002_DFA_SAD_XX")
    np.testing.assert_array_equal(third.table.loc[others].to_numpy(), first.table.loc[others].to_numpy())


def test_parallel_and_serial_agree(crema_folder):
    corpus = load_corpus(crema_folder)
    serial = extract_features(corpus, "mfcc13", jobs=1, use_cache=False)
    parallel = extract_features(corpus, "mfcc13", jobs=2, use_cache=False)
    np.testing.assert_allclose(serial.table.sort_index().to_numpy(), parallel.table.sort_index().to_numpy(),
                               rtol=1e-5)


def test_bad_clips_are_reported_not_fatal(crema_folder):
    audio = crema_folder / "AudioWAV"
    bad = np.zeros(8000, dtype=np.float32)
    bad[100] = np.nan
    sf.write(str(audio / "1001_DFA_ANG_XX.wav"), bad, 16000, subtype="FLOAT")
    with open(audio / "1001_DFA_DIS_XX.wav", "r+b") as handle:  # truncate the data, keep the header
        handle.truncate(60)
    corpus = load_corpus(crema_folder)
    progress = []
    result = extract_features(corpus, "mfcc13", jobs=2, progress=lambda d, t, m: progress.append((d, t)))
    failed = {p.clip: p.problem for p in result.failed}
    assert "NaN" in failed["1001_DFA_ANG_XX"]
    assert len(result.table) + len(result.failed) == len(corpus.clips)
    assert progress[-1] == (len(corpus.clips), len(corpus.clips))
    again = extract_features(corpus, "mfcc13", jobs=2)
    assert again.cached and {p.clip for p in again.failed} == set(failed)


def test_corrupt_cache_file_is_recomputed(crema_folder, caplog):
    corpus = load_corpus(crema_folder)
    extract_features(corpus, "mfcc13", jobs=1)
    [store] = list(config.features_dir().glob("*.parquet"))
    store.write_bytes(store.read_bytes()[:100])
    result = extract_features(corpus, "mfcc13", jobs=1)
    assert not result.cached and len(result.table) == 24
    assert "unreadable" in caplog.text
    assert extract_features(corpus, "mfcc13", jobs=1).cached


def test_summary_has_the_cli_keys(crema_folder):
    summary = extract_features(load_corpus(crema_folder), "mfcc13", jobs=1).summary()
    assert {"set", "clips", "failed", "seconds", "cached"} <= set(summary)


def test_unusual_audio_in_a_corpus_is_read_or_reported(tmp_path):
    """8/24-bit and float WAV, other rates, stereo, silence, NaN: features or a clear failure each."""
    rng = np.random.default_rng(0)

    def speechy(rate, seconds=1.0):
        t = np.arange(int(rate * seconds)) / rate
        return (0.3 * np.sin(2 * np.pi * 200 * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)

    audio_dir = tmp_path / "AudioWAV"
    audio_dir.mkdir()
    variants = {"1001_DFA_ANG_XX": (speechy(16000), 16000, "PCM_U8"),
                "1001_DFA_DIS_XX": (speechy(16000), 16000, "PCM_24"),
                "1001_DFA_FEA_XX": (speechy(16000), 16000, "FLOAT"), "1001_DFA_HAP_XX": (speechy(8000), 8000, "PCM_16"),
                "1001_DFA_NEU_XX": (speechy(44100), 44100, "PCM_16"),
                "1001_DFA_SAD_XX": (np.stack([speechy(48000)] * 2, axis=1), 48000, "PCM_16"),
                "1001_IEO_NEU_XX": (np.zeros(16000, dtype=np.float32), 16000, "PCM_16")}
    nan = speechy(16000)
    nan[5] = np.nan
    variants["1001_IEO_ANG_HI"] = (nan, 16000, "FLOAT")
    for name, (audio, rate, subtype) in variants.items():
        sf.write(str(audio_dir / f"{name}.wav"), audio, rate, subtype=subtype)
    corpus = load_corpus(tmp_path)
    assert len(corpus.clips) == 8
    result = extract_features(corpus, "mfcc13", jobs=1)
    failed = {p.clip: p.problem for p in result.failed}
    assert set(failed) == {"1001_IEO_ANG_HI"} and "NaN" in failed["1001_IEO_ANG_HI"]
    assert np.isfinite(result.table.to_numpy()).all() and len(result.table) == 7


def test_a_stuck_or_dead_worker_pool_falls_back_to_this_process(crema_folder, monkeypatch, caplog):
    import joblib

    from ser.learning import features

    class BrokenParallel:
        def __init__(self, *args, **kwargs):
            pass

        def __call__(self, calls):
            calls = list(calls)
            function, args, kwargs = calls[0]
            yield function(*args, **kwargs)  # one chunk comes back, then the pool stalls
            raise TimeoutError("no result in 180 s")

    monkeypatch.setattr(joblib, "Parallel", BrokenParallel)
    result = features.extract_features(load_corpus(crema_folder), "mfcc13", jobs=2)
    assert len(result.table) == 24 and not result.failed
    assert "computing the" in caplog.text


def test_the_hann_window_is_scipy_s_bit_for_bit():
    import scipy.signal

    from ser.learning.features import _hann

    for n_fft in (400, 512, 2048):
        expected = scipy.signal.get_window("hann", n_fft, fftbins=True).astype(np.float32)
        assert np.array_equal(_hann(n_fft), expected)


def test_a_worker_computes_mfcc13_with_the_parent_s_tables_without_importing_librosa(crema_folder):
    """The parent builds the mel basis and hands it to the workers with their chunks: a new worker then
    never imports librosa or scipy.signal (2 to 3 s each on 2 cores), and gives the same numbers."""
    import subprocess
    import sys

    from ser.learning.features import _tables

    corpus = load_corpus(crema_folder)
    feature_set = get_feature_set("mfcc13")
    path = corpus.files["path"].iloc[0]
    tables = _tables(feature_set)
    script = (
        "import pickle, sys\n"
        "from ser.learning.features import _compute_chunk\n"
        "feature_set, chunk, tables = pickle.loads(sys.stdin.buffer.read())\n"
        "rows = _compute_chunk(feature_set, chunk, tables)\n"
        "assert 'librosa' not in sys.modules and 'scipy.signal' not in sys.modules, 'imported'\n"
        "sys.stdout.buffer.write(pickle.dumps(rows))\n")
    import pickle

    done = subprocess.run([sys.executable, "-c", script], input=pickle.dumps((feature_set, [("k", path, "c")], tables)),
                          capture_output=True, cwd=str(config.PROJECT_ROOT), check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    (_, _, values, error), = pickle.loads(done.stdout)
    assert error is None and np.array_equal(values, compute_file(feature_set, path))


def test_file_keys_follow_a_changed_file(crema_folder):
    corpus = load_corpus(crema_folder)
    keys = file_keys(corpus.files)
    keys.iloc[0] = "changed by the caller"
    assert file_keys(corpus.files).iloc[0] != "changed by the caller"  # a copy each time
    files = corpus.files.copy()
    files.loc[files.index[1], "mtime_ns"] += 1
    changed = file_keys(files)
    assert (changed != file_keys(corpus.files)).tolist() == [False, True] + [False] * (len(files) - 2)
