"""spikeRNN model files (.mat): load, validate, and save results back atomically.

A model file is what the rate trainer wrote (docs/method.md, "Model files"). Files come from the
TensorFlow trainer (float32 arrays, bool ``inh``/``exc``) and from the PyTorch port
(float64, raw unrectified ``w``); vectors may be 1 x K or K x 1. ``load_model`` turns any
of them into one small typed ``RateModel``; every problem is a ``ModelFileError`` that names
the file, the field and what is wrong.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import math
import os
import stat
import tempfile
from contextlib import contextmanager
from functools import partial
from glob import escape as glob_escape
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np
import scipy.io
import scipy.sparse

from rate2spike.limits import MIN_TAU_STEPS, check_scaling_factor
from rate2spike.paths import describe_mode, open_regular
from rate2spike.timegrid import RATE_STEP

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_HDF5_OFFSETS = (0, 512, 1024, 2048)  # where HDF5 looks for its signature (MATLAB v7.3 puts it at 512)
ACTIVATIONS = ("sigmoid", "clipped_relu", "softplus")


class ModelFileError(ValueError):
    """A model file that cannot be used, with the file and field in the message."""

    def __init__(self, path, problem: str, field_name: str | None = None):
        self.path = None if path is None else Path(path)
        self.field = field_name
        self.problem = problem
        where = f"{self.path}" if self.path is not None else "model"
        if field_name:
            where += f": field '{field_name}'"
        super().__init__(f"{where}: {problem}")


class ModelFileChanged(ModelFileError):
    """The file on disk is not the one results were computed from (replaced or removed since it
    was read): saving into it would put one file's results into another."""

    def __init__(self, path, how: str = "changed on disk"):
        ValueError.__init__(self, f"{path} {how} after it was read (it is not the file these results were "
                                  "computed from); nothing was written; run the search again")
        self.path, self.field, self.problem = Path(path), None, how


class NotAModelFile(ModelFileError):
    """A readable MAT file that holds no rate network at all (none of ``NETWORK_FIELDS``): other data,
    such as a saved trial, which a search of a folder skips with a note instead of failing."""


NETWORK_FIELDS = ("w", "w_in", "w_out")  # a model file holds these; a file with none of them is not a model


