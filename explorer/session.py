"""One explorer session: its inputs as parameters, the trial they describe, and its sweep.

Data flows one way, each step a declared reaction (``param.depends(watch=True)``):

    model_label -> model (and its task) -> spec (a TrialSpec) -> trial (a ScoredTrial) -> views

Controls only set parameters; a parameter change rebuilds the spec, and a new spec is run.
Views and exports read lambda, seed and every setting from ``trial``, never from the controls,
so what they show is always what was simulated. A model that fails to load, a bad upload or
unreadable stimulation units set ``error`` and leave the previous model and trial in place.

``ExplorerSession`` knows nothing of the page that shows it (``app.ExplorerPage``, a
``pn.viewable.Viewer`` over it). Being parameters, the whole session is testable without a
server or a browser.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import numpy as np
import param

from rate2spike.explorer.catalog import ModelCatalog, UploadError
from rate2spike.explorer.frames import WINDOWS, stimulation_words
from rate2spike.explorer.limits import ServerLimits, check_declared_units, check_trial_cost
from rate2spike.explorer.offload import Offloader
from rate2spike.explorer.presets import presets
from rate2spike.explorer.shared import SHARED_PRESETS, SHARED_TRIALS, spec_identity
from rate2spike.explorer.sweep_queue import RUNNING, SHARED_SWEEPS, WAITING, SweepQueue, SweepTicket
from rate2spike.explorer.sweeps import BackgroundSweep, SweepSnapshot, sweep_grid
from rate2spike.limits import MIN_LAMBDA
from rate2spike.model import (ModelFileError, RateModel, load_model, results_bytes, save_results,
                              unchanged_bytes)
from rate2spike.network import Stimulation, parse_units
from rate2spike.search import SearchOptions
from rate2spike.timegrid import lif_dt
from rate2spike.tasks import RANDOM, TASKS, Task, get_task, infer_task, tasks_for
from rate2spike.trial import (DEFAULT_SCALING_FACTOR, RATE_MODEL, RateResponseCache, ScoredTrial, TrialSpec,
                              default_scaling_factor, run_trial)

LAMBDA_BOUNDS = (1.0, 200.0)  # the sweep card's λ range, the presets' search and the side-by-side defaults
LAMBDA_STEP = 0.5  # the λ slider's and number box's step; slider values are snapped to it (internals.OnStep)
SLIDER_MARGIN = 0.5  # the λ slider spans the model's search grid and this fraction of its span on each side
MAX_SIDE_BY_SIDE = 3  # λ values compared side by side
ON_CHANGE_RECORDINGS = ("spikes", RATE_MODEL)  # what the output and the raster draw: simulated on every change
VIEW_RECORDINGS = ("voltage", "spikes", "rate", RATE_MODEL)  # what every view draws; currents are not drawn


def _message(exc: BaseException, path=None, shown: str | None = None) -> str:
    """An exception as one line for the page; the server's path to ``path`` (which would tell a
    visitor where the server keeps its files) is replaced by the name the page shows."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return text.replace(str(path), shown) if path is not None and shown is not None else text


def slider_range(grid, current: float, margin: float = SLIDER_MARGIN,
                 step: float = LAMBDA_STEP) -> tuple[float, float]:
    """The λ slider's span: the search ``grid`` (the sweep's, else the one stored in the file, else the
    reference's 20-75) and ``margin`` of its span on each side, on whole steps, from one step up;
    widened to ``current`` with a tenth to spare when that lies outside. The reference's grid gives
    0.5-102.5: the whole slider is the useful range (it was 1-200, two thirds of it past any optimum)."""
    from rate2spike.sweep import DEFAULT_SCALING_FACTORS

    values = np.asarray(DEFAULT_SCALING_FACTORS if grid is None or np.size(grid) == 0 else grid, dtype=float)
    low, high = float(values.min()), float(values.max())
    spare = margin * (high - low) if high > low else margin * high
    low, high = min(low - spare, current), max(high + spare, current * 1.1)
    low, high = np.floor(round(low / step, 9)) * step, np.ceil(round(high / step, 9)) * step  # 440.00000000000006: 440
    return float(max(min(step, current), low)), float(high)


def has_initial_decay(model) -> bool:
    """Whether a model can run with its initial decay constants td0 (one fixed tau, or taus_gaus0)."""
    return model is not None and (len(model.taus) == 1 or model.taus_gaus0 is not None)


