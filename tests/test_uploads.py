"""Bad and unusual audio handed in by a user: each gives a clear result or a message naming the file."""

import io
import os
import shutil
import struct
import subprocess

import numpy as np
import pytest
import soundfile as sf

from ser.data.audio import wav_truncation
from ser.errors import AudioError, AudioProblem
from ser.data.uploads import decode_bytes


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
    ("noise.wav", bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)),
     "not a recognisable audio file (no decoder could read it)"),
    ("header.wav", wav_bytes(np.zeros(0, dtype=np.float32)), "no audio samples"),
    ("silent.wav", wav_bytes(np.zeros(16000, dtype=np.float32)), "silent"),
])
def test_bad_files_get_a_message_naming_them(name, data, message):
    with pytest.raises(AudioError) as info:
        decode_bytes(name, data)
    assert name in info.value.detail and message in info.value.detail.lower()


def cut(data: bytes, keep_frames: int, frame_bytes: int = 2) -> bytes:
    """A WAV file cut short: its header still promises all the frames, the bytes hold ``keep_frames``."""
    return data[: data.index(b"data") + 8 + keep_frames * frame_bytes]


@pytest.mark.parametrize("subtype, frame_bytes", [("PCM_16", 2), ("PCM_24", 3), ("FLOAT", 4)])
def test_a_truncated_wav_is_refused_saying_how_much_the_header_promised(subtype, frame_bytes):
    whole = wav_bytes(speech_like(seconds=2.5), subtype=subtype)
    with pytest.raises(AudioProblem) as info:
        decode_bytes("cut.wav", cut(whole, 19_200, frame_bytes))
    assert info.value.kind == "truncated" and info.value.title == "Clip is truncated"
    assert info.value.detail.startswith("cut.wav: truncated: the header promises 2.50 s (40,000 frames) but the "
                                        "file holds 1.20 s (19,200 frames)")
    with pytest.raises(AudioProblem, match="the header promises 2.50 s"):  # cut inside a frame
        decode_bytes("cut.wav", whole[:-1])
    assert decode_bytes("whole.wav", whole).size == 40_000


def test_a_stereo_wav_cut_short_counts_frames_not_samples():
    whole = wav_bytes(speech_like(seconds=1.0, channels=2))
    promised = r"promises 1.00 s \(16,000 frames\) but the file holds 0.25 s \(4,000 frames\)"
    with pytest.raises(AudioProblem, match=promised):
        decode_bytes("cut.wav", cut(whole, 4_000, frame_bytes=4))


def test_whole_wavs_with_other_chunks_or_a_streamed_header_are_not_truncated():
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", 16000, 1, format="WAV", subtype="PCM_16") as handle:
        handle.title = "a clip with a LIST chunk before its data"
        handle.write(speech_like())
    tagged = buffer.getvalue()
    chunk = b"LIST" + struct.pack("<I", 10) + b"INFOtitle\x00"  # an even-sized chunk after the data
    trailing = bytearray(tagged + chunk)
    trailing[4:8] = struct.pack("<I", len(trailing) - 8)
    for whole in (tagged, bytes(trailing)):
        assert wav_truncation(io.BytesIO(whole), len(whole)) is None
        assert decode_bytes("tagged.wav", whole).size == 16000
    with pytest.raises(AudioProblem, match="truncated"):
        decode_bytes("tagged.wav", tagged[:-2000])
    streamed = bytearray(wav_bytes(speech_like()))
    streamed[40:44] = b"\xff\xff\xff\xff"  # the data size a streaming writer leaves (e.g. ffmpeg to a pipe)
    assert wav_truncation(io.BytesIO(bytes(streamed)), len(streamed)) is None
    flac = wav_bytes(speech_like(), fmt="FLAC")
    assert wav_truncation(io.BytesIO(flac[:-100]), len(flac) - 100) is None  # only WAV headers are read


def test_a_file_cut_inside_its_header_is_not_audio():
    with pytest.raises(AudioProblem) as info:
        decode_bytes("cut.wav", wav_bytes(speech_like())[:30])
    assert info.value.kind == "undecodable"


def test_nan_and_inf_samples():
    audio = speech_like()
    audio[10] = np.nan
    with pytest.raises(AudioError, match="NaN or infinite"):
        decode_bytes("nan.wav", wav_bytes(audio, subtype="FLOAT"))
    audio[10] = np.inf
    with pytest.raises(AudioError, match="NaN or infinite"):
        decode_bytes("inf.wav", wav_bytes(audio, subtype="FLOAT"))


def test_m4a_through_ffmpeg(ffmpeg, tmp_path, monkeypatch):
    source = tmp_path / "clip.wav"
    source.write_bytes(wav_bytes(speech_like()))
    target = tmp_path / "clip.m4a"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(source), "-c:a", "aac", str(target)], check=True)
    audio = decode_bytes("clip.m4a", target.read_bytes())
    assert abs(audio.size - 16000) < 2000
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(AudioError, match="needs ffmpeg"):
        decode_bytes("clip.m4a", target.read_bytes())


def test_ffmpeg_failing_too_says_no_decoder_could_read_it_and_keeps_its_words(tmp_path, monkeypatch):
    fake = tmp_path / "ffmpeg"  # an ffmpeg that fails as the real one does on bytes that are not audio
    fake.write_text("#!/bin/sh\ncat > /dev/null\necho 'pipe:0: Invalid data found when processing input' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    details = {}
    for name in ("noise.wav", "noise.m4a"):  # libsndfile, then ffmpeg; ffmpeg alone
        with pytest.raises(AudioProblem) as info:
            decode_bytes(name, bytes(range(256)) * 20)
        assert info.value.title == "Not a recognisable audio file" and info.value.kind == "undecodable"
        details[name] = info.value.detail
        assert details[name].startswith(f"{name}: not a recognisable audio file (no decoder could read it).")
        assert details[name].endswith("ffmpeg: Invalid data found when processing input")
        assert "pipe:0" not in details[name]
    assert "Decoder's message: libsndfile: Format not recognised; ffmpeg: Invalid" in details["noise.wav"]
    assert "libsndfile" not in details["noise.m4a"]