@dataclass(frozen=True, eq=False)
class RateModel:
    """A trained rate RNN, as read from a spikeRNN model file. Arrays are float64.

    The rate network's quantities are dimensionless (activities r in 0..1 for the sigmoid,
    weights multiply them); its time unit is the 5 ms step. ``w`` and ``w0`` are kept as stored
    (possibly unrectified, PyTorch port); ``recurrent_weights`` gives the effective matrix the
    rate network used, ``decay_constants`` the synaptic decay constants in seconds.
    """

    N: int
    w: np.ndarray  # N x N trained recurrent weights, as stored
    m: np.ndarray  # N x N diagonal Dale sign matrix
    som_m: np.ndarray  # N x N 0/1 connectivity mask
    w_in: np.ndarray  # N x n_inputs input weights
    w_out: np.ndarray  # N readout weights (flat)
    b_out: float  # readout bias of the rate network (the LIF readout has none)
    exc: np.ndarray  # N bool, True for excitatory units
    taus: tuple[float, ...]  # (min, max) or (value,), in rate steps of 5 ms
    taus_gaus: np.ndarray | None  # N trained pre-sigmoid decay parameters
    activation: str = "sigmoid"
    w0: np.ndarray | None = None  # N x N initial recurrent weights
    taus_gaus0: np.ndarray | None = None  # N initial pre-sigmoid decay parameters
    opt_scaling_factor: float | None = None  # lambda found by a stored grid search
    all_perfs: np.ndarray | None = None  # its accuracy per scaling factor
    scaling_factors: np.ndarray | None = None
    scaling_factor_band: np.ndarray | None = None  # lambdas not significantly below the optimum, if stored
    search_verdict: str | None = None  # "converted: ...", "below goal: ..." or "failed: ...", if stored
    recommended_scaling_factor: float | None = None  # the lambda whose output follows the rate network's, if stored
    condition_perfs: dict | None = None  # {condition group: accuracy per scaling factor}, if stored
    path: Path | None = None
    notes: tuple[str, ...] = field(default=())
    file_style: str = "unknown"  # which trainer's files this one looks like (see model_from_dict)
    eval_perf_mean: float | None = None  # the trainer's last evaluation accuracy, if stored
    content_sha256: str | None = None  # SHA-256 of the file's bytes as loaded: results are bound to it
    unfinished_search: bool = False  # opt_scaling_factor was NaN: a search started and not finished (read as none)
    _matrices: dict = field(default_factory=dict, init=False, repr=False)  # recurrent_weights, computed once

    @property
    def n_inputs(self) -> int:
        return self.w_in.shape[1]

    @property
    def dale(self) -> bool:
        """Dale's principle is on when some unit has a negative sign in ``m``."""
        return bool((np.diag(self.m) < 0).any())

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else "(unsaved model)"

    def recurrent_weights(self, use_initial_weights: bool = False, rectify: bool = True) -> np.ndarray:
        """Effective rate-model matrix ``(relu(w) @ m) * som_m`` (``w0`` if asked), N x N,
        row i = the inputs of unit i. ``rectify=False`` skips the relu, as the PyTorch port's
        own LIF code does (to compare the two readings). Computed once per model and choice
        (read-only arrays): every conversion to a LIF network starts from it."""
        key = (use_initial_weights, rectify)
        if key not in self._matrices:
            w = self.w0 if use_initial_weights else self.w
            if w is None:
                raise ModelFileError(self.path, "is missing, so use_initial_weights is not possible", "w0")
            if self.dale and rectify:
                w = np.maximum(w, 0.0)
            matrix = (w @ self.m) * self.som_m
            matrix.flags.writeable = False
            self._matrices[key] = matrix
        return self._matrices[key]

    @property
    def relu_zeroed(self) -> float:
        """Fraction of the nonzero entries of ``w`` that relu sets to zero (0 for TensorFlow-era
        files, which store w rectified; often most of them for PyTorch-era files)."""
        if not self.dale:
            return 0.0
        return float((self.w < 0).sum() / max(1, (self.w != 0).sum()))

    def file_facts(self) -> list[tuple[str, str]]:
        """How the file was read, as (what, finding) lines for people."""
        signs = np.diag(self.m)
        diagonal = np.array_equal(self.m, np.diag(signs)) and set(np.unique(signs)) <= {-1.0, 1.0}
        matches = np.array_equal(signs > 0, self.exc)
        td = self.decay_constants() * 1e3
        facts = [
            ("file style", self.file_style),
            ("recurrent weights w", "relu applied, as the rate network did: "
             f"{self.relu_zeroed:.0%} of nonzero entries zeroed" if self.relu_zeroed else
             "all entries ≥ 0 under Dale's principle: relu changes nothing" if self.dale else
             "no inhibitory units in m: used as stored"),
            ("Dale's principle", f"{'m is diagonal ±1' if diagonal else 'm is NOT a diagonal ±1 matrix'}, "
             f"{'matching' if matches else 'NOT matching'} the unit types: {int(self.exc.sum())} excitatory, "
             f"{int((~self.exc).sum())} inhibitory"),
            ("readout bias b_out", f"{self.b_out:.4g} (used by the rate network only: the LIF readout has no bias, "
             "as in the reference)"),
            ("synaptic decay constants", f"{td.min():.1f} to {td.max():.1f} ms (taus = {', '.join(f'{t:g}' for t in self.taus)} "
             "steps of 5 ms)"),
            ("activation", self.activation),
            ("stored rate accuracy (eval_perf_mean)", "not stored" if self.eval_perf_mean is None
             else f"{self.eval_perf_mean:.3f}"),
        ]
        if self.scaling_factors is not None and (self.opt_scaling_factor is not None or self.search_verdict):
            grid = self.scaling_factors
            optimum = "no optimum stored" if self.opt_scaling_factor is None else f"optimum λ = {self.opt_scaling_factor:g}"
            facts.append(("stored grid search", f"{optimum} on {grid.size} values from {grid.min():g} to {grid.max():g}"))
            if self.search_verdict:
                facts.append(("stored verdict", self.search_verdict))
            if self.recommended_scaling_factor is not None:
                facts.append(("stored recommended λ", f"{self.recommended_scaling_factor:g}"))
        else:
            facts.append(("stored grid search", "none"))
        return facts

    def decay_constants(self, initial: bool = False) -> np.ndarray:
        """Per-unit synaptic decay constants td in seconds (docs/method.md, "Decay constants"): the
        trained ones, or with ``initial`` the untrained network's td0 (from ``taus_gaus0``)."""
        if len(self.taus) == 1:
            return np.full(self.N, self.taus[0] * RATE_STEP)
        gaus = self.taus_gaus0 if initial else self.taus_gaus
        if gaus is None:
            raise ModelFileError(self.path, "is missing, so initial decay constants are unknown", "taus_gaus0")
        low, high = self.taus
        return (1.0 / (1.0 + np.exp(-gaus)) * (high - low) + low) * RATE_STEP

    def decay_steps(self) -> np.ndarray:
        """Per-unit decay constants of the rate model, in 5 ms rate steps."""
        return self.decay_constants() / RATE_STEP


