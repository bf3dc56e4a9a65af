"""Where the shipped models live, finding model files in a directory, and which rate2spike this is."""

from __future__ import annotations

import importlib.metadata
import os
from importlib.resources import files
from pathlib import Path

ASSETS_ENV = "RATE2SPIKE_ASSETS"  # overrides the shipped-assets folder


def assets_dir() -> Path:
    """The folder of shipped models: the package ``rate2spike.assets`` (the repository's
    ``assets/`` folder), or $RATE2SPIKE_ASSETS."""
    if os.environ.get(ASSETS_ENV):
        return Path(os.environ[ASSETS_ENV])
    return Path(str(files("rate2spike.assets")))


def shipped_model_dir(task: str = "go-nogo") -> Path:
    """The spikeRNN-style folder of the shipped models for one task."""
    return assets_dir() / "models" / task / "P_rec_0.2_Taus_4.0_20.0"


def shipped_models() -> list[Path]:
    """Every shipped model file, sorted by task then name."""
    root = assets_dir() / "models"
    return sorted(root.glob("*/*/*.mat")) if root.is_dir() else []


def find_model_files(directory) -> list[Path]:
    """All .mat files under a directory (recursively), sorted; a .mat path gives itself."""
    directory = Path(directory)
    if directory.is_file():
        return [directory]
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory}: is not a regular file or a folder (a FIFO, socket or device); give a .mat "
                         "file or a folder of them")
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory")
    return sorted(p for p in directory.rglob("*.mat") if not p.name.startswith("."))


def package_version() -> str:
    """The installed rate2spike's version (recorded in exports and trained files), or 'unknown'."""
    try:
        return importlib.metadata.version("rate2spike")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
