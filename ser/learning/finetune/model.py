"""Load a wav2vec2 checkpoint (hub id or local folder) with a classification head for the corpus' emotions.
A checkpoint that cannot be had (unknown id, no network, incomplete folder) is a ``ModelUnavailable``
that says how to make it available, never a traceback."""

from __future__ import annotations

from pathlib import Path

from ...errors import SerError


class ModelUnavailable(SerError):
    title = "Model cannot be loaded"


def load_model(name: str, labels: list[str]):
    """(model, feature extractor) for ``name``; the classification head has one output per label, in order."""
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    source = _source(name)
    try:
        extractor = AutoFeatureExtractor.from_pretrained(source)
        model = AutoModelForAudioClassification.from_pretrained(
            source, num_labels=len(labels), label2id={label: i for i, label in enumerate(labels)},
            id2label=dict(enumerate(labels)), ignore_mismatched_sizes=True)
    except (OSError, ValueError, KeyError) as exc:  # the hub's errors are OSError/ValueError subclasses
        raise ModelUnavailable(_unavailable_detail(name, exc)) from None
    return model, extractor


def _source(name: str) -> str:
    """A local folder as an absolute path; anything that looks like a path but is missing is refused."""
    text = str(name).strip()
    path = Path(text).expanduser()
    if path.is_dir():
        return str(path.resolve())
    if path.exists() or text.startswith(("/", ".", "~")) or text.count("/") > 1:
        raise ModelUnavailable(f"the folder {text} does not exist. " + _how_to_provide("ORG/MODEL_ID"))
    return text


def _unavailable_detail(name: str, exc: Exception) -> str:
    from huggingface_hub import constants

    reason = _reason(exc)
    if Path(str(name)).expanduser().is_dir():
        return (f"the folder {name} does not hold a usable wav2vec2 checkpoint ({reason}). It needs config.json, "
                "model.safetensors and preprocessor_config.json, as written by the model's and the feature "
                "extractor's save_pretrained.")
    offline = " (offline mode: HF_HUB_OFFLINE is set)" if constants.HF_HUB_OFFLINE else ""
    return (f"{name!r} is neither in the local Hugging Face cache nor downloadable from here{offline}: "
            f"{reason}. " + _how_to_provide(name))


def _how_to_provide(name: str) -> str:
    return (f"On a machine with internet, run `hf download {name}` (`huggingface-cli download {name}` with older "
            "huggingface_hub) and copy its Hugging Face cache (~/.cache/huggingface) here, or save it to a folder "
            f"with `AutoModelForAudioClassification.from_pretrained('{name}').save_pretrained(FOLDER)` and "
            f"`AutoFeatureExtractor.from_pretrained('{name}').save_pretrained(FOLDER)`, copy the folder here and "
            "pass the folder as the model. Check the spelling of the id on huggingface.co.")


def _reason(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    text = text.split(". ")[0].rstrip(".")  # transformers' first sentence says what failed
    return text if len(text) <= 200 else text[:197] + "..."
