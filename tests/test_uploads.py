"""Bad and unusual audio handed in by a user: each gives a clear result or a message naming the file."""

import io
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from ser.errors import AudioError
from ser.uploads import decode_bytes


def wav_bytes(audio, rate=16000, subtype="PCM_16", fmt="WAV"):
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, subtype=subtype, format=fmt)
    return buffer.getvalue()


def speech_like(seconds=1.0, rate=16000, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    mono = (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2).astype(np.float32)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "FLOAT"])
def test_bit_depths(subtype):
    audio = decode_bytes("clip.wav", wav_bytes(speech_like(), subtype=subtype))
    assert audio.dtype == np.float32 and audio.size == 16000
    assert np.abs(audio).max() == pytest.approx(0.3, abs=0.02)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_sample_rates_become_16k(rate):
    audio = decode_bytes("clip.wav", wav_bytes(speech_like(rate=rate), rate=rate))
    assert audio.size == pytest.approx(16000, abs=2)


def test_stereo_is_mixed_down():
    assert decode_bytes("clip.wav", wav_bytes(speech_like(channels=2))).ndim == 1


def test_flac_ogg_and_a_lying_extension():
    flac = wav_bytes(speech_like(), fmt="FLAC")
    assert decode_bytes("clip.flac", flac).size == 16000
    assert decode_bytes("actually-flac.wav", flac).size == 16000  # decoded by content, not by name
    assert decode_bytes("clip.ogg", wav_bytes(speech_like(), fmt="OGG", subtype="VORBIS")).size > 15000


def test_a_ten_minute_file_is_accepted_and_longer_refused():
    rate = 8000
    ten = np.tile(speech_like(seconds=1.0, rate=rate), 600)
    assert decode_bytes("long.wav", wav_bytes(ten, rate=rate)).size == 600 * 16000
    with pytest.raises(AudioError, match="beyond the 600 s limit"):
        decode_bytes("longer.wav", wav_bytes(np.tile(speech_like(seconds=1.0, rate=rate), 601), rate=rate))


@pytest.mark.parametrize("name, data, message", [
    ("empty.wav", b"", "empty file"),
    ("pointer.wav", b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n", "git lfs pull"),
    ("noise.wav", bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)), "not a decodable audio"),
    ("header.wav", wav_bytes(np.zeros(0, dtype=np.float32)), "no audio samples"),
    ("silent.wav", wav_bytes(np.zeros(16000, dtype=np.float32)), "silent"),
])
def test_bad_files_get_a_message_naming_them(name, data, message):
    with pytest.raises(AudioError) as info:
        decode_bytes(name, data)
    assert name in info.value.detail and message in info.value.detail.lower()


def test_truncated_data_is_decoded_as_far_as_it_goes_or_refused():
    whole = wav_bytes(speech_like(seconds=1.0))
    part = decode_bytes("cut.wav", whole[: len(whole) // 2])
    assert 0 < part.size < 16000
    with pytest.raises(AudioError):
        decode_bytes("cut.wav", whole[:50])


def test_nan_and_inf_samples():
    audio = speech_like()
    audio[10] = np.nan
    with pytest.raises(AudioError, match="NaN or infinite"):
        decode_bytes("nan.wav", wav_bytes(audio, subtype="FLOAT"))
    audio[10] = np.inf
    with pytest.raises(AudioError, match="NaN or infinite"):
        decode_bytes("inf.wav", wav_bytes(audio, subtype="FLOAT"))


def test_m4a_through_ffmpeg(tmp_path, monkeypatch):
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is not installed")
    source = tmp_path / "clip.wav"
    source.write_bytes(wav_bytes(speech_like()))
    target = tmp_path / "clip.m4a"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(source), "-c:a", "aac", str(target)], check=True)
    audio = decode_bytes("clip.m4a", target.read_bytes())
    assert abs(audio.size - 16000) < 2000
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(AudioError, match="needs ffmpeg"):
        decode_bytes("clip.m4a", target.read_bytes())
