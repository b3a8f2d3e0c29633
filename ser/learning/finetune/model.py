"""Load a wav2vec2 checkpoint (hub id or local folder) with a classification head for the corpus' emotions.
A checkpoint that cannot be had (unknown id, no network, incomplete folder) is a ``ModelUnavailable``
that says how to make it available, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass
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


WEIGHTS = ("model.safetensors", "model.safetensors.index.json")  # safetensors only (a single file or shards)
NEEDED = ("config.json", "preprocessor_config.json")
HUB_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class ModelLocation:
    """Where a checkpoint will come from: ``where`` is ``folder``, ``cache`` or ``hub``; ``message`` says so
    in one sentence for the person who chose it."""

    name: str
    where: str
    message: str


def locate_model(name: str, timeout: float = HUB_TIMEOUT_SECONDS) -> ModelLocation:
    """Check, before a job is queued, that ``name`` can be had: a local folder with its configuration,
    feature extractor and safetensors weights; a hub id whose files are in the local Hugging Face cache;
    or a hub id the hub answers for within ``timeout`` seconds (not asked when HF_HUB_OFFLINE is set).
    Anything else is a ``ModelUnavailable`` that names the model and what to do. Downloads nothing."""
    from huggingface_hub import constants

    text = str(name).strip()
    if not text:
        raise ModelUnavailable("no model given: choose one of the suggested checkpoints, or give a hub id "
                               "(ORG/MODEL_ID) or a local folder.", title="No model")
    source = _source(text)
    if Path(source).is_dir():
        return _check_folder(text, Path(source))
    if _in_cache(source):
        return ModelLocation(source, "cache", f"{source} is in the local Hugging Face cache "
                                              f"({constants.HF_HUB_CACHE}).")
    if constants.HF_HUB_OFFLINE:
        raise ModelUnavailable(f"{source!r} is not in the local Hugging Face cache ({constants.HF_HUB_CACHE}) and "
                               "HF_HUB_OFFLINE is set, so the hub is not asked. " + _how_to_provide(source))
    return _ask_hub(source, timeout)


def _check_folder(text: str, folder: Path) -> ModelLocation:
    missing = [f for f in NEEDED if not (folder / f).is_file()]
    if not any((folder / f).is_file() for f in WEIGHTS):
        missing.append("model.safetensors")
    if missing:
        raise ModelUnavailable(f"the folder {text} lacks {', '.join(missing)}: a usable wav2vec2 checkpoint holds "
                               "config.json, model.safetensors and preprocessor_config.json, as written by the "
                               "model's and the feature extractor's save_pretrained.")
    return ModelLocation(str(folder), "folder", f"{text} is a local folder with a checkpoint (safetensors weights).")


def _in_cache(repo_id: str) -> bool:
    """Whether the configuration, the feature extractor's settings and weights of ``repo_id`` are all in the
    local Hugging Face cache (as ``hf download`` leaves them)."""
    from huggingface_hub import try_to_load_from_cache

    def cached(filename: str) -> bool:
        try:
            return isinstance(try_to_load_from_cache(repo_id, filename), str)
        except ValueError:  # not a valid repo id
            return False

    return all(cached(f) for f in NEEDED) and any(cached(f) for f in (*WEIGHTS, "pytorch_model.bin"))


def _ask_hub(repo_id: str, timeout: float) -> ModelLocation:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError

    try:
        info = HfApi().model_info(repo_id, timeout=timeout)
    except GatedRepoError:
        raise ModelUnavailable(f"{repo_id} is gated on the hub: accept its terms on huggingface.co and log in "
                               "(`hf auth login`). " + _how_to_provide(repo_id)) from None
    except (RepositoryNotFoundError, HFValidationError):
        raise ModelUnavailable(f"the hub has no model {repo_id!r} and it is not in the local Hugging Face cache. "
                               "Check the spelling of the id on huggingface.co, or give a local folder.") from None
    except Exception as exc:  # no network, a proxy, a timeout: the hub cannot be reached from here
        raise ModelUnavailable(f"{repo_id!r} is not in the local Hugging Face cache and the hub did not answer "
                               f"within {timeout:g} s ({type(exc).__name__}: {_reason(exc)}). "
                               + _how_to_provide(repo_id)) from None
    files = {s.rfilename for s in info.siblings or []}
    if files and "config.json" not in files:
        raise ModelUnavailable(f"{repo_id} on the hub has no config.json: it is not a transformers checkpoint. "
                               "Pick a wav2vec2 checkpoint, e.g. facebook/wav2vec2-base.")
    return ModelLocation(repo_id, "hub", f"{repo_id} is not in the local Hugging Face cache; the hub has it and "
                                         "the worker will download it when the job starts.")
