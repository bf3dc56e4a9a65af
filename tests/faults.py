"""Helpers for the fault suite: hostile files and processes run without root's overrides."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import scipy.io

from conftest import model_variables

MI_INT8, MI_INT32, MI_UINT32, MI_DOUBLE, MI_MATRIX, MI_COMPRESSED = 1, 5, 6, 9, 14, 15
MX_DOUBLE_CLASS = 6


def _tag(data_type: int, nbytes: int) -> bytes:
    return struct.pack("<II", data_type, nbytes)


def compressed_zeros_variable(name: str, shape: tuple[int, int]) -> bytes:
    """A MAT v5 element: a compressed double matrix of zeros. A few MB on disk that declare (and
    decompress to) rows x cols x 8 bytes, written by streaming zlib, never held in memory."""
    nbytes = shape[0] * shape[1] * 8
    label = name.encode()
    flags = _tag(MI_UINT32, 8) + struct.pack("<II", MX_DOUBLE_CLASS, 0)
    dims = _tag(MI_INT32, 8) + struct.pack("<ii", *shape)
    name_part = _tag(MI_INT8, len(label)) + label + b"\0" * (-len(label) % 8)
    body = flags + dims + name_part + _tag(MI_DOUBLE, nbytes)
    compressor = zlib.compressobj(1)
    chunks = [compressor.compress(_tag(MI_MATRIX, len(body) + nbytes) + body)]
    block = bytes(2**24)
    for _ in range(nbytes // len(block)):
        chunks.append(compressor.compress(block))
    chunks.append(compressor.compress(bytes(nbytes % len(block))))
    chunks.append(compressor.flush())
    data = b"".join(chunks)
    return _tag(MI_COMPRESSED, len(data)) + data


def bomb_file(path: Path, shape=(10000, 8000), **model) -> Path:
    """A valid model file plus one extra variable that decompresses to 640 MB."""
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, model_variables(**model), do_compression=True)
    path.write_bytes(buffer.getvalue() + compressed_zeros_variable("extra", shape))
    return path


def unprivileged(command: list[str]) -> list[str]:
    """The command run without root's power to write read-only files and folders (CI runs as
    root); as another user the command is unchanged."""
    if os.geteuid() == 0:
        return ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--", *command]
    return command


def rate2spike_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rate2spike.cli", *args]


def run(command, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
