import json
import subprocess
import sys

import pytest

from ser.errors import ConfigError
from ser.learning.finetune import REPORT_MODELS, FinetuneSpec
from ser.learning.finetune.lr_search import round_candidates
from ser.learning.finetune.spec import SCHEDULERS


def test_defaults_are_the_reports_settings():
    spec = FinetuneSpec().validate()
    assert (spec.model, spec.learning_rate, spec.epochs, spec.batch_size, spec.grad_accum) == \
        ("facebook/wav2vec2-base-960h", 1e-4, 10, 32, 1)  # 32 clips per step, in one batch (faster on a GPU)
    assert spec.freeze_feature_encoder and spec.patience == 3 and spec.seed == 3
    assert len(REPORT_MODELS) == 5 and "facebook/wav2vec2-large-100k-voxpopuli" in REPORT_MODELS
    assert set(SCHEDULERS) == {"linear", "cosine", "plateau"}


def test_round_trips_through_json():
    spec = FinetuneSpec(learning_rate=3e-5, scheduler="cosine", max_clips=100)
    assert FinetuneSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@pytest.mark.parametrize("changes, words", [
    ({"learning_rate": 0}, "learning_rate"),
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"scheduler": "step"}, "linear, cosine or plateau"),
    ({"warmup_ratio": 1.5}, "warmup_ratio"),
    ({"split": "loso"}, "actor or report"),
    ({"max_seconds": -1}, "max_seconds"),
    ({"max_clips": 3}, "max_clips"),
    ({"patience": -1}, "patience"),
    ({"model": " "}, "hub id"),
])
def test_bad_settings_name_the_parameter(changes, words):
    with pytest.raises(ConfigError) as error:
        FinetuneSpec(**changes).validate()
    assert words in error.value.detail


def test_unknown_keys_are_refused():
    with pytest.raises(ConfigError, match="lr"):
        FinetuneSpec.from_dict({"lr": 1e-4})


def test_import_stays_light():
    code = ("import sys, ser.learning.finetune, ser.learning.finetune.training, ser.learning.finetune.lr_search; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_round_candidates_step_either_side_and_never_zero():
    assert round_candidates(1e-4, 5e-5, 0.5) == pytest.approx([5e-5, 1.5e-4])
    assert round_candidates(1e-5, 5e-5, 0.5) == pytest.approx([5e-6, 6e-5])  # 1e-5 - 5e-5 < 0
