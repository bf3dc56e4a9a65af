"""Everything one dashboard session knows, as one ``param.Parameterized`` (no widgets here).

Controls set parameters; any change to a simulation input re-simulates one trial and
publishes it as ``trial``, which the views watch. A model that fails to load (or a bad
upload, or unreadable stimulation units) sets ``error`` and leaves the previous model and
trial in place. Sweeps run in the background (``explorer.sweeps``); ``poll_sweep`` brings
their progress into the session. Being plain param, the whole session is testable without a
server or a browser.
"""

from __future__ import annotations

import numpy as np
import param

from core.model import ModelFileError, RateModel, load_model, save_grid_search
from core.tasks import TASKS, Task, get_task, infer_task
from core.trialio import trial_bytes
from explorer.catalog import ModelCatalog, UploadError
from explorer.sweeps import BackgroundSweep, SweepSnapshot, sweep_grid
from explorer.trial import (RANDOM, RateModelCache, SimulatedTrial, TrialSettings, mante_condition, parse_units,
                            simulate, stimulation_from_window)

DEFAULT_LAMBDA = 50.0  # when the model file holds no grid-search optimum (as the CLI)
LAMBDA_BOUNDS = (1.0, 200.0)
SIGNS = [RANDOM, "+", "-"]

# parameters whose change needs a new trial
SIMULATION_INPUTS = [
    "model_label", "task_name", "condition", "context", "input1_sign", "input2_sign", "evidence_strength",
    "scaling_factor", "seed", "downsample", "use_initial_weights", "stim_mode", "stim_units", "stim_window",
]


