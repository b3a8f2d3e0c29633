"""Classify clips with any finished run: a baseline through its feature pipeline and scikit-learn
model, a wav2vec2 run through its saved checkpoint. Long clips are cut into windows of the length the
model was trained on and the windows' probabilities averaged. Clips reach the features as the corpus'
clips did: at their own rate for a feature set that decodes at the file's rate (mfcc13), else at 16 kHz."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.audio import SAMPLE_RATE, to_mono_resampled
from ..errors import AudioError, SerError
from ..runs import Run, RunError
from ..data.uploads import decode_upload

BASELINE_WINDOW_S = 4.0


@dataclass
class Prediction:
    emotion: str
    probs: dict[str, float]
    handling: str  # "whole clip" or how it was cut


class Predictor:
    """Loads a run's model once; ``predict`` takes mono float32 audio at ``rate`` (16 kHz by default)."""

    def __init__(self, run: Run):
        if run.kind == "evaluation" and run.status == "finished":  # a run scored on another corpus: its model
            from ..runs import load_run

            run = load_run(run.info["spec"]["source_run"])
        if run.status != "finished":
            raise RunError(f"run {run.run_id} is {run.status}; only a finished run can classify clips.")
        self.run = run
        self.window_s = float(run.info["spec"].get("max_seconds") or BASELINE_WINDOW_S)
        self.native_rate = False  # whether the model's features take audio at the file's own rate
        self.device = "cpu"  # where the model runs: a wav2vec2 run's on the GPU when there is one
        self._classify = self._baseline() if run.kind == "baseline" else self._wav2vec2()

    def seen_part(self, name: str) -> str | None:
        """The part of the model's run ("train", "val", "test") holding a clip with this file's name (its stem,
        the corpus' clip id), or None: a clip the model was trained on says little about new voices. Matched
        by name only (a renamed copy is not recognised)."""
        if not hasattr(self, "_parts"):
            try:
                table = self.run.predictions()
                self._parts = dict(zip(table["clip_id"].astype(str), table["part"].astype(str)))
            except (RunError, OSError, KeyError):
                self._parts = {}
        return self._parts.get(Path(name).stem)

    def predict(self, audio: np.ndarray, rate: int = SAMPLE_RATE, name: str = "clip") -> Prediction:
        from ..data.uploads import require_min_length

        require_min_length(name, audio.shape[0], rate)  # (a model's convolutions fail on a few samples, in their words)
        if rate != SAMPLE_RATE and not self.native_rate:
            audio, rate = to_mono_resampled(audio, rate, SAMPLE_RATE, source="clip"), SAMPLE_RATE
        windows, handling = self.windows(audio, rate)
        probabilities = np.mean([self._classify(window, rate) for window in windows], axis=0)
        probs = {label: float(p) for label, p in zip(self.labels, probabilities)}
        return Prediction(max(probs, key=probs.get), probs, handling)

    def warm_up(self) -> None:
        """Classify one made-up second of sound, so that the libraries' one-off start (librosa's compiled
        kernels, the first forward pass: seconds on a CPU) is paid now, e.g. while the user picks a file,
        rather than by the first clip."""
        self.predict((np.random.default_rng(0).standard_normal(SAMPLE_RATE) * 0.05).astype(np.float32))

    def predict_upload(self, name: str, data: bytes) -> tuple[np.ndarray, Prediction]:
        """Decode a file's bytes and classify them: the clip at 16 kHz (to show) and the prediction."""
        audio, rate = decode_upload(name, data)
        prediction = self.predict(audio, rate)
        return to_mono_resampled(audio, rate, SAMPLE_RATE, source=name), prediction

    def windows(self, audio: np.ndarray, rate: int = SAMPLE_RATE) -> tuple[list[np.ndarray], str]:
        size = int(self.window_s * rate)
        if audio.size <= size * 1.25:
            return [audio], "whole clip"
        starts = range(0, audio.size - size // 2, size)
        parts = [audio[s:s + size] for s in starts]
        parts = [p for p in parts if p.size >= rate // 2] or [audio[:size]]
        return parts, f"cut into {len(parts)} windows of {self.window_s:g} s, probabilities averaged"

    def _baseline(self):
        import joblib

        from .features import get_feature_set

        model_path = self.run.path / "model.joblib"
        if not model_path.exists():
            raise RunError(f"run {self.run.run_id} has no model file ({model_path}).")
        model = joblib.load(model_path)  # written by this workbench, never by a user upload
        features = get_feature_set(self.run.info["spec"]["features"])
        self.labels = [str(c) for c in model.classes_]
        self.native_rate = features.native_rate

        def classify(audio, rate):
            vector = np.asarray(features.compute(audio, rate), dtype=np.float64)[None, :]
            if not np.all(np.isfinite(vector)):
                raise AudioError("features are not finite for this clip (is it silent?)")
            return model.predict_proba(vector)[0]

        return classify

    def _wav2vec2(self):
        import torch
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

        folder = self.run.path / "model"
        if not (folder / "config.json").exists():
            raise RunError(f"run {self.run.run_id} has no saved model in {folder}.")
        extractor = AutoFeatureExtractor.from_pretrained(folder)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"  # fp32 on both: the saved model's numbers
        model = AutoModelForAudioClassification.from_pretrained(folder, use_safetensors=True).eval().to(self.device)
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]

        def classify(audio, rate):
            inputs = extractor(audio, sampling_rate=rate, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                logits = model(**inputs).logits
            return torch.softmax(logits.float(), dim=-1)[0].cpu().numpy()

        return classify


def predict_files(run: Run, paths: list[str | Path]) -> list[dict]:
    """One result per file: ``{file, emotion, probs, handling}`` or ``{file, error}``."""
    predictor = Predictor(run)
    results = []
    for path in paths:
        path = Path(path)
        try:
            _, prediction = predictor.predict_upload(path.name, path.read_bytes())
            results.append({"file": str(path), "emotion": prediction.emotion, "probs": prediction.probs,
                            "handling": prediction.handling, "run_part": predictor.seen_part(path.name)})
        except SerError as exc:
            results.append({"file": str(path), "error": f"{exc.title}: {exc.detail}"})
        except OSError as exc:
            results.append({"file": str(path), "error": f"cannot read the file ({exc.strerror or exc})"})
    return results
