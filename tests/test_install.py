"""A plain `pip install .` into a fresh virtual environment, used as a newcomer would.

Builds the wheel, installs it with its dependencies into a new venv, and from a folder outside
the checkout: imports the documented API, finds nothing called core/explorer/assets in
site-packages, sweeps a copy of a shipped model with the `rate2spike` command, and serves the
dashboard with `rate2spike explore` and with `panel serve explorer` from the repository root.
Slow (a minute or two: the dependencies come from pip's cache or the package index).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

import pytest

from browser_support import REPO, free_port

pytestmark = pytest.mark.install


def run(command, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with rate2spike installed from a wheel built from this checkout."""
    root = tmp_path_factory.mktemp("install")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root / "dist"), str(REPO)])
    wheel, = (root / "dist").glob("rate2spike-*.whl")
    venv.create(root / "venv", with_pip=True)
    bin_dir = root / "venv" / "bin"
    # --no-compile: pip would byte-compile every module of every dependency (about 20 s of the 40 s);
    # Python compiles what is imported when it is imported, as for any install
    run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check",
         str(wheel)])
    away = root / "elsewhere"  # never run from the checkout: its folders must not be what gets imported
    away.mkdir()
    return bin_dir, away


def test_a_second_build_in_the_same_checkout_leaves_out_what_the_checkout_no_longer_has(tmp_path):
    """setuptools builds from ``build/lib`` and never empties it (pypa/setuptools#1871): files an
    earlier build copied there (a model file since retrained, a module since removed) went into the
    next wheel. setup.py starts each build from an empty ``build/lib/rate2spike``."""
    import zipfile

    checkout = tmp_path / "checkout"
    tracked = run(["git", "ls-files"], cwd=REPO).stdout.split("\n")
    for name in filter(None, tracked):
        if (REPO / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, checkout / name)
    stale = {"rate2spike/assets/models/go-nogo/P_rec_0.2_Taus_4.0_20.0/Task_go-nogo_retrained_away.mat": b"old",
             "rate2spike/removed_module.py": b"raise ImportError('removed')\n"}
    for name, content in stale.items():
        (checkout / "build" / "lib" / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / "build" / "lib" / name).write_bytes(content)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
         str(checkout)])
    wheel, = (tmp_path / "dist").glob("rate2spike-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not set(stale) & names
    assert "rate2spike/explorer/main.py" in names and sum(name.endswith(".mat") for name in names) == 3


def test_the_documented_imports_come_from_site_packages(installed):
    bin_dir, away = installed
    code = ("import rate2spike, rate2spike.explorer, rate2spike.assets\n"
            "from rate2spike import LIF_network_fnc, lambda_grid_search, evaluate_single_trial, load_model, run_sweep\n"
            "from rate2spike.paths import shipped_models\n"
            "print(rate2spike.__file__); print(len(shipped_models()))")
    file, n_models = run([str(bin_dir / "python"), "-c", code], cwd=away).stdout.split()
    site = Path(file).parent.parent
    assert site.name == "site-packages" and int(n_models) == 3
    assert not {"core", "explorer", "assets"} & {p.name for p in site.iterdir()}
    assert (site / "rate2spike" / "explorer" / "main.py").is_file()


def test_the_command_line_sweeps_a_shipped_model_on_local_dask_workers(installed):
    """The installed command, its Dask workers (separate processes of the venv's Python) included."""
    bin_dir, away = installed
    code = "from rate2spike.paths import shipped_model_dir; print(next(shipped_model_dir('go-nogo').glob('*.mat')))"
    shipped = Path(run([str(bin_dir / "python"), "-c", code], cwd=away).stdout.strip())
    model = away / shipped.name
    shutil.copy(shipped, model)
    out = run([str(bin_dir / "rate2spike"), "sweep", str(model), "--force", "--n-trials", "30",
               "--scaling-factors", "20,40", "--workers", "2"], cwd=away).stdout  # enough trials for a verdict
    assert "Dask: 2 worker(s), dashboard http" in out
    assert "lambda = 20: accuracy" in out and "optimal scaling factor" in out and "saved" in out


def _serves(command, cwd, env=None) -> str:
    """Start a dashboard server, fetch the page once, stop it; returns what it logged."""
    port = free_port()
    log = cwd / f"server-{port}.log"
    with open(log, "wb") as sink:
        server = subprocess.Popen([*command, "--port", str(port)], cwd=cwd, stdout=sink, stderr=subprocess.STDOUT,
                                  env={**os.environ, **(env or {})}, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/explorer", timeout=30) as response:
                        assert response.status == 200 and b"rate2spike explorer" in response.read()
                        break
                except OSError:
                    assert server.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, "the dashboard did not answer"
                    time.sleep(0.5)
        finally:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)
    return log.read_text()


def test_rate2spike_explore_serves_the_dashboard(installed):
    bin_dir, away = installed
    text = _serves([str(bin_dir / "rate2spike"), "explore", "--no-browser"], away)
    assert "Traceback" not in text and "ERROR" not in text, text


def test_panel_serve_explorer_from_the_checkout_uses_the_installed_package(installed, tmp_path):
    bin_dir, _ = installed
    checkout = tmp_path / "checkout"  # a copy, so the server's logs and caches stay out of the repository
    shutil.copytree(REPO / "explorer", checkout / "explorer")
    text = _serves([str(bin_dir / "panel"), "serve", "explorer", "--address", "127.0.0.1"], checkout,
                   {"BOKEH_ALLOW_WS_ORIGIN": "*"})
    assert "Traceback" not in text and "ERROR" not in text, text