BAND_FIELD = "scaling_factor_band"  # lambdas not significantly below the optimum (rate2spike's addition)
# a search's conclusion and recommendation (rate2spike's additions; rate2spike.verdict)
VERDICT_FIELD, RECOMMENDED_FIELD, RULE_FIELD = "search_verdict", "recommended_scaling_factor", "recommended_rule"
# accuracy per condition group (rows) and scaling factor (columns), and the groups' names joined by "|"
CONDITION_PERFS_FIELD, CONDITION_NAMES_FIELD = "all_perfs_by_condition", "condition_names"
MODEL_FIELDS = ("N", "w", "w0", "m", "som_m", "w_in", "w_out", "b_out", "inh", "exc", "taus", "taus_gaus",
                "taus_gaus0", "activation", "eval_perf_mean", "opt_scaling_factor", "all_perfs", "scaling_factors",
                "scaling_factor_band", CONDITION_PERFS_FIELD, CONDITION_NAMES_FIELD, VERDICT_FIELD,
                RECOMMENDED_FIELD)
MAX_VARIABLE_BYTES = 512 * 2**20  # a variable declared larger than this is refused before it is read
CONTAINER_CLASSES = ("cell", "struct", "object", "function_handle", "opaque")  # sizes not declared up front
_CLASS_BYTES = {"double": 8, "single": 4, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4,
                "uint32": 4, "int64": 8, "uint64": 8, "logical": 1, "char": 2, "sparse": 16}


@contextmanager
def _opened(path: Path) -> Iterator[BinaryIO]:
    """The file, open for reading, once it is known to be a non-empty regular file (a FIFO at the
    path cannot block the open: O_NONBLOCK); a ModelFileError says why not. Everything read of a
    model comes through this one handle, so its digest and its variables are of the same file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    info = os.fstat(fd)
    problem = ("is a directory, not a .mat file; give one model file (`rate2spike sweep` takes a directory "
               "of them)" if stat.S_ISDIR(info.st_mode) else
               f"is {describe_mode(info.st_mode)}, not a .mat file" if not stat.S_ISREG(info.st_mode) else
               "is empty (0 bytes)" if info.st_size == 0 else None)
    if problem is not None:
        os.close(fd)
        raise ModelFileError(path, problem)
    with os.fdopen(fd, "rb") as fh:
        yield fh


def _sha256(fh: BinaryIO) -> str:
    """SHA-256 of an open file's bytes, read in 1 MB pieces (the file is not held in memory)."""
    fh.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        digest.update(chunk)
    fh.seek(0)
    return digest.hexdigest()


def _declared_variables(path: Path, fh: BinaryIO) -> list[tuple[str, tuple, str]]:
    """(name, shape, MATLAB class) of every variable of the open file ``fh``, read from the
    headers only, after checking that it is a MAT file at all (a ModelFileError says why not)."""
    size = fh.seek(0, io.SEEK_END)
    fh.seek(0)
    head = fh.read(_HDF5_OFFSETS[-1] + len(_HDF5_MAGIC))
    if any(head[at:at + len(_HDF5_MAGIC)] == _HDF5_MAGIC for at in _HDF5_OFFSETS) or b"MATLAB 7.3" in head[:128]:
        raise ModelFileError(
            path,
            "is an HDF5 file (MATLAB v7.3, or written by h5py), which rate2spike does not read; re-save it "
            "from MATLAB with save(..., '-v7') or from Python with scipy.io.savemat",
        )
    try:
        fh.seek(0)
        return scipy.io.whosmat(fh)
    except Exception as exc:  # scipy raises many types for corrupt files
        hint = "truncated or corrupt" if size >= 128 else "too short to be a MAT file"
        raise ModelFileError(path, f"is not a readable MAT file ({hint}: {exc})") from None


