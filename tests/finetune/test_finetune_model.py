"""locate_model: before a fine-tuning job is queued, the checkpoint is found in a local folder, in the local
Hugging Face cache, or on a hub that answers; anything else is one ModelUnavailable that names the model and
says what to do. No network: the conftest sets HF_HUB_OFFLINE, the hub's answers are stand-ins."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
from huggingface_hub import constants

from ser.learning.finetune.model import ModelUnavailable, locate_model


def test_a_folder_with_a_checkpoint(tiny_model):
    found = locate_model(str(tiny_model))
    assert found.where == "folder" and found.name == str(tiny_model.resolve())
    assert "local folder" in found.message


@pytest.mark.parametrize("missing", ["model.safetensors", "preprocessor_config.json"])
def test_a_folder_without_weights_or_extractor(tiny_model, tmp_path, missing):
    folder = tmp_path / "incomplete"
    shutil.copytree(tiny_model, folder)
    (folder / missing).unlink()
    with pytest.raises(ModelUnavailable) as caught:
        locate_model(str(folder))
    assert str(folder) in caught.value.detail and f"lacks {missing}" in caught.value.detail


def test_a_missing_folder(tmp_path):
    with pytest.raises(ModelUnavailable, match="does not exist"):
        locate_model(str(tmp_path / "nowhere"))


def test_an_empty_name():
    with pytest.raises(ModelUnavailable) as caught:
        locate_model("  ")
    assert caught.value.title == "No model"


def fake_cache(root, repo_id: str, files: list[str]):
    """A Hugging Face cache holding ``files`` of ``repo_id``, laid out as ``hf download`` leaves it."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name in files:
        (snapshot / name).write_text("{}")
    return root


def test_an_id_in_the_local_cache_offline(tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(fake_cache(tmp_path / "hub", "org/ser-model", [
        "config.json", "preprocessor_config.json", "model.safetensors"])))
    found = locate_model("org/ser-model")
    assert found.where == "cache" and "in the local Hugging Face cache" in found.message


def test_an_id_absent_from_an_empty_cache_offline(tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(fake_cache(tmp_path / "hub", "org/other", ["config.json"])))
    asked = []
    monkeypatch.setattr("huggingface_hub.HfApi.model_info", lambda *a, **k: asked.append(a))
    with pytest.raises(ModelUnavailable) as caught:
        locate_model("org/ser-model")
    detail = caught.value.detail
    assert "'org/ser-model' is not in the local Hugging Face cache" in detail and "HF_HUB_OFFLINE" in detail
    assert "hf download org/ser-model" in detail  # what to do
    assert asked == []  # offline: the hub is never asked


def test_cached_config_without_weights_is_not_enough(tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(fake_cache(tmp_path / "hub", "org/ser-model", [
        "config.json", "preprocessor_config.json"])))
    with pytest.raises(ModelUnavailable, match="not in the local Hugging Face cache"):
        locate_model("org/ser-model")


@pytest.fixture
def online(tmp_path, monkeypatch):
    """An empty cache, offline mode off, and the hub's answer replaced by ``answer``."""
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    calls = []

    def answer(result):
        def model_info(self, repo_id, timeout=None, **kwargs):
            calls.append((repo_id, timeout))
            if isinstance(result, Exception):
                raise result
            return result
        monkeypatch.setattr("huggingface_hub.HfApi.model_info", model_info)
        return calls

    return answer


def test_an_id_the_hub_has(online):
    calls = online(SimpleNamespace(siblings=[SimpleNamespace(rfilename=f) for f in (
        "config.json", "preprocessor_config.json", "model.safetensors")]))
    found = locate_model("org/ser-model", timeout=2)
    assert found.where == "hub" and "the hub has it" in found.message
    assert calls == [("org/ser-model", 2)]  # asked once, with the short timeout


def test_an_unreachable_hub(online):
    online(ConnectionError("Name or service not known"))
    with pytest.raises(ModelUnavailable) as caught:
        locate_model("org/ser-model", timeout=2)
    assert "did not answer within 2 s (ConnectionError: Name or service not known)" in caught.value.detail


def test_an_id_the_hub_does_not_know(online):
    from huggingface_hub.errors import RepositoryNotFoundError

    response = SimpleNamespace(headers={}, request=None)  # the hub's 404, as far as the error reads it
    online(RepositoryNotFoundError("404 Client Error: Repository Not Found", response=response))
    with pytest.raises(ModelUnavailable, match="the hub has no model 'org/ser-model'"):
        locate_model("org/ser-model")
