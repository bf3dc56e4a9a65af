"""Where the shipped models live, finding model files in a directory, which rate2spike this is, and
opening the files rate2spike keeps beside models (locks, journals) without trusting what is there."""

from __future__ import annotations

import errno
import importlib.metadata
import os
import stat
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
    """The spikeRNN-style folder of the shipped models for one task, ``models/<task>/P_rec_0.2_Taus_<min>_<max>``:
    named after the model's decay range, which differs by task (xor's is 4-50 steps, assets/README.md says
    why). With no such folder, or several, the task's folder (the searches look in its subfolders)."""
    task_dir = assets_dir() / "models" / task
    folders = sorted(task_dir.glob("P_rec_*")) if task_dir.is_dir() else []
    return folders[0] if len(folders) == 1 else task_dir


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


class NotOurFile(OSError):
    """A path where rate2spike keeps a file of its own holds something else (a link, a folder, a
    FIFO, a file with other names): writing there could change a file outside the folder, or hang."""


def kind_of(path) -> str:
    """What is at ``path`` (not following a link), for a message: 'a symbolic link', 'a FIFO', ..."""
    try:
        return describe_mode(os.lstat(path).st_mode)
    except OSError:
        return "gone"


def describe_mode(mode: int) -> str:
    """What a file of this ``st_mode`` is: 'a symbolic link', 'a directory', 'a FIFO', ..."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISREG(mode):
        return "a regular file"
    return "a special file (socket or device)"


def open_regular(path, flags: int, mode: int = 0o644, one_name: bool = True) -> int:
    """A descriptor of ``path`` opened with ``flags`` if it is a regular file (with one name, for
    ``one_name``: a hard link would make a write reach another file).

    A planted link is not followed (O_NOFOLLOW) and a FIFO cannot block the open (O_NONBLOCK);
    anything else is closed again and refused with a NotOurFile naming the path and what it is, so
    no file outside the folder, or not made here, is written."""
    path = Path(path)
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK, errno.EISDIR, errno.ENXIO, errno.EOPNOTSUPP):
            raise NotOurFile(f"{path}: is {kind_of(path)}, not a file rate2spike made; refused, nothing was "
                             "written (remove it if it is not yours)") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or (one_name and info.st_nlink != 1):
        os.close(fd)
        what = kind_of(path) if not stat.S_ISREG(info.st_mode) else f"a file with {info.st_nlink} names (hard links)"
        raise NotOurFile(f"{path}: is {what}, not a file rate2spike made; refused, nothing was written "
                         "(remove it if it is not yours)")
    return fd