def _check_declared_sizes(path: Path, declared, names) -> None:
    """Refuse the file if any variable declares more than MAX_VARIABLE_BYTES, or if one of those
    to be read (``names``) has a size that cannot be known before reading it (cells, structs): a
    small compressed file can declare gigabytes, which would only show once decompressed."""
    for name, shape, matlab_class in declared:
        if matlab_class in CONTAINER_CLASSES:
            if name not in names:
                continue
            raise ModelFileError(path, f"is a MATLAB {matlab_class}, whose size cannot be checked before "
                                       "reading it; model files hold numeric arrays and strings", name)
        nbytes = int(np.prod(shape, dtype=np.float64)) * _CLASS_BYTES.get(matlab_class, 8)
        if nbytes > MAX_VARIABLE_BYTES:
            raise ModelFileError(path, f"declares {'x'.join(map(str, shape))} {matlab_class} values "
                                       f"({nbytes / 2**20:,.0f} MB), over the {MAX_VARIABLE_BYTES // 2**20} MB "
                                       "a model file variable may take; nothing was loaded", name)


def read_mat(path, names=None) -> dict:
    """Variables of a MAT file (v4-v7): those in ``names``, or all; a ModelFileError says why not.

    The declared sizes are checked first, from the variable headers, so an oversized variable
    is refused before any of it is read (``MAX_VARIABLE_BYTES``)."""
    path = Path(path)
    with _opened(path) as fh:
        return _variables(path, fh, names)


def _variables(path: Path, fh: BinaryIO, names=None) -> dict:
    """``read_mat`` of an open (seekable, binary) file; ``path`` names it in errors."""
    declared = _declared_variables(path, fh)
    present = [name for name, _shape, _cls in declared if names is None or name in names]
    _check_declared_sizes(path, declared, set(present))
    try:
        fh.seek(0)
        data = scipy.io.loadmat(fh, variable_names=present) if present else {}
    except Exception as exc:
        raise ModelFileError(path, f"is not a readable MAT file (truncated or corrupt: {exc})") from None
    variables = {k: v for k, v in data.items() if not k.startswith("__")}
    # loadmat gives MATLAB logicals (TensorFlow files' inh/exc) as uint8; restore bool so a
    # re-saved file keeps them logical
    for name, _shape, matlab_class in declared:
        if matlab_class == "logical" and name in variables:
            variables[name] = variables[name].astype(bool)
    return variables


def _numeric(path, data, name, required=True):
    if name not in data:
        if required:
            raise ModelFileError(path, "is missing", name)
        return None
    if scipy.sparse.issparse(data[name]):
        raise ModelFileError(path, "is stored as a sparse matrix; model files hold full arrays: re-save it with "
                                   "full(...) in MATLAB or .toarray() in Python", name)
    value = np.asarray(data[name])
    if value.dtype.kind not in "biuf":
        raise ModelFileError(path, f"must be numeric, got {value.dtype}", name)
    value = value.astype(np.float64)
    if not np.isfinite(value).all():
        raise ModelFileError(path, f"has {np.size(value) - np.isfinite(value).sum()} non-finite values (NaN or Inf)", name)
    return value


def _square(path, data, name, n, required=True):
    value = _numeric(path, data, name, required)
    if value is not None and value.shape != (n, n):
        raise ModelFileError(path, f"must be {n} x {n} (N = {n}), got shape {value.shape}", name)
    return value


def _vector(path, data, name, n, required=True):
    value = _numeric(path, data, name, required)
    if value is None:
        return None
    if value.size != n or (value.ndim == 2 and 1 not in value.shape) or value.ndim > 2:
        raise ModelFileError(path, f"must be a vector of {n} values, got shape {value.shape}", name)
    return value.reshape(n)


def _scalar(path, data, name, default=None):
    value = _numeric(path, data, name, required=default is None)
    if value is None:
        return default
    if value.size != 1:
        raise ModelFileError(path, f"must be a single number, got shape {value.shape}", name)
    return float(value.reshape(()))


def _string(path, data, name, default):
    if name not in data:
        return default
    value = data[name]
    if isinstance(value, np.ndarray) and value.dtype.kind == "U" and value.size >= 1:
        return str(value.reshape(-1)[0]).strip()
    if isinstance(value, str):
        return value.strip()
    raise ModelFileError(path, f"must be a string, got {getattr(value, 'dtype', type(value))}", name)