class ExplorerSession(param.Parameterized):
    """The state of one dashboard session."""

    # --- inputs --------------------------------------------------------------------------
    # not checked on set: a label from a tampered page reaches _open_model, which refuses it with a
    # message and shows the real current model again
    model_label = param.Selector(default=None, objects=[], allow_None=True, check_on_set=False, label="Model")
    task_name = param.Selector(default=next(iter(TASKS)), objects=list(TASKS), label="Task")
    condition = param.Dict(default={}, doc="Factor -> level; a factor not named (or 'random') is drawn from the seed.")
    task_options = param.Dict(default={}, doc="The task's options (mante: evidence_strength).")
    # any λ the method allows (the number box takes it); the slider spans ``lambda_range``
    scaling_factor = param.Number(default=DEFAULT_SCALING_FACTOR, bounds=(MIN_LAMBDA, None), step=LAMBDA_STEP,
                                  label="Scaling factor λ")
    lambda_range = param.Range(default=slider_range(None, DEFAULT_SCALING_FACTOR),
                               doc="The λ slider's span: the model's search grid with a margin, widened to the λ "
                                   "on screen when it is set beyond (``slider_range``).")
    seed = param.Integer(default=0, bounds=(0, 2**31 - 1), label="Seed (trial and noise)")
    downsample = param.Integer(default=1, bounds=(1, 10), label="Downsample (LIF step = 0.05 ms × this)")
    use_initial_weights = param.Boolean(default=False, label="Use the initial weights w0 (with the trained decay "
                                                             "constants td, as the reference)")
    initial_decay = param.Boolean(default=False, label="… and the initial decay constants td0 (fully untrained network)")
    rectify_weights = param.Boolean(default=True, label="Rectify w with relu, as the rate network did")
    stim_mode = param.Selector(default="none", objects=["none", "exc", "inh"], label="Artificial stimulation")
    stim_units = param.String(default="", label="Stimulated units")
    stim_window = param.Range(default=(0.5, 0.75), bounds=(0.0, 1.0), label="Stimulation window (s)")
    raster_order = param.Selector(default="index", objects=["index", "type", "rate"], label="Sort raster by")
    voltage_units = param.List(default=[], item_type=int, label="Voltage of units")
    fix_output_range = param.Boolean(default=False, label="Fix the output plot's y-range (to compare λ)")
    compared_unit = param.Integer(default=0, bounds=(0, None), label="Unit to compare with the rate network")
    diagnostic_window = param.Selector(default=WINDOWS[0], objects=list(WINDOWS), label="Diagnostic over")
    present = param.Boolean(default=False, label="Present", doc="Present mode: the page for a lecture (in its link).")

    # --- what the inputs give ------------------------------------------------------------
    model = param.ClassSelector(class_=RateModel, default=None, allow_None=True)
    task = param.ClassSelector(class_=Task, default=None, allow_None=True)
    spec = param.ClassSelector(class_=TrialSpec, default=None, allow_None=True)
    trial = param.ClassSelector(class_=ScoredTrial, default=None, allow_None=True)
    error = param.String(default="")
    notes = param.String(default="")
    sweep = param.ClassSelector(class_=SweepSnapshot, default=None, allow_None=True)
    sweep_status = param.String(default="No sweep yet.")
    sweep_running = param.Boolean(default=False)
    conclusion = param.String(default="", doc="The verdict of the finished sweep, else the one stored in the file.")
    conclusion_kind = param.String(default="", doc="converted, below goal or failed ('' without a verdict).")
    needs_recordings = param.Boolean(default=False, doc="Whether a view on screen draws voltages or rates: then "
                                                        "every trial is simulated with them.")
    stimulation_status = param.String(default="", doc="What stimulation the trial on screen has, at its λ ('' "
                                                      "without): stimulation is never on unseen.")
    preset_note = param.String(default="", doc="What the last preset shows, while its trial is on screen.")

    def __init__(self, catalog: ModelCatalog | None = None, models_dir=None, allow_save: bool = False,
                 limits: ServerLimits | None = None, doc=None, **params):
        """``limits`` bound what a model may cost (a served page's, see ``limits``): with them the
        session shares trials and sweeps with the server's other sessions and queues its sweeps
        (``shared``, ``sweep_queue``). ``doc`` is the served page's document: its simulations then
        run off the server's event loop (``offload``); without one (a notebook, the tests) they run
        at once."""
        super().__init__(**params)
        self.catalog = catalog if catalog is not None else ModelCatalog(models_dir, allow_save)
        self.limits = limits
        self.owner = uuid.uuid4().hex  # this session, as the shared caches and the sweep queue know it
        self.shared = limits is not None
        self._sweeps = SHARED_SWEEPS if self.shared else SweepQueue(share=False)
        if self.shared:
            SHARED_SWEEPS.capacity = limits.max_sweeps
        self._trials = Offloader(doc)  # the trial on screen
        self._side = Offloader(doc)  # λ side by side
        self._diagnosis = Offloader(doc)  # the Diagnosis card's measurements
        self._presets_job = Offloader(doc)  # the teaching presets' search for trials that show their claims
        self._export = Offloader(doc)  # the Export menu's file for another simulator or format
        self._presets_cache: tuple = (None, [])
        self._rate_cache = RateResponseCache()
        self._recorded: ScoredTrial | None = None  # the trial on screen again, with every recording
        self._ticket: SweepTicket | None = None  # this session's sweep, waiting, running or finished
        self._preset_shown = None  # the Preset last applied, while the page shows its trial
        self.sweep_result = None  # the finished SweepResult (for CSV and saving)
        self._result_key = None  # what that sweep computed (its queue key): the same for every page that followed it
        self._kept_sweeps: dict[tuple, tuple] = {}  # each model's finished sweep, for the page's lifetime
        self.param.model_label.objects = self.catalog.labels
        if self.catalog.problems:
            self.error = "; ".join(self.catalog.problems)
        first = self.default_label()
        if first is not None:
            self.model_label = first

    # --- models --------------------------------------------------------------------------
    def default_label(self) -> str | None:
        """A go-nogo model if there is one (the quickest to understand), else the first found."""
        labels = self.catalog.labels
        preferred = [label for label in labels if "go-nogo" in label.lower()]
        return (preferred or labels or [None])[0]

    def current_label(self) -> str | None:
        return None if self.model is None else self.catalog.label_of(self.model.path)

    @param.depends("model_label", watch=True)
    def _open_model(self) -> None:
        """Load the chosen model; on failure say why and go back to the previous one."""
        label = self.model_label
        if label is None or label == self.current_label():
            return
        path = self.catalog.path(label) if label in self.catalog.labels else None
        try:
            model, task = self._load_within_limits(self.catalog.path(label), label)
        except (ModelFileError, ValueError, KeyError, OSError) as exc:
            self.error = f"Could not open {label}; the previous model stays. {_message(exc, path, label)}"
            self.model_label = self.current_label()
            return
        self._activate(model, task)

    def _load_within_limits(self, path: Path, shown: str) -> tuple[RateModel, Task]:
        """Load a model and infer its task, refusing one that would cost more than ``limits`` allow
        (its units before any array is read, its trial's bytes once the task is known)."""
        if self.limits is not None:
            check_declared_units(path, shown, self.limits)
        model = load_model(path)
        task = infer_task(model)
        if self.limits is not None:
            check_trial_cost(shown, model.N, task, self.limits)
        return model, task

    def _activate(self, model: RateModel, task: Task) -> None:
        """Show a model: its task, its stored optimum (else the default lambda), one E and one I unit's
        voltage, the excitatory unit the readout weighs most for the unit comparison, and its sweep
        if this page ran one (``_switch_sweep``); the λ slider spans its search."""
        self._switch_sweep(model)
        self.param.task_name.objects = [t.name for t in tasks_for(model.n_inputs)]
        exc_units, inh_units = np.flatnonzero(model.exc), np.flatnonzero(~model.exc)
        lam = max(float(default_scaling_factor(model)), MIN_LAMBDA)
        self.param.update(
            model=model, scaling_factor=lam, lambda_range=slider_range(self._search_grid(model), lam),
            use_initial_weights=self.use_initial_weights and model.w0 is not None, rectify_weights=True,
            initial_decay=self.initial_decay and has_initial_decay(model),
            voltage_units=[int(u[0]) for u in (exc_units, inh_units) if u.size],
            compared_unit=int(np.argmax(np.abs(model.w_out) * model.exc)) if exc_units.size else 0,
            notes=" ".join(model.notes), error="", **self._task_settings(task),
        )

    def _task_settings(self, task: Task) -> dict:
        """Parameter values for a newly chosen task: every factor drawn, default options, and a
        stimulation window inside its trial."""
        duration = task.duration()
        self.param.stim_window.bounds = (0.0, duration)
        return dict(task=task, task_name=task.name, condition={}, task_options=task.option_values(),
                    stim_window=(duration / 2, duration * 3 / 4))

    @param.depends("task_name", watch=True)
    def _choose_task(self) -> None:
        if self.task is None or self.task.name != self.task_name:
            self.param.update(**self._task_settings(get_task(self.task_name)))

    def check_upload(self, filename: str, data: bytes) -> tuple[Path | None, str]:
        """Store an upload privately and check that it is a model: (path, "") or (None, why not).
        Touches no parameter, so it can run off the server's event loop (``check_upload_async``)."""
        try:
            path = self.catalog.save_upload(filename, data)
        except UploadError as exc:
            return None, f"Upload refused; the previous model stays. {exc}"
        try:
            self._load_within_limits(path, filename)
        except (ModelFileError, ValueError) as exc:
            self.catalog.discard_upload(path)
            return None, f"Upload rejected; the previous model stays. {_message(exc, path, filename)}"
        return path, ""

    def open_upload(self, checked: tuple[Path | None, str]) -> bool:
        """Open a checked upload, or show why it was refused (the previous model stays)."""
        path, problem = checked
        if path is None:
            self.error = problem
            return False
        label = self.catalog.add_upload(path)
        self.param.model_label.objects = self.catalog.labels
        self.model_label = label
        return True

    def upload(self, filename: str, data: bytes) -> bool:
        """Add an uploaded model file and open it; a bad file keeps the previous model."""
        return self.open_upload(self.check_upload(filename, data))

    async def check_upload_async(self, filename: str, data: bytes) -> tuple[Path | None, str]:
        """``check_upload`` in a worker thread, so the server's other sessions keep answering while
        a large or hostile file is written and read."""
        return await asyncio.to_thread(self.check_upload, filename, data)

    # --- lambdas side by side ---------------------------------------------------------
    def side_by_side(self, lambdas) -> list[ScoredTrial]:
        """The trial on screen at up to three λ: the same stimulus, initial voltages and noise (the
        same seeds), so the only difference is λ."""
        values = [float(lam) for lam in lambdas]
        if not 1 <= len(values) <= MAX_SIDE_BY_SIDE:
            raise ValueError(f"give 1 to {MAX_SIDE_BY_SIDE} values of λ, got {len(values)}")
        if self.trial is None:
            raise ValueError("open a model first")
        return [run_trial(self.trial.spec.replace(scaling_factor=lam), ("spikes", RATE_MODEL), self._rate_cache)
                for lam in values]

    def diagnose_then(self, show) -> None:
        """The diagnosis of the model on screen at the λ on screen (``rate2spike.diagnose``), off the
        server's event loop: ``show(diagnosis, error)`` gets it on the page's loop."""
        from rate2spike.diagnose import diagnose

        if self.model is None or self.task is None:
            show(None, ValueError("open a model first"))
            return
        model, task, lam = self.model, self.task, float(self.scaling_factor)
        self._diagnosis.run(lambda: diagnose(model, lam, task), show)

    def export_then(self, to: str, show, cost_trials: int = 20) -> None:
        """The model and λ on screen exported to ``to`` (``rate2spike.interop``; NWB and Neo: the trial
        on screen), off the server's event loop: ``show((file name, bytes, ExportResult), error)``
        on the page's loop. NIR measures its cost on ``cost_trials`` trials (the CLI's default is 100)."""
        from rate2spike.interop import export_bytes

        spec = self.spec
        if spec is None:
            show(None, ValueError("no trial on screen to export"))
            return
        self._export.run(lambda: export_bytes(spec, to, [spec.index], cost_trials), show)

    def side_by_side_then(self, lambdas, show) -> None:
        """``side_by_side`` off the server's event loop: ``show(trials, error)`` gets the trials (or
        the ValueError saying why not) on the page's loop."""
        self._side.run(lambda: self.side_by_side(lambdas), show)

    def side_by_side_default(self) -> str:
        """λ values to start from: the presets' too small, good and too large (once found), else around λ."""
        chosen = [p.settings["scaling_factor"] for p in (self.cached_presets() or [])[:3]]
        if not chosen:
            lam = self.scaling_factor
            chosen = [max(LAMBDA_BOUNDS[0], lam / 4), lam, min(LAMBDA_BOUNDS[1], lam * 3)]
        return ", ".join(f"{lam:g}" for lam in chosen)

    # --- presets -------------------------------------------------------------------------
    def _presets_key(self):
        """What the presets depend on: the model, its finished sweep (and what that sweep computed, the same
        for every page that followed it), the task options, downsampling."""
        if self.model is None or self.task is None:
            return None
        sweep = self.finished_sweep()
        return (self.model, self.task.name, sweep, None if sweep is None else self._result_key,
                tuple(self.task_options.items()), self.downsample)

    def _compute_presets(self, key) -> list:
        """The presets for ``key`` (``_presets_key``); on a server, found once for every session that
        shows the same model file, finished sweep and settings (``SHARED_PRESETS``)."""
        model, _task, sweep, swept, options, downsample = key
        task = self.task
        window = (task.decision_start, task.duration())
        compute = lambda: presets(model, task, sweep, window, LAMBDA_BOUNDS, options, downsample)  # noqa: E731
        if not self.shared or (sweep is not None and swept is None):
            return compute()
        return SHARED_PRESETS.get((self._private_to(model), model.content_sha256, model.N, task.name, swept, options,
                                   downsample), compute)

    def cached_presets(self) -> list | None:
        """The presets if they have been found for what is on screen, else None."""
        key = self._presets_key()
        cached_key, found = self._presets_cache
        return found if key is not None and cached_key == key else None

    def presets(self) -> list:
        """The teaching presets of the open model (``rate2spike.explorer.presets``), each set on a trial
        that shows its claim; found once per model, finished sweep and task options (a few seconds)."""
        key = self._presets_key()
        if key is None:
            return []
        if self._presets_cache[0] != key:
            self._presets_cache = (key, self._compute_presets(key))
        return self._presets_cache[1]

    def presets_then(self, show) -> None:
        """``presets`` off the server's event loop: ``show(presets, error)`` on the page's loop."""
        key = self._presets_key()
        if key is None:
            show([], None)
            return
        if self._presets_cache[0] == key:
            show(self._presets_cache[1], None)
            return

        def keep(found, error):
            if error is None:
                self._presets_cache = (key, found)
            show(found, error)

        self._presets_job.run(lambda: self._compute_presets(key), keep)

    def apply_preset(self, name: str) -> str:
        """Set the session to a preset (one change, so one new trial: its λ, condition and seed, and
        stimulation on or off); returns why it is interesting."""
        chosen = next((p for p in self.presets() if p.name == name), None)
        if chosen is None:
            raise ValueError(f"no preset '{name}' for this model (run a sweep first)")
        reset = {"stim_mode": "none"} if "stim_mode" not in chosen.settings else {}
        self._preset_shown = chosen
        settings = {name: dict(value) if isinstance(value, dict) else value  # the preset may be shared by sessions
                    for name, value in chosen.settings.items()}
        self.param.update(preset_note=f"{chosen.name}: {chosen.why}", **{**reset, **settings})
        return chosen.why

    def _shows_preset(self) -> bool:
        """Whether the inputs are still those the last preset set (its λ, condition, seed, stimulation)."""
        chosen = self._preset_shown
        if chosen is None:
            return False
        wanted = {"stim_mode": "none", **chosen.settings}
        return all(getattr(self, name) == value for name, value in wanted.items())

    @param.depends("trial", watch=True)
    def _describe_shown(self) -> None:
        """The texts that follow the trial on screen: its stimulation at its λ, and the preset's note
        only while its trial is the one shown (a note saying 'λ = 19' beside a trial at 35 misleads)."""
        trial = self.trial
        words = stimulation_words(trial)
        status = "" if words is None else (f"{words}, in this {trial.stimulus.condition.name} trial at "
                                           f"λ = {trial.spec.scaling_factor:g}")
        note = self.preset_note if self._shows_preset() else ""
        if note == "":
            self._preset_shown = None
        self.param.update(stimulation_status=status, preset_note=note)

    def stop_stimulation(self) -> None:
        """Turn the artificial stimulation off (its units and window are kept for next time)."""
        self.stim_mode = "none"

    # --- links ---------------------------------------------------------------------------
    def link_query(self) -> dict[str, str]:
        """The view as URL query values: opening a link with them restores it (``apply_query``)."""
        if self.model is None:
            return {}
        query = {"model": self.current_label() or "", "lambda": f"{self.scaling_factor:g}", "seed": str(self.seed),
                 "downsample": str(self.downsample)}
        query.update({f"c_{factor}": level for factor, level in self.condition.items() if level != RANDOM})
        query.update({f"o_{name}": f"{value:g}" for name, value in self.task_options.items()})
        if self.use_initial_weights:
            query["initial"] = "1"
            if self.initial_decay:
                query["initial_decay"] = "1"
        if not self.rectify_weights:
            query["raw_w"] = "1"
        if self.stim_mode != "none":
            query.update(stim=self.stim_mode, stim_units=self.stim_units,
                         stim_window=f"{self.stim_window[0]:g}:{self.stim_window[1]:g}")
        query["units"] = ",".join(map(str, self.voltage_units))
        if self.present:
            query["present"] = "1"
        return query

    def apply_query(self, query: dict) -> list[str]:
        """Restore a view from URL query values (strings or lists of bytes, as the server gives
        them). Each value is checked like any input: one that is unknown or out of range is
        named in ``error`` and its default kept. Returns the problems."""
        values = {key: (value[0].decode() if isinstance(value, list) and isinstance(value[0], bytes)
                        else value[0] if isinstance(value, list) else str(value)) for key, value in query.items()}
        problems = []

        def attempt(key, apply):
            try:
                apply(values[key])
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                problems.append(f"{key}={values[key]!r} ({_message(exc)})")

        if "model" in values:
            def open_label(label):
                if label not in self.catalog.labels:
                    raise ValueError("no such model here")
                self.model_label = label
            attempt("model", open_label)
        if self.model is None:
            return problems
        updates = {}
        for key, name, convert in (("lambda", "scaling_factor", float), ("seed", "seed", int),
                                   ("downsample", "downsample", int)):
            if key in values:
                attempt(key, lambda text, name=name, convert=convert: updates.update(
                    {name: self._within_bounds(name, convert(text))}))
        condition = {}
        for key in (k for k in values if k.startswith("c_")):
            attempt(key, lambda text, key=key: condition.update(self.task.fixed_levels({key[2:]: text})))
        options = dict(self.task_options)
        for key in (k for k in values if k.startswith("o_")):
            attempt(key, lambda text, key=key: options.update(
                self.task.option_values({**options, key[2:]: float(text)})))
        if "stim" in values:
            def mode(text):
                if text not in self.param.stim_mode.objects:
                    raise ValueError(f"choose {', '.join(self.param.stim_mode.objects)}")
                updates["stim_mode"] = text
            attempt("stim", mode)
            updates["stim_units"] = values.get("stim_units", "")
            if "stim_window" in values:
                def window(text):
                    low, high = (float(x) for x in text.split(":"))
                    bottom, top = self.param.stim_window.bounds
                    if not bottom <= low <= high <= top:
                        raise ValueError(f"a window within {bottom:g}..{top:g} s")
                    updates["stim_window"] = (low, high)
                attempt("stim_window", window)
        if "units" in values:
            def units(text):
                chosen = [int(u) for u in text.split(",") if u.strip()]
                if any(not 0 <= u < self.model.N for u in chosen):
                    raise ValueError(f"units are 0..{self.model.N - 1}")
                updates["voltage_units"] = chosen
            attempt("units", units)
        updates["use_initial_weights"] = values.get("initial") == "1" and self.model.w0 is not None
        updates["initial_decay"] = values.get("initial_decay") == "1" and has_initial_decay(self.model)
        updates["rectify_weights"] = values.get("raw_w") != "1"
        updates["present"] = values.get("present") == "1"
        self.param.update(condition=condition, task_options=options, **updates)
        if problems:
            self.error = "This link has values that could not be used; their defaults are shown: " + "; ".join(problems)
        return problems

    def _within_bounds(self, name: str, value):
        """``value`` if it is within the parameter's bounds, else a ValueError saying them."""
        low, high = self.param[name].bounds
        if not np.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"must be within {low:g}..{high:g}" if high is not None else f"must be {low:g} or more")
        return value

    # --- the trial -----------------------------------------------------------------------
    def build_spec(self) -> TrialSpec:
        """The trial the controls describe (ValueError when they do not describe one)."""
        units = parse_units(self.stim_units, self.model.exc) if self.stim_mode != "none" else ()
        stimulation = Stimulation.over_window(self.stim_mode, units, self.stim_window, lif_dt(self.downsample))
        return TrialSpec(self.model, self.task, self.scaling_factor, seed=self.seed, condition=self.condition,
                         task_options=tuple(self.task_options.items()), downsample=self.downsample,
                         use_initial_weights=self.use_initial_weights, stimulation=stimulation,
                         rectify_weights=self.rectify_weights,
                         initial_decay=self.use_initial_weights and self.initial_decay)

    @param.depends("model", "task", "condition", "task_options", "scaling_factor", "seed", "downsample",
                   "use_initial_weights", "initial_decay", "rectify_weights", "stim_mode", "stim_units", "stim_window", watch=True)
    def _describe_trial(self) -> None:
        if self.model is None or self.task is None:
            return
        try:
            self.spec = self.build_spec()
        except (ValueError, ModelFileError) as exc:
            self.error = _message(exc)

    @param.depends("spec", watch=True)
    def _run_trial(self) -> None:
        self._simulate(self.spec)

    @param.depends("needs_recordings", watch=True)
    def _record_if_needed(self) -> None:
        """A view that draws voltages or rates came on screen: the trial on screen again with them."""
        if self.needs_recordings and self.trial is not None and not self.has_recordings():
            self._simulate(self.trial.spec)

    def _simulate(self, spec: TrialSpec) -> None:
        """Simulate ``spec`` (on the server's pool when served) and show it, unless the controls
        have described another trial meanwhile."""
        record = VIEW_RECORDINGS if self.needs_recordings else ON_CHANGE_RECORDINGS
        rate_cache = self._rate_cache
        stale_error = self.error  # what a successful trial clears; a message set meanwhile (a link's) stays

        def show(trial, error) -> None:
            if spec is not self.spec:  # a newer trial is on its way
                return
            if error is not None:
                if not isinstance(error, (ValueError, ModelFileError)):
                    raise error
                self.error = _message(error)
            else:
                self.param.update(trial=trial, **({"error": ""} if self.error == stale_error else {}))

        compute = lambda: run_trial(spec, record, rate_cache)  # noqa: E731
        if self.shared:
            self._trials.run(lambda: SHARED_TRIALS.get(spec, record, compute, self._private_to(spec.model)), show)
        else:
            self._trials.run(compute, show)

    def _private_to(self, model: RateModel):
        """None for a model any session may open (shipped, --models), else this session's owner
        token: results of an upload are never served to another session."""
        upload_dir = self.catalog.upload_dir
        shared_file = model.path is not None and (upload_dir is None or Path(model.path).parent != upload_dir)
        return None if shared_file else self.owner

    def has_recordings(self) -> bool:
        """Whether the trial on screen holds the voltages and rates some views draw."""
        return self.trial is not None and all(getattr(self.trial.recording, name) is not None
                                              for name in ("voltage", "rate"))

    @property
    def offloaded(self) -> bool:
        """Whether this session's simulations run on the server's pool (a served page)."""
        return self._trials.doc is not None

    def recorded_trial(self) -> ScoredTrial | None:
        """The trial on screen with voltages and filtered spike trains recorded too. A λ change
        simulates only what the output and the raster need unless a view on screen draws more
        (``needs_recordings``); otherwise this runs the same spec again (same seed, same spikes)
        with every recording, once per trial. A served page never calls it before the trial with
        recordings has arrived (``has_recordings``), so it never simulates on the event loop."""
        trial = self.trial
        if trial is None or self.has_recordings():
            return trial
        if self._recorded is None or self._recorded.spec != trial.spec:
            self._recorded = run_trial(trial.spec, VIEW_RECORDINGS, self._rate_cache)
        return self._recorded

    def choose_level(self, factor: str, level: str) -> None:
        """Fix one factor of the condition ('random' leaves it to the seed)."""
        self.condition = {**self.condition, factor: level}

    def condition_level(self, factor: str) -> str:
        return self.condition.get(factor, RANDOM)

    # --- sweeps --------------------------------------------------------------------------
    def start_sweep(self, low: float, high: float, step: float, n_trials: int, n_threads: int | None = None,
                    options: SearchOptions | None = None, precision: str = "float64") -> bool:
        """Score n_trials random trials at each λ of the grid, with everything else as the
        trial on screen (seed, task options, downsampling, weights, stimulation); ``options``
        (``SearchOptions``) extends, refines or races the search; ``precision='float32'`` runs
        it in single precision (the trials on screen stay float64)."""
        if self.trial is None:
            self.error = "Open a model before running a sweep."
            return False
        if self.sweep_running:
            return False
        try:
            grid = sweep_grid(low, high, step)
            base = self.trial.spec.replace(condition=None, precision=precision)
            make = lambda on_done: BackgroundSweep(base, grid, n_trials, n_threads, options, on_done=on_done)  # noqa: E731
            probe = make(None)  # checks the grid and trials before anything is queued
        except ValueError as exc:
            self.error = _message(exc)
            return False
        # the λ and trial index on screen are replaced by the grid's and the sweep's own: not part of what it computes
        what = spec_identity(base.replace(scaling_factor=DEFAULT_SCALING_FACTOR, index=0))
        key = (self._private_to(base.model), what, tuple(grid), probe.n_trials, probe.options, n_threads)
        self._ticket = ticket = self._sweeps.request(key, make, self.owner)
        self.sweep_result = None
        shared = f" Shared with {ticket.shared_with} other page(s) that asked for the same sweep." \
            if ticket.shared_with else ""
        self.param.update(sweep=None, sweep_running=True, error="",
                          sweep_status=f"Sweep starting: {grid.size} values of λ × {probe.n_trials} trials "
                                       f"({probe.options.describe()}"
                                       f"{', float32' if precision == 'float32' else ''}).{shared}")
        self.poll_sweep()
        return True

    def poll_sweep(self) -> bool:
        """Bring the newest progress (or the sweep's place in the queue) into the session; True
        while the sweep still waits or runs."""
        ticket = self._ticket
        if ticket is None:
            return False
        if ticket.state == WAITING:
            if not ticket.left:
                self.sweep_status = ticket.describe_place()
            return not ticket.left
        background = ticket.sweep
        alive = ticket.state == RUNNING
        snapshot = background.snapshot  # read after the state: final once the sweep ended
        if snapshot is None and self.sweep_status.startswith("Sweep waiting"):
            self.sweep_status = "Sweep starting: its turn has come; the first results follow in a few seconds."
        if snapshot is not None and snapshot is not self.sweep and (not alive or ticket.progress_due()):
            self.param.update(sweep=snapshot, sweep_status=snapshot.status())
        if not alive:
            self.sweep_result, self._result_key = background.result, ticket.job.key
            self._ticket = None
            self.sweep_running = False
        return alive

    @param.depends("sweep", "model", watch=True)
    def _conclude(self) -> None:
        """The verdict in words: the finished sweep's, else the search stored in the file."""
        from rate2spike.verdict import Verdict

        snapshot, model = self.sweep, self.model
        verdict, source = None, ""
        if snapshot is not None and snapshot.verdict is not None:
            verdict = snapshot.verdict
        elif snapshot is None and model is not None and model.search_verdict:
            verdict, source = Verdict.parse(model.search_verdict), "The search stored in this file: "
        if verdict is None:
            self.param.update(conclusion="", conclusion_kind="")
            return
        text = verdict.reason if verdict.failed else f"{verdict.kind.capitalize()}: {verdict.reason}"
        if not verdict.failed and snapshot is not None and snapshot.recommended is not None:
            text += (f". Recommended λ = {snapshot.recommended[0]:g}: of the λ as good as the best, its spiking output "
                     "follows the rate network's most closely")
        self.param.update(conclusion=f"{source}{text}.", conclusion_kind=verdict.kind)

    def cancel_sweep(self) -> None:
        """Leave this session's sweep: a waiting one leaves the queue; a running one that no other page
        follows stops (its partial result follows); one other pages follow goes on for them."""
        ticket = self._ticket
        if ticket is None or ticket.left:
            return
        waiting = ticket.state == WAITING
        if ticket.leave() or ticket.state != RUNNING and not waiting:
            return  # the computation stops (or has ended): poll_sweep brings its last snapshot
        others = len(ticket.job.followers)
        self._ticket = None
        self.param.update(sweep_running=False, sweep_status="Sweep cancelled before it started." if waiting else
                          f"Sweep cancelled for this page; it goes on for the {others} other page(s) that asked for it.")

    @staticmethod
    def _sweep_key(model: RateModel) -> tuple:
        """Which model a kept sweep is of: its file and the bytes it was read from."""
        return str(model.path), model.content_sha256

    def _switch_sweep(self, model: RateModel) -> None:
        """Another model is opened: the finished sweep on screen is kept for the page's lifetime (opening
        its model again shows it), a running one is cancelled (its curve would be mislabelled), and the
        new model's kept sweep, if any, is shown."""
        if self.model is not None and self.sweep_result is not None:
            self._kept_sweeps[self._sweep_key(self.model)] = (self.sweep, self.sweep_result, self._result_key,
                                                              self.sweep_status)
        was_running = self._ticket is not None
        self.cancel_sweep()
        self._ticket = None
        sweep, self.sweep_result, self._result_key, status = self._kept_sweeps.get(self._sweep_key(model),
                                                                                   (None, None, None, None))
        if status is None:
            status = "Sweep cancelled: another model was opened." if was_running else "No sweep yet."
        self.param.update(sweep=sweep, sweep_running=False, sweep_status=status)

    def _search_grid(self, model: RateModel | None):
        """The λ grid the slider spans: this page's sweep of the model, else the search stored in its file."""
        if self.sweep is not None and self.sweep.finished and not self.sweep.cancelled:
            return self.sweep.scaling_factors
        return None if model is None else model.scaling_factors

    @param.depends("scaling_factor", watch=True)
    def _cover_lambda(self) -> None:
        """A λ beyond the slider (typed in the number box, or from a link or preset) widens its span."""
        low, high = self.lambda_range
        if not low <= self.scaling_factor <= high:
            self.lambda_range = slider_range(self._search_grid(self.model), self.scaling_factor)

    @param.depends("sweep", watch=True)
    def _span_sweep(self) -> None:
        """A finished sweep is the model's search: the slider spans it."""
        if self.sweep is not None and self.sweep.finished and not self.sweep.cancelled:
            self.lambda_range = slider_range(self.sweep.scaling_factors, self.scaling_factor)

    def sweep_csv(self) -> str:
        if self.sweep_result is None:
            raise ValueError("no finished sweep to export")
        return self.sweep_result.to_csv()

    def finished_sweep(self):
        """The sweep result if it is a complete, uncancelled sweep of the model on screen, else None:
        only such a sweep is a grid-search result that may go into a model file."""
        result = self.sweep_result
        if (result is None or result.cancelled or not result.complete.all() or self.model is None
                or result.base.model.path != self.model.path):
            return None
        return result

    def may_write_model_file(self) -> bool:
        """Whether this page may write the open model's file (a --models DIR file with --allow-save)."""
        return self.catalog.writable(self.current_label())

    def can_save_sweep(self) -> bool:
        return self.finished_sweep() is not None and self.may_write_model_file()

    def model_file_bytes(self) -> bytes:
        """The open model file for download, with the finished sweep's results stored in it as the
        reference's opt_scaling_factor, all_perfs and scaling_factors (the file on disk is untouched).
        Only the file as it was opened: one replaced since is refused (ValueError naming it)."""
        result, digest = self.finished_sweep(), self.model.content_sha256
        try:
            if result is None:
                return unchanged_bytes(self.model.path, digest)
            return results_bytes(self.model.path, self._file_variables(result), digest)
        except (ModelFileError, OSError) as exc:
            self.error = f"Could not download the model file: {_message(exc, self.model.path, self.current_label())}"
            raise ValueError(self.error) from exc

    def save_sweep(self) -> str:
        """Write the finished sweep into the model file (atomically, keeping every other variable), if
        the file still holds the bytes opened: the sweep was of those, not of a file put there since."""
        if self.finished_sweep() is None:
            raise ValueError("only a complete sweep of the model on screen can be saved into its file")
        if not self.may_write_model_file():
            raise ValueError("this server does not write model files; download the model file instead")
        result = self.sweep_result
        lam, _ = result.optimum
        path = self.model.path
        try:
            save_results(path, self._file_variables(result), expected_sha256=self.model.content_sha256)
            reloaded = load_model(path)
        except (ModelFileError, OSError) as exc:
            self.error = f"Could not save into the model file: {_message(exc, path, self.current_label())}"
            raise ValueError(self.error) from exc
        self.param.update(model=reloaded, error="")
        if reloaded.opt_scaling_factor is None:
            return f"Saved the verdict 'failed', all_perfs and scaling_factors into {path.name} (no optimum)."
        return f"Saved opt_scaling_factor = {lam:g}, all_perfs, scaling_factors and the verdict into {path.name}."

    @staticmethod
    def _file_variables(result) -> dict:
        """What the page writes of a sweep: the reference's fields, band, verdict and recommended λ;
        no opt_scaling_factor when no λ converts the model (its first maximum is not a result)."""
        verdict = result.verdict()
        return result.file_variables(save_optimum=verdict is None or not verdict.failed)

    def close(self) -> None:
        """End of the session: leave its sweep (a queued one is dropped), forget what the shared caches
        hold for it alone, delete uploads, and let go of its model and trials."""
        self.cancel_sweep()  # the ticket stays: a running sweep's last, cancelled snapshot can still be read
        SHARED_TRIALS.forget(self.owner)
        SHARED_PRESETS.forget(self.owner)
        self._sweeps.forget(self.owner)
        self.catalog.close()
        self._rate_cache = RateResponseCache()
        self._recorded = None
        self._presets_cache = (None, [])
        self.sweep_result = None
