import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from crema_layout import write_crema_folder  # noqa: E402

SHARED_CREMA = ROOT.parent / "shared" / "datasets" / "crema-d"


def debian_program(program: str, package: str) -> str:
    """The path of ``program`` (a name on PATH or an absolute path), which Debian's ``package`` provides.
    Missing, it fails the test under CI (CI=true: .ci/run installs the package, so absence is a broken
    setup) and skips it elsewhere, saying what to install."""
    found = shutil.which(program)
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(f"{program} is missing under CI=true: .ci/run installs Debian's {package}")
    pytest.skip(f"{program} is missing (apt-get install {package})")


@pytest.fixture
def need_program():
    """debian_program itself (a conftest is not importable by name: tests/finetune has one too)."""
    return debian_program


@pytest.fixture
def ffmpeg() -> str:
    return debian_program("ffmpeg", "ffmpeg")


@pytest.fixture
def redis_server() -> str:
    return debian_program("redis-server", "redis-server")


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium, the browser Playwright drives (its own browser download cannot work offline)."""
    return debian_program("/usr/bin/chromium", "chromium")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own cache and no SER_DATA, so nothing touches the project's cache/."""
    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SER_DATA", raising=False)
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def crema_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("crema-template")
    write_crema_folder(root)
    return root


@pytest.fixture
def crema_folder(crema_template, tmp_path) -> Path:
    """A fresh copy of a small CREMA-D-layout folder (2 actors, 2 sentences, 24 clips)."""
    target = tmp_path / "CREMA-D"
    shutil.copytree(crema_template, target)
    return target


@pytest.fixture
def shared_crema() -> Path:
    if not (SHARED_CREMA / "VideoDemographics.csv").exists():
        pytest.skip(f"real CREMA-D metadata not present at {SHARED_CREMA}")
    return SHARED_CREMA


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> Path:
    """A 6-actor demo corpus (492 clips): enough speakers for actor-disjoint splits and grouped CV."""
    from ser.data.demo import generate_demo_corpus

    return generate_demo_corpus(tmp_path_factory.mktemp("small-demo") / "demo", actors=6, seed=1)


@pytest.fixture(scope="session")
def small_demo_features(small_demo, tmp_path_factory) -> Path:
    """The small demo's mfcc13 feature cache folder, extracted once per test process; copy it into a test's
    cache (``cache/features``) to skip the extraction (each test has its own cache)."""
    from ser.data.corpus import load_corpus
    from ser.learning.features import extract_features

    cache = tmp_path_factory.mktemp("small-demo-features")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SER_CACHE", str(cache))
        extract_features(load_corpus(small_demo), "mfcc13")
    return cache / "features"


def _stop_workers(cache: Path) -> None:
    """Kill worker processes this test started (through a fixture or the app)."""
    import json
    import signal

    from ser.jobs import worker

    for process in list(worker._started):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        worker._started.remove(process)
    for beat in (cache / "workers").glob("*.json") if (cache / "workers").exists() else []:
        try:
            pid = json.loads(beat.read_text())["pid"]
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, KeyError):
            pass


@pytest.fixture(scope="session")
def stop_workers():
    """_stop_workers itself, for fixtures with a cache of their own."""
    return _stop_workers


@pytest.fixture(autouse=True)
def no_stray_workers(isolated_cache):
    yield
    _stop_workers(isolated_cache)


@pytest.fixture
def worker_process(isolated_cache):
    """A real `python -m ser worker` on this test's cache, alive (heartbeat written) when yielded."""
    import subprocess
    import time

    from ser.jobs.worker import live_workers

    log = open(isolated_cache.parent / "worker.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "ser", "worker"], cwd=ROOT, stdout=log, stderr=log,
                               env={**os.environ}, start_new_session=True)
    deadline = time.monotonic() + 60
    while not any(w["pid"] == process.pid for w in live_workers()):
        assert process.poll() is None, (isolated_cache.parent / "worker.log").read_text()
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.2)
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
    log.close()