def model_from_dict(data: dict, path=None, content_sha256: str | None = None) -> RateModel:
    """Validate the variables of a model file and build a RateModel (``content_sha256``: the
    digest of the file's bytes they were read from, if from a file).

    Stored grid-search results (opt_scaling_factor, all_perfs, scaling_factors) are read when
    present; leave them out of ``data`` to ignore them (a search that redoes them does). An
    ``opt_scaling_factor`` of NaN (what both references write before they search, so an interrupted
    search leaves it) reads as not searched: every stored result is ignored and a note says so."""
    w = _numeric(path, data, "w")
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] == 0:
        raise ModelFileError(path, f"must be a square N x N matrix, got shape {w.shape}", "w")
    n = w.shape[0]
    if "N" in data:
        stored_n = _scalar(path, data, "N")
        if stored_n != n:
            raise ModelFileError(path, f"says N = {stored_n:g} but 'w' is {n} x {n}", "N")
    m = _square(path, data, "m", n)
    som_m = _square(path, data, "som_m", n)
    w_in = _numeric(path, data, "w_in")
    if w_in.ndim == 2 and w_in.shape[0] == 1 and w_in.shape[1] == n and n != 1:
        w_in = w_in.T  # a single input saved as a 1-D vector comes back as 1 x N
    if w_in.ndim != 2 or w_in.shape[0] != n:
        raise ModelFileError(path, f"must be N x n_inputs with N = {n}, got shape {w_in.shape}", "w_in")
    w_out = _vector(path, data, "w_out", n)
    taus = _numeric(path, data, "taus").reshape(-1)
    notes = []
    if taus.size not in (1, 2) or (taus <= 0).any():
        raise ModelFileError(path, f"must hold one or two positive values (in 5 ms steps), got {taus.tolist()}", "taus")
    if taus.size == 2 and taus[1] < taus[0]:
        raise ModelFileError(path, f"must be (min, max), got {taus.tolist()}", "taus")
    taus_gaus = _vector(path, data, "taus_gaus", n, required=taus.size == 2)
    if taus.min() < MIN_TAU_STEPS:
        notes.append(f"{Path(path).name if path else 'model'}: 'taus' ({', '.join(f'{t:g}' for t in taus)}) goes below "
                     f"{MIN_TAU_STEPS:g} step of 5 ms, where the rate network's Euler step does not decay but flips "
                     "sign (rate2spike's trainer refuses such taus); its rate outputs are not to be trusted")
    w0 = _square(path, data, "w0", n, required=False)
    taus_gaus0 = _vector(path, data, "taus_gaus0", n, required=False)
    sign = np.diag(m)
    if "exc" in data:
        exc = _vector(path, data, "exc", n) > 0
    elif "inh" in data:
        exc = ~(_vector(path, data, "inh", n) > 0)
    else:
        exc = sign >= 0
    activation = _string(path, data, "activation", "sigmoid")
    if activation not in ACTIVATIONS:
        raise ModelFileError(path, f"must be one of {', '.join(ACTIVATIONS)}, got '{activation}'", "activation")
    if (sign < 0).any() and (w < 0).any():
        share = (w < 0).sum() / max(1, (w != 0).sum())
        notes.append(
            f"{Path(path).name if path else 'model'}: 'w' holds negative entries ({share:.0%} of nonzero ones), "
            "as the PyTorch port saves them; rectifying with relu(w) as the rate network did "
            "(the port's own LIF code does not)."
        )
    if np.asarray(data["w"]).dtype == np.float32:
        style = "TensorFlow-era (float32 arrays, w stored rectified)"
    elif (sign < 0).any() and (w < 0).any():
        style = "PyTorch-era (float64 arrays, the raw trained w with negative entries)"
    else:
        style = "float64 arrays, w stored rectified (PyTorch-era or rate2spike's trainer)"
    perf = _scalar(path, data, "eval_perf_mean", default=np.nan) if "eval_perf_mean" in data else None
    stored = _stored_search(path, data, notes)
    return RateModel(
        N=n, w=w, m=m, som_m=som_m, w_in=w_in, w_out=w_out,
        b_out=_scalar(path, data, "b_out", default=0.0), exc=exc,
        taus=tuple(float(t) for t in taus), taus_gaus=taus_gaus, activation=activation,
        w0=w0, taus_gaus0=taus_gaus0, **stored,
        path=None if path is None else Path(path), notes=tuple(notes), file_style=style, eval_perf_mean=perf,
        content_sha256=content_sha256,
    )


