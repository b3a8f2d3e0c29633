"""Job parameters, declared once. A job's spec is a dataclass (``BaselineSpec``, ``FinetuneSpec``,
``LrSearchSpec``) whose fields are made with ``param``: besides its default, each field carries in its
``metadata`` the help text, the choices (value -> label), its label on a page, its command-line flag and
the bounds of a page's number box. The command line's options are generated from the fields
(``add_options``, as Hugging Face's ``HfArgumentParser`` does) and the pages' widgets read the same fields
(``ui.spec_form``), so a default, a choice or a help text changes in one place and both faces follow.

Plain Python: importing this module loads neither Streamlit nor torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError


def param(default: Any, help: str, *, label: str | None = None, choices: Mapping | tuple | list | None = None,
          flag: str | None = None, cli: bool = True, page: bool = True, cli_required: bool = False,
          minimum: float | None = None, maximum: float | None = None, step: float | None = None,
          number_format: str | None = None) -> Any:
    """A spec field with its description.

    ``choices``: the values the field accepts, a mapping value -> label (the label a page shows) or a
    sequence of values (each its own label). ``flag``: the command-line flag (``--field-name`` when not
    given; the option's dest is always the field's name). ``cli`` / ``page`` False keep the field off
    that face: it is set from code or a job file only. ``cli_required``: the command line asks for it
    although the spec has a default (``--model``). ``minimum``, ``maximum``, ``step``, ``number_format``:
    a page's number box (the spec's ``validate`` decides what is accepted)."""
    return dataclasses.field(default=default, metadata={
        "help": help, "label": label, "choices": choices, "flag": flag, "cli": cli, "page": page,
        "cli_required": cli_required, "min": minimum, "max": maximum, "step": step, "format": number_format})


@dataclass(frozen=True)
class Param:
    """One field of a spec as the faces see it."""

    name: str
    type: type  # int, float, str, bool or dict (None stripped from an optional type)
    default: Any
    help: str
    label: str
    choices: dict | None  # value -> label
    flag: str
    cli: bool
    page: bool
    cli_required: bool
    minimum: Any = None
    maximum: Any = None
    step: Any = None
    number_format: str | None = None

    def choice_label(self, value) -> str:
        return str((self.choices or {}).get(value, value))


def spec_params(spec_cls) -> dict[str, Param]:
    """The fields of a spec dataclass, read afresh (a changed default or choice shows at once)."""
    hints = typing.get_type_hints(spec_cls)
    return {f.name: _param(f, _base_type(hints[f.name])) for f in dataclasses.fields(spec_cls)}


def _param(f: dataclasses.Field, kind: type) -> Param:
    meta = f.metadata
    choices = meta.get("choices")
    if choices is not None and not isinstance(choices, Mapping):
        choices = {value: value for value in choices}
    number = (lambda v: None if v is None else kind(v)) if kind in (int, float) else (lambda v: v)
    return Param(name=f.name, type=kind, default=f.default, help=meta.get("help", ""),
                 label=meta.get("label") or f.name.replace("_", " ").capitalize(),
                 choices=dict(choices) if choices is not None else None,
                 flag=meta.get("flag") or "--" + f.name.replace("_", "-"), cli=meta.get("cli", True),
                 page=meta.get("page", True), cli_required=meta.get("cli_required", False),
                 minimum=number(meta.get("min")), maximum=number(meta.get("max")), step=number(meta.get("step")),
                 number_format=meta.get("format"))


def _base_type(hint) -> type:
    """``int | None`` -> int, as HfArgumentParser reads Optional[X]."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        [hint] = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    return typing.get_origin(hint) or hint


# ---------------------------------------------------------------- the command line

def add_options(parser: argparse.ArgumentParser, spec_cls) -> None:
    """One option per field of the spec that is on the command line."""
    for p in spec_params(spec_cls).values():
        if p.cli:
            parser.add_argument(p.flag, **_option(p))


def _option(p: Param) -> dict:
    option: dict[str, Any] = {"dest": p.name}
    if p.type is bool:  # --name / --no-name
        shown = p.flag if p.default else "--no-" + p.flag.removeprefix("--")
        return {**option, "action": argparse.BooleanOptionalAction, "default": p.default,
                "help": f"{p.help} (default: {shown})"}
    option["type"] = p.type
    if p.choices is not None:
        option["choices"] = list(p.choices)
    if p.cli_required:
        return {**option, "required": True, "help": p.help + _labels(p)}
    shown = "" if p.default is None else f" (default: {p.default})"
    return {**option, "default": p.default, "help": p.help + _labels(p) + shown}


def _labels(p: Param) -> str:
    """The choices' labels, where they say more than the values (a page shows them in its select box)."""
    named = {value: label for value, label in (p.choices or {}).items() if label != value}
    return ". " + "; ".join(f"{value}: {label}" for value, label in named.items()) if named else ""


def spec_from_args(spec_cls, args: argparse.Namespace):
    """The spec from parsed options; fields off the command line keep the spec's defaults."""
    return spec_cls(**{p.name: getattr(args, p.name) for p in spec_params(spec_cls).values() if p.cli})


# ---------------------------------------------------------------- files and checks

def spec_from_dict(spec_cls, values: Mapping, what: str):
    """A spec from JSON (a job, run.json); unknown keys are refused by name."""
    known = [f.name for f in dataclasses.fields(spec_cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown {what} parameter(s): {', '.join(unknown)}; the known ones are "
                          f"{', '.join(known)}.", title="Unknown parameter")
    return spec_cls(**values)


def check_choice(spec, name: str, title: str, note: str = "") -> None:
    """Refuse a value that is not among the field's choices, naming the field and the choices."""
    choices = spec_params(type(spec))[name].choices or {}
    value = getattr(spec, name)
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}; choose {one_of(choices)}{note}.", title=title)


def one_of(values) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    values = [str(v) for v in values]
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"
