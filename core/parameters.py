"""The LIF method's constants, in one frozen object (docs/method.md, "The LIF network").

``LIFParameters`` holds every constant of the reference's LIF units, each with its unit; its
defaults are the reference's (``DEFAULT_PARAMETERS``). Everything that needs one reads it from
here: the kernel (which takes the values as arguments, so a variant really runs), the trial
(``TrialSpec.params``), the dashboard's help lines, legends and voltage lanes, and the constants
table of docs/method.md (a test checks the table against the defaults). A variant is a copy with
some fields changed::

    from rate2spike import LIFParameters, simulate
    simulate(network, drive, seed=0, params=LIFParameters(t_ref=0.0))   # no refractory period

Only the method's constants are here; the kernel's implementation constants (the subnormal
flush thresholds) and the time grids (``rate2spike.timegrid``) are not.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass


def _field(default, unit: str, meaning: str):
    """A field with its unit and meaning (``LIFParameters.unit``, ``LIFParameters.meaning``)."""
    return dataclasses.field(default=default, metadata={"unit": unit, "meaning": meaning})


@dataclass(frozen=True)
class LIFParameters:
    """The constants of the reference's LIF units; defaults are the reference's.

    Times in seconds (s), voltages and currents in millivolts (mV). Frozen and hashable, so it
    can be part of a ``TrialSpec`` (and of what caches and journals compare).
    """

    t_ref: float = _field(0.002, "s", "refractory period: no integration for t_ref after a spike (tref)")
    tau_m: float = _field(0.010, "s", "membrane time constant (tm)")
    v_reset: float = _field(-65.0, "mV", "voltage after a spike (vreset)")
    v_threshold: float = _field(-40.0, "mV", "a unit fires when v reaches it (vpeak)")
    bias: float = _field(-40.0, "mV", "constant current into every unit, the threshold in the reference (BIAS)")
    v_spike_drawn: float = _field(30.0, "mV", "voltage recorded at the step of a spike")
    tau_rise: float = _field(0.002, "s", "rise constant of the double-exponential synapse (tr)")
    noise_sd: float = _field(0.1, "mV per step", "membrane noise: z x noise_sd, z standard normal (randn / 10)")
    stim_kick: float = _field(0.5, "mV", "artificial stimulation's push, up (exc) or down (inh)")
    stim_probability: float = _field(0.5, "", "chance per step that the stimulation pushes")
    v_initial_low: float = _field(-65.0, "mV", "initial voltages are uniform from this ...")
    v_initial_high: float = _field(30.0, "mV", "... to this")
    firing_rate_first_step: int = _field(10, "step", "mean firing rates count spikes from this step on (all_fr)")

    def __post_init__(self):
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, _number(field.name, getattr(self, field.name), field.type))
        _validate(self)

    def replace(self, **changes) -> "LIFParameters":
        """A copy with some fields changed (checked again)."""
        return dataclasses.replace(self, **changes)

    def changes(self) -> dict:
        """The fields that differ from the reference's defaults, by name (empty for the defaults)."""
        return {name: value for name, value in self.as_dict().items() if value != getattr(DEFAULT_PARAMETERS, name)}

    def as_dict(self) -> dict:
        """Every field by name."""
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """'the reference's', or the fields that differ with their units: 't_ref = 0 s, tau_m = 0.02 s'."""
        changed = self.changes()
        if not changed:
            return "the reference's"
        return ", ".join(f"{name} = {value:g}" + (f" {unit(name)}" if unit(name) else "")
                         for name, value in changed.items())

    @property
    def max_rate(self) -> float:
        """The refractory ceiling 1 / t_ref (Hz): no unit fires faster; infinite when t_ref is 0."""
        return math.inf if self.t_ref == 0 else 1.0 / self.t_ref


def _validate(p: LIFParameters) -> None:
    """Sensible signs and orders, or a ValueError naming the field and its unit."""
    _check(p.t_ref >= 0, f"t_ref (s) must be 0 or more, got {p.t_ref!r}")
    _check(p.tau_m > 0, f"tau_m (s) must be above 0, got {p.tau_m!r}")
    _check(p.tau_rise > 0, f"tau_rise (s) must be above 0, got {p.tau_rise!r}")
    _check(p.v_threshold > p.v_reset,
           f"v_threshold ({p.v_threshold:g} mV) must be above v_reset ({p.v_reset:g} mV)")
    _check(p.v_spike_drawn >= p.v_threshold,
           f"v_spike_drawn ({p.v_spike_drawn:g} mV) must be at least v_threshold ({p.v_threshold:g} mV)")
    _check(p.v_initial_high >= p.v_initial_low,
           f"v_initial_high ({p.v_initial_high:g} mV) must be at least v_initial_low ({p.v_initial_low:g} mV)")
    _check(p.noise_sd >= 0, f"noise_sd (mV per step) must be 0 or more, got {p.noise_sd!r}")
    _check(p.stim_kick >= 0, f"stim_kick (mV) must be 0 or more (exc or inh gives the sign), got {p.stim_kick!r}")
    _check(0 <= p.stim_probability <= 1, f"stim_probability must lie in 0..1, got {p.stim_probability!r}")
    _check(p.firing_rate_first_step >= 1,
           f"firing_rate_first_step must be 1 or more (steps count from 1), got {p.firing_rate_first_step!r}")


def unit(name: str) -> str:
    """The unit of field ``name`` ('s', 'mV', 'step' or '' for a probability)."""
    return _FIELDS[name].metadata["unit"]


def meaning(name: str) -> str:
    """What field ``name`` is, in a few words (with the reference's name in brackets)."""
    return _FIELDS[name].metadata["meaning"]


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(f"LIFParameters: {message}")


def _number(name: str, value, kind):
    """``value`` as a finite float (or a whole int for int fields), or a ValueError naming the field."""
    whole = kind in (int, "int")
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise ValueError(f"LIFParameters: {name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"LIFParameters: {name} must be finite, got {value!r}")
    if whole:
        if not number.is_integer():
            raise ValueError(f"LIFParameters: {name} must be a whole number, got {value!r}")
        return int(number)
    return number


_FIELDS = {field.name: field for field in dataclasses.fields(LIFParameters)}
DEFAULT_PARAMETERS = LIFParameters()  # the reference's constants