class ExplorerState(param.Parameterized):
    """The state of one dashboard session."""

    # --- inputs --------------------------------------------------------------------------
    model_label = param.Selector(default=None, objects=[], allow_None=True, check_on_set=True, label="Model")
    task_name = param.Selector(default="go-nogo", objects=list(TASKS), label="Task")
    condition = param.Selector(default=RANDOM, objects=[RANDOM], label="Condition")
    context = param.Selector(default=RANDOM, objects=[RANDOM, "1", "2"], label="Context (which input to attend)")
    input1_sign = param.Selector(default=RANDOM, objects=SIGNS, label="Sign of input 1")
    input2_sign = param.Selector(default=RANDOM, objects=SIGNS, label="Sign of input 2")
    evidence_strength = param.Number(default=0.5, bounds=(0.0, 2.0), step=0.05, label="Evidence strength (input mean)")
    scaling_factor = param.Number(default=DEFAULT_LAMBDA, bounds=LAMBDA_BOUNDS, step=1.0, label="Scaling factor λ")
    seed = param.Integer(default=0, bounds=(0, 2**31 - 1), label="Seed (trial and noise)")
    downsample = param.Integer(default=1, bounds=(1, 10), label="Downsample (LIF step = 0.05 ms × this)")
    use_initial_weights = param.Boolean(default=False, label="Use initial (untrained) weights")
    stim_mode = param.Selector(default="none", objects=["none", "exc", "inh"], label="Artificial stimulation")
    stim_units = param.String(default="", label="Stimulated units")
    stim_window = param.Range(default=(0.5, 0.75), bounds=(0.0, 1.0), label="Stimulation window (s)")
    raster_order = param.Selector(default="index", objects=["index", "type", "rate"], label="Sort raster by")
    voltage_units = param.List(default=[], item_type=int, label="Voltage of units")

    # --- outputs -------------------------------------------------------------------------
    model = param.ClassSelector(class_=RateModel, default=None, allow_None=True)
    trial = param.ClassSelector(class_=SimulatedTrial, default=None, allow_None=True)
    error = param.String(default="")
    notes = param.String(default="")
    sweep = param.ClassSelector(class_=SweepSnapshot, default=None, allow_None=True)
    sweep_status = param.String(default="No sweep yet.")
    sweep_running = param.Boolean(default=False)

    def __init__(self, catalog: ModelCatalog | None = None, models_dir=None, **params):
        super().__init__(**params)
        self.catalog = catalog if catalog is not None else ModelCatalog(models_dir)
        self._rate_cache = RateModelCache()
        self._busy = False
        self._background: BackgroundSweep | None = None
        self.sweep_result = None  # the finished SweepResult (for CSV and saving)
        self._sweep_model: RateModel | None = None
        self.param.model_label.objects = self.catalog.labels
        if self.catalog.problems:
            self.error = "; ".join(self.catalog.problems)
        self.param.watch(self._inputs_changed, SIMULATION_INPUTS)
        first = self.default_label()
        if first is not None:
            self.model_label = first

    # --- models --------------------------------------------------------------------------
    def default_label(self) -> str | None:
        """A go-nogo model if there is one (the quickest to understand), else the first found."""
        labels = self.catalog.labels
        preferred = [label for label in labels if "go-nogo" in label.lower()]
        return (preferred or labels or [None])[0]

    @property
    def task(self) -> Task:
        return get_task(self.task_name)

    def _current_label(self) -> str | None:
        return None if self.model is None else self.catalog.label_of(self.model.path)

    def _open(self, label: str) -> bool:
        """Load the chosen model; on failure show why and go back to the previous one."""
        try:
            path = self.catalog.path(label)
            model = load_model(path)
            task = infer_task(model)
        except (ModelFileError, ValueError, KeyError) as exc:
            self.error = f"Could not open {label}; the previous model stays. {_message(exc)}"
            self.model_label = self._current_label()
            return False
        self._activate(label, model, task)
        return True

    def _activate(self, label: str, model: RateModel, task: Task) -> None:
        if self.model is not None and model is not self.model:
            self._forget_sweep()
        fitting = [t.name for t in TASKS.values() if t.n_inputs == model.n_inputs]
        self.param.task_name.objects = fitting
        self._apply_task(task)
        opt = model.opt_scaling_factor
        scaling = opt if opt is not None and np.isfinite(opt) else DEFAULT_LAMBDA
        exc_units, inh_units = np.flatnonzero(model.exc), np.flatnonzero(~model.exc)
        self.param.update(
            model=model, model_label=label, task_name=task.name,
            scaling_factor=float(np.clip(scaling, *LAMBDA_BOUNDS)),
            use_initial_weights=self.use_initial_weights and model.w0 is not None,
            voltage_units=[int(u[0]) for u in (exc_units, inh_units) if u.size],
            notes=" ".join(model.notes), error="",
        )

    def _apply_task(self, task: Task) -> None:
        """Offer the task's conditions and fit the stimulation window to its trial length."""
        names = [] if task.name == "mante" else [c.name for c in task.conditions()]
        self.param.condition.objects = [RANDOM, *names]
        duration = task.duration
        self.param.stim_window.bounds = (0.0, duration)
        self.param.update(condition=RANDOM, stim_window=(duration / 2, duration * 3 / 4))

    def upload(self, filename: str, data: bytes) -> bool:
        """Add an uploaded model file and open it; a bad file keeps the previous model."""
        try:
            path = self.catalog.save_upload(filename, data)
        except UploadError as exc:
            self.error = f"Upload refused; the previous model stays. {exc}"
            return False
        try:
            model = load_model(path)
            task = infer_task(model)
        except (ModelFileError, ValueError) as exc:
            self.catalog.discard_upload(path)
            self.error = f"Upload rejected; the previous model stays. {_message(exc).replace(str(path), filename)}"
            return False
        label = self.catalog.add_upload(path)
        self.param.model_label.objects = self.catalog.labels
        self._busy = True
        try:
            self._activate(label, model, task)
            self.refresh()
        finally:
            self._busy = False
        return True

    # --- trials --------------------------------------------------------------------------
    def _inputs_changed(self, *events) -> None:
        if self._busy:
            return
        names = {e.name for e in events}
        self._busy = True
        try:
            if "model_label" in names:
                if self.model_label is None or not self._open(self.model_label):
                    return
            elif "task_name" in names:
                self._apply_task(self.task)
            self.refresh()
        finally:
            self._busy = False

    def settings(self) -> TrialSettings:
        """The current controls as trial settings (raises ValueError for unreadable units)."""
        task = self.task
        if task.name == "mante":
            condition = mante_condition(task, self.context, self.input1_sign, self.input2_sign, self.seed)
        else:
            condition = None if self.condition == RANDOM else self.condition
        units = parse_units(self.stim_units, self.model.exc) if self.stim_mode != "none" else ()
        return TrialSettings(
            scaling_factor=float(self.scaling_factor), seed=int(self.seed), condition=condition,
            evidence_strength=float(self.evidence_strength) if task.name == "mante" else None,
            downsample=int(self.downsample), use_initial_weights=bool(self.use_initial_weights),
            stimulation=stimulation_from_window(self.stim_mode, units, self.stim_window, int(self.downsample)),
        )

    def refresh(self) -> bool:
        """Simulate the trial the controls describe and publish it (or say why not)."""
        if self.model is None:
            return False
        try:
            trial = simulate(self.model, self.task, self.settings(), self._rate_cache)
        except (ValueError, ModelFileError) as exc:
            self.error = _message(exc)
            return False
        self.param.update(trial=trial, error="")
        return True

    def trial_file(self, fmt: str) -> bytes:
        """The current trial as .mat or .npz bytes (the reference's names plus the stimulus)."""
        sim = self.trial
        if sim is None:
            raise ValueError("no trial to export yet")
        return trial_bytes(sim.full_recording(), fmt, task=sim.task.name, condition=sim.stimulus.condition.name,
                           u=sim.stimulus.u, seed=sim.settings.seed, correct=int(sim.outcome.correct),
                           rate_output=None if sim.rate is None else sim.rate.o,
                           model=self.model.name if self.model is not None else None)

    def trial_file_name(self, fmt: str) -> str:
        stem = self.model.path.stem if self.model is not None and self.model.path else "trial"
        return f"{stem}_lambda{self.scaling_factor:g}_seed{self.seed}.{fmt}"

    # --- sweeps --------------------------------------------------------------------------
    def start_sweep(self, low: float, high: float, step: float, n_trials: int, n_threads: int | None = None) -> bool:
        """Start a sweep with the current model, task, seed, downsampling, weights and stimulation."""
        if self.model is None:
            self.error = "Open a model before running a sweep."
            return False
        if self.sweep_running:
            return False
        try:
            grid = sweep_grid(low, high, step)
            if int(n_trials) < 1:
                raise ValueError("a sweep needs at least one trial per λ")
            settings = self.settings()
        except ValueError as exc:
            self.error = _message(exc)
            return False
        self._background = BackgroundSweep(
            self.model, self.task, grid, int(n_trials), seed=settings.seed, downsample=settings.downsample,
            use_initial_weights=settings.use_initial_weights, stimulation=settings.stimulation,
            n_threads=n_threads).start()
        self._sweep_model = self.model
        self.sweep_result = None
        self.param.update(sweep=None, sweep_running=True, error="",
                          sweep_status=f"Sweep starting: {grid.size} values of λ × {int(n_trials)} trials.")
        return True

    def poll_sweep(self) -> bool:
        """Bring the newest progress into the session; True while the sweep still runs."""
        background = self._background
        if background is None:
            return False
        alive = background.running
        snapshot = background.snapshot  # read after the liveness check: final once the thread ended
        if snapshot is not None and snapshot is not self.sweep:
            self.param.update(sweep=snapshot, sweep_status=snapshot.status())
        if not alive:
            self.sweep_result = background.result
            self._background = None
            self.sweep_running = False
        return alive

    def cancel_sweep(self) -> None:
        if self._background is not None:
            self._background.cancel()

    def _forget_sweep(self) -> None:
        """Another model is opened: its curve would be mislabelled, so stop and drop the sweep."""
        was_running = self._background is not None
        self.cancel_sweep()
        self._background = None
        self.sweep_result = None
        self._sweep_model = None
        status = "Sweep cancelled: another model was opened." if was_running else "No sweep yet."
        self.param.update(sweep=None, sweep_running=False, sweep_status=status)

    def sweep_csv(self) -> str:
        if self.sweep_result is None:
            raise ValueError("no finished sweep to export")
        return self.sweep_result.to_csv()

    def can_save_sweep(self) -> bool:
        result = self.sweep_result
        return (result is not None and not result.cancelled and bool(result.complete.all())
                and self._sweep_model is self.model and self.model.path is not None)

    def save_sweep(self) -> str:
        """Write the finished sweep into the model file (atomically, keeping every other variable)."""
        if not self.can_save_sweep():
            raise ValueError("only a complete sweep of the model on screen can be saved into its file")
        result = self.sweep_result
        lam, _ = result.optimum
        path = self.model.path
        try:
            save_grid_search(path, result.scaling_factors, result.accuracy, lam)
            reloaded = load_model(path)
        except (ModelFileError, OSError) as exc:
            self.error = f"Could not save into the model file: {_message(exc)}"
            raise ValueError(self.error) from exc
        self._sweep_model = reloaded
        self.param.update(model=reloaded, error="")
        return f"Saved opt_scaling_factor = {lam:g}, all_perfs and scaling_factors into {path.name}."

    def close(self) -> None:
        """End of the session: stop a running sweep and delete uploads."""
        self.cancel_sweep()
        self.catalog.close()


def _message(exc: BaseException) -> str:
    return exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
