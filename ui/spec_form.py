"""Form widgets made from a job spec's fields (ser.params): the label, help, default, choices (with their
labels) and a number box's bounds all come from the dataclass, so a page never restates them. A field's
widget has the key ``<prefix>_<field>``; what the user set is kept when they leave the page and come back
(ui.page_state.kept), not put in the URL (a form starts a job: it does not define a view)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ser.params import spec_params
from ui.page_state import kept


def spec_widget(spec_cls, name: str, prefix: str, container: Any = st, options: list | None = None) -> Any:
    """The widget for one field, in ``container`` (a column, say); returns the value in the field's type.
    ``options``: the values a select box offers where the field has no fixed choices (the feature sets)."""
    p = spec_params(spec_cls)[name]
    key = f"{prefix}_{name}"
    if p.choices is not None or options is not None:
        values = list(options if options is not None else p.choices)
        key = kept(key, values)
        return container.selectbox(p.label, values, index=values.index(p.default), format_func=p.choice_label,
                                   help=p.help, key=key)
    key = kept(key)
    if p.type is bool:
        return container.toggle(p.label, value=p.default, help=p.help, key=key)
    if p.type in (int, float):
        return p.type(container.number_input(p.label, value=p.default, min_value=p.minimum, max_value=p.maximum,
                                             step=p.step, format=p.number_format, help=p.help, key=key))
    return container.text_input(p.label, value=p.default or "", help=p.help, key=key)


def spec_form(spec_cls, prefix: str, columns: int, skip: tuple[str, ...] = (),
              options: dict[str, list] | None = None) -> dict[str, Any]:
    """A widget for every field a page offers (not ``page=False``, not in ``skip``), in the spec's order,
    ``columns`` to a row; returns {field: value}, ready for ``spec_cls(**values)``."""
    names = [name for name in page_fields(spec_cls) if name not in skip]
    values = {}
    for start in range(0, len(names), columns):
        row = st.columns(columns)
        for column, name in zip(row, names[start:start + columns]):
            values[name] = spec_widget(spec_cls, name, prefix, column, (options or {}).get(name))
    return values


def page_fields(spec_cls) -> list[str]:
    """The fields a page offers (those not marked ``page=False``), in the spec's order."""
    return [name for name, p in spec_params(spec_cls).items() if p.page]