def _stored_search(path, data, notes: list) -> dict:
    """The RateModel fields of a stored grid search (None where absent). An ``opt_scaling_factor``
    of NaN, which both references write before searching (an interrupted search leaves it), reads
    as not searched: the stored results are ignored and a note says so."""
    opt = None
    if "opt_scaling_factor" in data:
        value = np.asarray(data["opt_scaling_factor"])
        opt = math.nan if value.dtype.kind == "f" and value.size == 1 and np.isnan(value).all() else \
            _scalar(path, data, "opt_scaling_factor")
    unfinished = opt is not None and math.isnan(opt)
    if unfinished:
        notes.append(f"{Path(path).name if path else 'model'}: opt_scaling_factor is NaN, as a reference grid search "
                     "writes it before searching (this one was interrupted): read as not searched")
        return {"opt_scaling_factor": None, "unfinished_search": True}
    if opt is not None:
        try:
            check_scaling_factor(opt, "the stored optimum")
        except ValueError as exc:
            raise ModelFileError(path, f"{exc} (rerun the grid search with `rate2spike sweep --force`)",
                                 "opt_scaling_factor") from None
    perfs = _numeric(path, data, "all_perfs", required=False)
    factors = _numeric(path, data, "scaling_factors", required=False)
    band = _numeric(path, data, BAND_FIELD, required=False)
    flat = lambda values: None if values is None else values.reshape(-1)  # noqa: E731
    recommended = _scalar(path, data, RECOMMENDED_FIELD, default=np.nan) if RECOMMENDED_FIELD in data else None
    if recommended is not None:
        try:
            check_scaling_factor(recommended, "the stored recommended lambda")
        except ValueError as exc:
            raise ModelFileError(path, str(exc), RECOMMENDED_FIELD) from None
    return {"opt_scaling_factor": opt, "all_perfs": flat(perfs), "scaling_factors": flat(factors),
            "scaling_factor_band": flat(band),
            "condition_perfs": _condition_perfs(path, data, None if factors is None else factors.size),
            "search_verdict": _string(path, data, VERDICT_FIELD, "") or None, "recommended_scaling_factor": recommended}


RESULT_FIELDS = ("opt_scaling_factor", "all_perfs", "scaling_factors", "scaling_factor_band",
                 CONDITION_PERFS_FIELD, CONDITION_NAMES_FIELD, VERDICT_FIELD, RECOMMENDED_FIELD, RULE_FIELD)  # a search's results


def _condition_perfs(path, data, n_factors: int | None) -> dict | None:
    """{group: accuracy per scaling factor} from the two per-condition variables (NaN where a
    lambda saw no trial of that group), or None when the file does not hold them."""
    if CONDITION_PERFS_FIELD not in data or CONDITION_NAMES_FIELD not in data or n_factors is None:
        return None
    names = [n for n in _string(path, data, CONDITION_NAMES_FIELD, "").split("|") if n]
    perfs = np.asarray(data[CONDITION_PERFS_FIELD])
    if perfs.dtype.kind not in "biuf" or perfs.reshape(-1).size != len(names) * n_factors:
        raise ModelFileError(path, f"must be {len(names)} condition(s) x {n_factors} scaling factors, "
                                   f"got shape {perfs.shape}", CONDITION_PERFS_FIELD)
    perfs = perfs.astype(np.float64).reshape(len(names), n_factors)
    return {name: row for name, row in zip(names, perfs)}


def load_model(path, stored_results: bool = True) -> RateModel:
    """Load and validate a spikeRNN model file. Raises ModelFileError naming the problem.

    Only the variables a model uses are read (MODEL_FIELDS): others stay on disk, whatever
    their size. ``stored_results=False`` ignores a stored grid search (to redo it). The model's
    ``content_sha256`` is the digest of the bytes read, from the same open file: results computed
    from the model are saved only into a file that still has it (``save_results``)."""
    path = Path(path)
    fields = MODEL_FIELDS if stored_results else tuple(f for f in MODEL_FIELDS if f not in RESULT_FIELDS)
    with _opened(path) as fh:
        before = os.fstat(fh.fileno())
        digest = _sha256(fh)
        data = _variables(path, fh, fields)
        after = os.fstat(fh.fileno())
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        raise ModelFileError(path, "was written to while it was read; nothing was loaded, try again")
    if not any(name in data for name in NETWORK_FIELDS):
        raise NotAModelFile(path, f"is not a model file: it holds none of {', '.join(NETWORK_FIELDS)} (the rate "
                                  "network's weights); a saved trial or other data?")
    return model_from_dict(data, path, content_sha256=digest)


def as_model(model_or_path) -> RateModel:
    """Accept a RateModel or a path to one (the compat API takes either)."""
    return model_or_path if isinstance(model_or_path, RateModel) else load_model(model_or_path)


TEMP_SUFFIX = ".tmp"  # our temporary files: .<name>.<random>.tmp beside the target


