"""One source per parameter: the job specs' fields (ser.params) decide the CLI's options and the pages'
widgets. For every field, the parser's default and choices and the page's widget are checked against
the field; then every default and choice is changed in the spec alone, and both faces must follow."""

import argparse
from types import MappingProxyType

import pytest
from streamlit.testing.v1 import AppTest

from ser.learning.baselines import BaselineSpec
from ser.cli import build_parser
from ser.errors import ConfigError
from ser.learning.finetune import REPORT_MODELS, FinetuneSpec
from ser.learning.finetune.lr_search import SCHEDULES, LrSearchSpec, run_lr_search
from ser.learning.probe import ProbeSpec
from ser.params import spec_from_args, spec_params
from ser.learning.splits import SPLIT_SCHEMES, SPLITS, splits_for
from apptest import open_page

COMMANDS = {"baseline": [BaselineSpec], "finetune": [FinetuneSpec], "lr-search": [FinetuneSpec, LrSearchSpec],
            "probe": [ProbeSpec]}
PAGES = {"app_pages/baselines.py": ("baseline", [BaselineSpec]),
         "app_pages/finetune.py": ("ft", [FinetuneSpec, LrSearchSpec]),
         "app_pages/layers.py": ("probe", [ProbeSpec])}
SPECIAL_KEYS = {(FinetuneSpec, "model"): "ft_model_choice"}  # a select box of suggestions beside a text box
WIDGETS = ("selectbox", "number_input", "toggle", "text_input")


def command_parser(command: str) -> argparse.ArgumentParser:
    [subparsers] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return subparsers.choices[command]


def option(parser: argparse.ArgumentParser, dest: str) -> argparse.Action | None:
    return next((a for a in parser._actions if a.dest == dest), None)


def check_cli(command: str) -> None:
    parser = command_parser(command)
    for spec_cls in COMMANDS[command]:
        for p in spec_params(spec_cls).values():
            action = option(parser, p.name)
            if not p.cli:
                assert action is None, f"{command}: {p.name} is off the command line, yet has {action.option_strings}"
                continue
            assert action is not None, f"{command} has no option for {spec_cls.__name__}.{p.name}"
            assert p.flag in action.option_strings
            assert action.required == p.cli_required, p.name
            if not p.cli_required:
                assert action.default == p.default, (command, p.name, action.default, p.default)
            assert action.choices == (list(p.choices) if p.choices is not None else None), (command, p.name)


def widget(app: AppTest, key: str):
    for kind in WIDGETS:
        found = [w for w in app.get(kind) if w.key == key]
        if found:
            return found[0]
    return None


def check_page(app: AppTest, page: str) -> None:
    prefix, specs = PAGES[page]
    for spec_cls in specs:
        for p in spec_params(spec_cls).values():
            key = SPECIAL_KEYS.get((spec_cls, p.name), f"{prefix}_{p.name}")
            shown = widget(app, key)
            if not p.page:
                assert shown is None, f"{key} is on {page} though {p.name} is marked page=False"
                continue
            assert shown is not None, f"{page} has no widget {key} for {spec_cls.__name__}.{p.name}"
            assert shown.value == p.default, (key, shown.value, p.default)
            assert shown.label == p.label and shown.help == p.help, key
            if p.choices is not None:
                assert shown.options == [p.choice_label(v) for v in p.choices], key
            if shown.type == "number_input":
                assert (shown.min, shown.max) == (p.minimum, p.maximum), key


@pytest.mark.parametrize("command", COMMANDS)
def test_every_cli_option_is_its_spec_field(command):
    check_cli(command)


FINETUNE_FLAGS = {"--model": "model", "--lr": "learning_rate", "--epochs": "epochs", "--batch-size": "batch_size",
                  "--grad-accum": "grad_accum", "--scheduler": "scheduler", "--warmup": "warmup_ratio",
                  "--patience": "patience", "--split": "split", "--max-seconds": "max_seconds",
                  "--max-clips": "max_clips", "--seed": "seed"}
TODAYS_FLAGS = {  # flag -> dest, as scripts written before the options were generated call them
    "baseline": {"--model": "model", "--features": "features", "--split": "split", "--loso-tuning": "loso_tuning",
                 "--grid": "grid", "--scoring": "scoring", "--seed": "seed", "--jobs": "jobs"},
    "finetune": FINETUNE_FLAGS,
    "lr-search": {**FINETUNE_FLAGS, "--init-lr": "init_lr", "--factor": "factor",
                  "--epochs-per-round": "epochs_per_round", "--max-rounds": "max_rounds", "--schedule": "schedule"},
    "probe": {"--model": "model", "--layers": "layers", "--classifier": "classifier", "--split": "split",
              "--seed": "seed", "--max-clips": "max_clips"},
}


@pytest.mark.parametrize("command", COMMANDS)
def test_todays_flags_keep_their_names_and_dests(command):
    parser = command_parser(command)
    for flag, dest in TODAYS_FLAGS[command].items():
        assert flag in option(parser, dest).option_strings, (command, flag)  # exact, not an abbreviation


