"""The model files one dashboard session may open, and which of them it may write.

The browser only ever sends a label; the catalog maps labels to paths it found itself, so a
page cannot name an arbitrary file on the server. Uploads go to a private temporary folder
per session (removed when the session ends), under a sanitised name, with a size limit.
The page never writes a shipped model or an upload (results go home as a download); files of
the ``--models DIR`` folder are written only when the server was started with ``--allow-save``.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path

from rate2spike.paths import find_model_files, shipped_models

MODELS_ENV = "RATE2SPIKE_MODELS"  # a folder of extra model files, like `--args --models DIR`
ALLOW_SAVE_FLAG = "--allow-save"  # `--args --models DIR --allow-save`: the page may write files of DIR
MAX_UPLOAD_BYTES = 12_000_000  # 12 MB as the browser's upload box counts it (1 MB = 10^6 bytes), the same on both
UPLOAD_CHUNK_BYTES = 1_000_000  # the upload arrives in chunks of this size: an oversized one is refused at its first
MAX_UPLOADS = 20  # files one session may store
SHIPPED, FOLDER, UPLOAD = "shipped", "folder", "upload"


_UPLOAD_DIRS: set[Path] = set()  # every session's private upload folder, removed at exit too


@atexit.register
def _remove_upload_dirs() -> None:
    """A server stopped (SIGTERM ends Bokeh's server normally) removes the folders of sessions
    that never closed."""
    for folder in list(_UPLOAD_DIRS):
        shutil.rmtree(folder, ignore_errors=True)


class UploadError(ValueError):
    """An upload refused before it reached the model loader (size, name)."""


def models_dir_from(argv: list[str], environ=os.environ) -> Path | None:
    """The extra model folder: ``--models DIR`` in the served script's argv, else $RATE2SPIKE_MODELS."""
    for i, arg in enumerate(argv):
        if arg == "--models" and i + 1 < len(argv):
            return Path(argv[i + 1]).expanduser()
        if arg.startswith("--models="):
            return Path(arg.split("=", 1)[1]).expanduser()
    value = environ.get(MODELS_ENV)
    return Path(value).expanduser() if value else None


def allow_save_from(argv: list[str]) -> bool:
    """Whether the server was started with ``--allow-save`` (in the served script's argv)."""
    return ALLOW_SAVE_FLAG in argv


def safe_upload_name(filename: str) -> str:
    """A plain file name for an upload: no folders, only safe characters, ending in .mat."""
    name = Path(str(filename).replace("\\", "/")).name
    name = re.sub(r"[^A-Za-z0-9._+-]", "_", name).lstrip(".") or "upload.mat"
    if not name.lower().endswith(".mat"):
        raise UploadError(f"'{filename}' is not a .mat file; upload a spikeRNN model file (.mat)")
    return name


class ModelCatalog:
    """Labels -> model paths for one session."""

    def __init__(self, models_dir=None, allow_save: bool = False):
        self.models_dir = None if models_dir is None else Path(models_dir)
        self.allow_save = allow_save
        self._paths: dict[str, Path] = {}
        self._kinds: dict[str, str] = {}
        self._upload_dir: Path | None = None
        self.problems: list[str] = []
        self.refresh()

    def refresh(self) -> None:
        """Look again for shipped models and models in the configured folder (uploads stay)."""
        uploads = {k: v for k, v in self._paths.items() if self._kinds[k] == UPLOAD}
        self._paths, self._kinds, self.problems = {}, {}, []
        for path in shipped_models():
            self._add(f"{path.parent.parent.name}/{path.name}", path, SHIPPED)
        if self.models_dir is not None:
            try:
                for path in find_model_files(self.models_dir):
                    relative = path.relative_to(self.models_dir) if path != self.models_dir else Path(path.name)
                    self._add(f"{self.models_dir.name}/{relative.as_posix()}", path, FOLDER)
            except FileNotFoundError as exc:
                self.problems.append(f"model folder: {exc}")
        for label, path in uploads.items():
            self._add(label, path, UPLOAD)

    def _add(self, label: str, path: Path, kind: str) -> str:
        base, k = label, 2
        while label in self._paths and self._paths[label] != path:
            label = f"{base} ({k})"
            k += 1
        self._paths[label] = Path(path)
        self._kinds[label] = kind
        return label

    @property
    def labels(self) -> list[str]:
        return list(self._paths)

    def path(self, label: str) -> Path:
        """The file behind a label; only labels this catalog made are accepted."""
        if label not in self._paths:
            raise KeyError(f"'{label}' is not one of the models this page can open")
        return self._paths[label]

    def writable(self, label: str | None) -> bool:
        """Whether the page may write this file: only a ``--models DIR`` file, with ``--allow-save``."""
        return label is not None and self.allow_save and self._kinds.get(label) == FOLDER

    def label_of(self, path) -> str | None:
        for label, known in self._paths.items():
            if known == Path(path):
                return label
        return None

    def save_upload(self, filename: str, data: bytes) -> Path:
        """Write an upload into the session's private folder (not yet listed: see ``add_upload``)."""
        if len(data) > MAX_UPLOAD_BYTES:
            raise UploadError(f"'{filename}' is {len(data) / 1e6:.1f} MB; uploads are limited to "
                              f"{MAX_UPLOAD_BYTES / 1e6:.0f} MB (start the dashboard with --models DIR "
                              "for larger files)")
        stored = sum(kind == UPLOAD for kind in self._kinds.values())
        if stored >= MAX_UPLOADS:
            raise UploadError(f"this page already holds {stored} uploads, the most one page may keep; reload the "
                              "page to start afresh")
        if self._upload_dir is None:
            self._upload_dir = Path(tempfile.mkdtemp(prefix="rate2spike-upload-"))
            _UPLOAD_DIRS.add(self._upload_dir)
        path = self._upload_dir / safe_upload_name(filename)
        k = 2
        while path.exists():
            path = path.with_name(f"{Path(safe_upload_name(filename)).stem}_{k}.mat")
            k += 1
        path.write_bytes(data)
        return path

    def add_upload(self, path: Path) -> str:
        return self._add(f"upload: {path.name}", path, UPLOAD)

    def discard_upload(self, path: Path) -> None:
        """Forget a rejected upload and delete its file."""
        for label in [k for k, v in self._paths.items() if v == path and self._kinds[k] == UPLOAD]:
            del self._paths[label], self._kinds[label]
        Path(path).unlink(missing_ok=True)

    @property
    def upload_dir(self) -> Path | None:
        return self._upload_dir

    def close(self) -> None:
        """Remove the session's uploads."""
        if self._upload_dir is not None:
            shutil.rmtree(self._upload_dir, ignore_errors=True)
            _UPLOAD_DIRS.discard(self._upload_dir)
            self._upload_dir = None