def _remove_stale_temporaries(path: Path) -> None:
    """Remove temporary files a killed writer left beside ``path``. A writer holds an exclusive
    lock on its temporary file while it writes, so a file we can lock is nobody's. Only regular
    files are touched, never through a link, and a FIFO planted under such a name cannot block."""
    for stale in path.parent.glob(f".{glob_escape(path.name)}.*{TEMP_SUFFIX}"):
        try:
            fd = open_regular(stale, os.O_RDONLY, one_name=False)
        except OSError:  # not a regular file, or already gone
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            stale.unlink()
        except OSError:  # still being written by someone, or already gone
            continue
        finally:
            os.close(fd)


def check_writable(path) -> None:
    """Raise a PermissionError naming the file unless it can be replaced: the file itself must
    be writable (a read-only file is not replaced behind its owner's back, even by root) and so
    must its folder (the new file is renamed into it)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a directory, not a file; nothing was written")
    if path.exists() and (not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222):
        raise PermissionError(f"{path}: the file is read-only; nothing was written")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{path}: its folder {path.parent} is not writable; nothing was written")


def _savemat(variables: dict, fh: BinaryIO) -> None:
    scipy.io.savemat(fh, variables, do_compression=True, oned_as="row")


def current_umask() -> int:
    """The process's umask, read without changing it where Linux tells it (/proc), else by setting
    and restoring it."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The permissions of a file rate2spike creates (a model, a trial, a CSV, a report): those of a
    plain ``open()``, 0666 less the umask (0644 with the usual umask 022), the same for every output."""
    return 0o666 & ~current_umask()


@contextmanager
def written_temporary(target: Path, variables: dict | None = None,
                      write: Callable[[BinaryIO], None] | None = None) -> Iterator[str]:
    """A complete file in a temporary file beside ``target`` (a MAT file of ``variables``, or what
    ``write`` writes to it), flushed to disk, and locked until the ``with`` block ends (a file we
    can lock is nobody's, see ``_remove_stale_temporaries``). The block publishes it (rename,
    link); whatever is left of it afterwards, on success or error, is removed. The temporary's
    name is unpredictable and made with O_EXCL, so nothing planted there is written. It gets the mode
    of a new file (``new_file_mode``); ``write_atomic`` gives a replaced file's own mode back."""
    write = write if write is not None else partial(_savemat, variables)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    try:
        os.fchmod(fd, new_file_mode())  # not mkstemp's 0600: every output gets a plain open()'s mode
        with os.fdopen(fd, "wb") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
            yield tmp
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_atomic(path, write: Callable[[BinaryIO], None]) -> None:
    """Write a file (``write`` fills an open binary file) so that readers see the old file or the
    new one, never a mix, and a link at ``path`` is replaced, not written through.

    Writes a temporary file beside the target (locked while written), flushes it to disk, then
    renames it over the target; on any error, Ctrl-C or SIGTERM (the CLI turns it into an
    exception) the temporary file is removed and the target is untouched. Temporary files left
    by a writer that was killed outright (SIGKILL) are removed by the next write.
    """
    path = Path(path)
    check_writable(path)
    _remove_stale_temporaries(path)
    with written_temporary(path, write=write) as tmp:
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)


def write_mat_atomic(path, variables: dict) -> None:
    """Write a MAT file of ``variables`` atomically (``write_atomic``)."""
    write_atomic(path, partial(_savemat, variables))


def file_sha256(path) -> str:
    """SHA-256 of a model file's bytes, read in pieces (a FIFO or a folder is refused, not waited on)."""
    with _opened(Path(path)) as fh:
        return _sha256(fh)


def check_unchanged(path, expected_sha256: str) -> None:
    """Raise a ModelFileChanged naming ``path`` unless its bytes still have the digest
    ``expected_sha256`` (a search checks its file before starting on it)."""
    try:
        digest = file_sha256(path)
    except ModelFileError as exc:
        if exc.problem == "no such file":
            raise ModelFileChanged(path, "was removed") from None
        raise
    if digest != expected_sha256:
        raise ModelFileChanged(path)


def unchanged_bytes(path, expected_sha256: str) -> bytes:
    """The bytes of ``path``, read once, if they still have the digest ``expected_sha256`` (that of
    the model results were computed from); else a ModelFileChanged naming the file."""
    path = Path(path)
    try:
        with _opened(path) as fh:
            raw = fh.read()
    except ModelFileError as exc:
        if exc.problem == "no such file":
            raise ModelFileChanged(path, "was removed") from None
        raise
    if hashlib.sha256(raw).hexdigest() != expected_sha256:
        raise ModelFileChanged(path)
    return raw