def test_todays_flags_and_dests_still_work():
    args = build_parser().parse_args([
        "lr-search", "--model", "m", "--lr", "3e-5", "--epochs", "2", "--batch-size", "4", "--grad-accum", "2",
        "--scheduler", "cosine", "--warmup", "0.2", "--patience", "1", "--split", "report", "--max-seconds", "3",
        "--max-clips", "48", "--seed", "5", "--init-lr", "1e-3", "--factor", "0.25", "--epochs-per-round", "2",
        "--max-rounds", "3", "--schedule", "fixed"])
    assert (args.learning_rate, args.warmup_ratio, args.batch_size, args.grad_accum) == (3e-5, 0.2, 4, 2)
    assert spec_from_args(FinetuneSpec, args) == FinetuneSpec(
        model="m", learning_rate=3e-5, epochs=2, batch_size=4, grad_accum=2, scheduler="cosine", warmup_ratio=0.2,
        patience=1, split="report", max_seconds=3.0, max_clips=48, seed=5)
    assert spec_from_args(LrSearchSpec, args) == LrSearchSpec(init_lr=1e-3, factor=0.25, epochs_per_round=2,
                                                              max_rounds=3, schedule="fixed")
    args = build_parser().parse_args(["baseline", "--model", "rf", "--features", "mfcc-stats", "--split", "loso",
                                      "--loso-tuning", "nested", "--grid", "none", "--scoring", "f1_macro",
                                      "--seed", "7", "--jobs", "2"])
    assert spec_from_args(BaselineSpec, args) == BaselineSpec(
        model="rf", features="mfcc-stats", split="loso", loso_tuning="nested", grid="none", scoring="f1_macro",
        seed=7, jobs=2)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_widget_shows_its_spec_field(monkeypatch, small_demo, page):
    check_page(open_page(monkeypatch, page, small_demo), page)


def changed(p):
    """Another default (and the choices in another order) for a field: what a maintainer might change."""
    if p.choices is not None:
        return list(p.choices)[-1], dict(reversed(list(p.choices.items())))
    if p.type is bool:
        return not p.default, None
    if p.type in (int, float) and p.default is None:
        return 24, None
    if p.type is int:
        return p.default + 1, None
    if p.type is float:
        return (p.default + p.maximum) / 2 if p.maximum is not None else p.default * 2, None
    if p.name == "model" and p.default in REPORT_MODELS:
        return REPORT_MODELS[2], None
    return p.default, None


def change_every_default(monkeypatch) -> int:
    count = 0
    for spec_cls in (BaselineSpec, FinetuneSpec, LrSearchSpec, ProbeSpec):
        for p in spec_params(spec_cls).values():
            default, choices = changed(p)
            field = spec_cls.__dataclass_fields__[p.name]
            monkeypatch.setattr(field, "default", default)
            if choices is not None:
                monkeypatch.setattr(field, "metadata", MappingProxyType({**field.metadata, "choices": choices}))
            count += default != p.default
    return count


def test_a_default_changed_in_the_spec_shows_on_the_cli_and_the_pages(monkeypatch, small_demo):
    before = spec_params(FinetuneSpec)["epochs"].default
    assert change_every_default(monkeypatch) >= 25
    assert spec_params(FinetuneSpec)["epochs"].default == before + 1
    assert spec_params(LrSearchSpec)["schedule"].default == "fixed"
    for command in COMMANDS:
        check_cli(command)
    for page in PAGES:
        check_page(open_page(monkeypatch, page, small_demo), page)


def test_split_schemes_are_declared_once():
    assert set(SPLITS) == set(SPLIT_SCHEMES) == {"actor", "report", "loso"}
    assert spec_params(BaselineSpec)["split"].choices == splits_for("baseline") == SPLITS
    assert spec_params(FinetuneSpec)["split"].choices == splits_for("finetune") == \
        {name: SPLITS[name] for name in ("actor", "report")}
    with pytest.raises(ConfigError, match="unknown split 'loso'; choose actor or report"):
        FinetuneSpec(split="loso").validate()
    with pytest.raises(ConfigError, match="unknown split 'speaker'; choose actor, report or loso"):
        BaselineSpec(split="speaker").validate()


def test_every_search_schedule_has_its_description_for_run_json():
    assert set(spec_params(LrSearchSpec)["schedule"].choices) == set(SCHEDULES)


@pytest.mark.parametrize("spec_cls, what", [(BaselineSpec, "baseline"), (FinetuneSpec, "fine-tuning"),
                                            (LrSearchSpec, "learning-rate search")])
def test_from_dict_refuses_unknown_keys_by_name(spec_cls, what):
    values = {**spec_cls().__dict__, "lr": 1e-4, "C": 1}
    with pytest.raises(ConfigError, match=f"unknown {what} parameter\\(s\\): C, lr;"):
        spec_cls.from_dict(values)
    assert spec_cls.from_dict(spec_cls().__dict__) == spec_cls()


def test_a_search_with_an_unknown_setting_is_refused_by_name():
    with pytest.raises(ConfigError, match="unknown learning-rate search parameter\\(s\\): rounds"):
        run_lr_search(FinetuneSpec(), None, rounds=3)  # refused before the corpus is read
