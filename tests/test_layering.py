"""The layering DESIGN.md promises: app_pages -> ui -> ser, never back. The engine (ser/) never imports
Streamlit, so the command line and the tests use it without a browser; and `python -m ser corpus` never
loads torch (heavy imports live inside the functions that need them). Also the suite's own rule for tests that
need a Debian package: fail under CI, skip elsewhere."""

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# what each layer must not import: a layer imports only the layers below it
FORBIDDEN = {"ser": {"streamlit", "ui", "app_pages"}, "ui": {"app_pages"}}


def imported_modules(source: str) -> set[str]:
    """Every absolute module an import statement names, wherever it stands (top level, function, try)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def layer_violations(layer: str) -> list[str]:
    found = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for module in sorted(imported_modules(path.read_text(encoding="utf-8"))):
            if module.split(".")[0] in FORBIDDEN[layer]:
                found.append(f"{path.relative_to(ROOT)} imports {module}")
    return found


def test_imported_modules_sees_every_form_of_import():
    source = ("import streamlit as st\nfrom ui.cached import x\nfrom . import config\n"
              "def f():\n    import app_pages.bias\n    from streamlit.testing import v1\n")
    assert imported_modules(source) == {"streamlit", "ui.cached", "app_pages.bias", "streamlit.testing"}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_import_statement_points_up_the_layers(layer):
    assert (ROOT / layer / "__init__.py").exists()  # the layer is there to be read
    assert layer_violations(layer) == []


IMPORT_EVERY_ENGINE_MODULE = """
import importlib, json, pkgutil, sys
import ser
names = [m.name for m in pkgutil.walk_packages(ser.__path__, "ser.") if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted({m.split(".")[0] for m in sys.modules} &
                                                      {"streamlit", "ui", "app_pages"})}))
"""


def test_importing_every_engine_module_loads_no_streamlit():
    """Catches what the statements do not show: an engine module importing a library that imports
    Streamlit, or an importlib call."""
    done = subprocess.run([sys.executable, "-c", IMPORT_EVERY_ENGINE_MODULE], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    walked = {"ser.cli", "ser.data.corpus", "ser.learning.finetune.trainer"}
    assert walked <= set(result["modules"])  # it walked the package
    assert result["loaded"] == []


def test_the_corpus_command_never_loads_torch(crema_folder):
    """`-X importtime` lists every module the process imports, on stderr."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "ser", "corpus", "--data", str(crema_folder),
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    timings = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    messages = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
    ok = done.returncode == 0
    assert ok, messages
    assert json.loads(done.stdout)["clips"] == 24
    imported = {line.rsplit("|", 1)[-1].strip() for line in timings}
    assert "ser.data.corpus" in imported  # the listing is there
    assert sorted({m.split(".")[0] for m in imported} & {"torch", "transformers", "streamlit"}) == []


def test_a_missing_debian_program_fails_under_ci_and_skips_elsewhere(need_program, monkeypatch):
    def outcome() -> tuple[str, str]:
        try:
            need_program("ser-no-such-program", "ser-package")
        except (pytest.fail.Exception, pytest.skip.Exception) as stop:  # caught here, so a skip cannot pass
            return type(stop).__name__, str(stop)
        raise AssertionError("a missing program went unnoticed")

    assert need_program("sh", "dash") == shutil.which("sh")
    monkeypatch.setenv("CI", "true")
    assert outcome() == ("Failed",
                         "ser-no-such-program is missing under CI=true: .ci/run installs Debian's ser-package")
    monkeypatch.delenv("CI")
    assert outcome() == ("Skipped", "ser-no-such-program is missing (apt-get install ser-package)")