def with_results(path, updates: dict, expected_sha256: str | None = None) -> dict:
    """The variables of a model file with ``updates`` added or replaced (numbers as float64, text
    as text); an update to a grid search replaces all of the old one's variables (RESULT_FIELDS), every
    other variable keeps its value, dtype and shape. The file is validated first. With
    ``expected_sha256`` (``RateModel.content_sha256``) the file is read once, checked to be the one
    the results came from (``unchanged_bytes``) and merged from those same bytes."""
    path = Path(path)
    if expected_sha256 is None:
        data = read_mat(path)
    else:
        data = _variables(path, io.BytesIO(unchanged_bytes(path, expected_sha256)))
    model_from_dict(data, path)
    merged = dict(data)
    if "opt_scaling_factor" in updates or VERDICT_FIELD in updates:  # a new search: none of the old one's rows
        for name in RESULT_FIELDS:
            merged.pop(name, None)
    for name, value in updates.items():
        merged[name] = value if isinstance(value, str) else np.asarray(value, dtype=np.float64)
    return merged


def save_results(path, updates: dict, expected_sha256: str | None = None) -> None:
    """Add or replace variables in an existing model file, keeping every other variable.

    A file that does not load as a model is not modified, nor one whose bytes no longer have the
    digest ``expected_sha256`` (the model the results came from); the new file replaces the old
    one atomically."""
    write_mat_atomic(path, with_results(path, updates, expected_sha256))


def results_bytes(path, updates: dict, expected_sha256: str | None = None) -> bytes:
    """The model file with ``updates``, as the bytes of a new .mat file (for a download):
    the file on disk is not touched (``expected_sha256`` as in ``save_results``)."""
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, with_results(path, updates, expected_sha256), do_compression=True, oned_as="row")
    return buffer.getvalue()


def grid_search_variables(scaling_factors, all_perfs, opt_scaling_factor, band=None, conditions=None,
                          verdict: str | None = None, recommended: float | None = None, rule: str | None = None) -> dict:
    """A grid search's outcome under the reference's names and shapes, and rate2spike's extras: the
    lambda band (every lambda not significantly below the best), ``scaling_factor_band``; the
    accuracy per condition group, ``all_perfs_by_condition`` (groups x lambdas, NaN where a lambda
    saw no trial of a group) with ``condition_names`` ("Go|NoGo"); the verdict (``search_verdict``)
    and the recommended lambda with its rule. ``opt_scaling_factor=None`` stores no optimum (a failed
    conversion, whose first maximum is not a result)."""
    variables = {
        "all_perfs": np.asarray(all_perfs, dtype=np.float64).reshape(1, -1),
        "scaling_factors": np.asarray(scaling_factors, dtype=np.float64).reshape(1, -1),
    }
    if opt_scaling_factor is not None:
        variables["opt_scaling_factor"] = float(opt_scaling_factor)
    if verdict is not None:
        variables[VERDICT_FIELD] = verdict
    if recommended is not None:
        variables[RECOMMENDED_FIELD] = float(recommended)
        variables[RULE_FIELD] = rule or ""
    if band is not None:
        variables[BAND_FIELD] = np.asarray(band, dtype=np.float64).reshape(1, -1)
    if conditions:
        variables[CONDITION_PERFS_FIELD] = np.array([np.asarray(v, dtype=np.float64) for v in conditions.values()])
        variables[CONDITION_NAMES_FIELD] = "|".join(conditions)
    return variables


def save_grid_search(path, scaling_factors, all_perfs, opt_scaling_factor, band=None, conditions=None,
                     expected_sha256: str | None = None) -> None:
    """Store a grid search's outcome (its lambda band and per-condition accuracy, if given) in the
    model file (atomically, keeping every other variable), if the file is still the one searched
    (``expected_sha256``: the searched model's ``content_sha256``)."""
    save_results(path, grid_search_variables(scaling_factors, all_perfs, opt_scaling_factor, band, conditions),
                 expected_sha256)


def declared_shapes(path) -> dict[str, tuple]:
    """The shape of every variable of a MAT file, read from its headers alone (nothing is
    decompressed beyond them): what a model will cost can be known before loading it."""
    with _opened(Path(path)) as fh:
        return {name: tuple(shape) for name, shape, _cls in _declared_variables(Path(path), fh)}
