"""The converted network as a NIR graph (Neuromorphic Intermediate Representation 1.x), for
neuromorphic hardware and the simulators that read NIR.

NIR expresses the network's deterministic core exactly: LIF units (per-unit membrane constant,
leak to the bias, threshold, reset), the recurrent and readout weights, the stimulus through w_in.
The double-exponential synapse becomes its decay part, a leaky integrator per unit (``LI`` of the
postsynaptic decay constant td, area W per spike, as ours), and so does the readout's filtered
spike train r. What NIR cannot say is listed in ``DROPPED``; ``nir_cost`` measures with our own
simulator what dropping refractoriness and noise costs (the kernel keeps the 2 ms rise, which a
``LIFParameters`` variant cannot remove). Units: NIR has none; times are in seconds, voltages and
currents in mV, weights as ``SpikingNetwork`` holds them (mV s per spike, w_in in mV per unit of
stimulus), stated in the graph's metadata.
"""

from __future__ import annotations

import numpy as np

from rate2spike.conversion import conversion_check
from rate2spike.interop.common import Exported, as_list, require, write_by_name

DROPPED = (
    "refractoriness (t_ref): NIR 1.x LIF units have no refractory period",
    "membrane noise (noise_sd per step): NIR graphs are deterministic",
    "synaptic rise (tau_rise): the double-exponential synapse keeps only its decay (an LI node of td per unit)",
    "random initial voltages (v_initial_low..v_initial_high): a graph holds no initial state",
)
COST_SEED = 20261206  # the cost's trials: fresh, the same for the full and the reduced network
COST_TRIALS = 100


def nir_cost(exported: Exported, n_trials: int = COST_TRIALS, seed: int = COST_SEED, progress=None) -> dict:
    """Accuracy (reference's rule) of the full network and of the same network without what NIR
    drops and the kernel can switch off (t_ref = 0, noise_sd = 0), on the same ``n_trials`` trials.
    ``progress(done, total)`` hears each block of trials (2 x n_trials in all)."""
    spec = exported.spec
    reduced_params = spec.params.replace(t_ref=0.0, noise_sd=0.0)
    full, reduced = (conversion_check(spec.model, spec.scaling_factor, n_trials, seed, spec.task, params=params,
                                      progress=None if progress is None else
                                      (lambda done, total, before=k * n_trials: progress(before + done, 2 * total)))
                     for k, params in enumerate((spec.params, reduced_params)))
    return {"n_trials": n_trials, "seed": seed, "accuracy_full": full.accuracy, "interval_full": list(full.interval),
            "accuracy_without_dropped": reduced.accuracy, "interval_without_dropped": list(reduced.interval),
            "reduced_parameters": reduced_params.describe(),
            "not_measured": "the synaptic rise: the reduced run keeps tau_rise (no LIFParameters value removes it)"}


def cost_line(cost: dict) -> str:
    """The cost as one line, for the CLI and the dashboard."""
    return (f"accuracy on {cost['n_trials']} trials: full network {cost['accuracy_full']:.3f}, without what NIR drops "
            f"({cost['reduced_parameters']}; rise kept) {cost['accuracy_without_dropped']:.3f}")


def nir_graph(exported: Exported, cost: dict | None = None):
    """The network as a ``nir.NIRGraph``: input -> w_in -> lif; lif -> recurrent -> synapse (LI,
    td) -> lif; lif -> readout_filter (LI, td) -> w_out -> output."""
    nir = require("nir")
    net, p = exported.network, exported.params
    n, n_in = net.N, net.w_in.shape[1]
    ones = np.ones(n)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "w_in": nir.Linear(weight=np.asarray(net.w_in, dtype=np.float64)),
        "lif": nir.LIF(tau=p.tau_m * ones, r=ones.copy(), v_leak=p.bias * ones, v_threshold=p.v_threshold * ones,
                       v_reset=p.v_reset * ones),
        "recurrent": nir.Linear(weight=np.ascontiguousarray(net.W, dtype=np.float64)),
        "synapse": nir.LI(tau=net.td.copy(), r=ones.copy(), v_leak=np.zeros(n)),
        "readout_filter": nir.LI(tau=net.td.copy(), r=ones.copy(), v_leak=np.zeros(n)),
        "w_out": nir.Linear(weight=np.asarray(net.w_out, dtype=np.float64).reshape(1, n)),
        "output": nir.Output(output_type={"output": np.array([1])}),
    }
    edges = [("input", "w_in"), ("w_in", "lif"), ("lif", "recurrent"), ("recurrent", "synapse"), ("synapse", "lif"),
             ("lif", "readout_filter"), ("readout_filter", "w_out"), ("w_out", "output")]
    metadata = {**_flat(exported.provenance), "units": "time s; voltage and current mV; recurrent weight mV s per "
                "spike; w_in mV per unit of stimulus; output per Hz of filtered rate",
                "excitatory": as_list(net.exc.astype(np.int64)), "dropped": " | ".join(DROPPED),
                "stimulus_step_s": 0.005}
    if cost is not None:  # NIR reads lists of strings back as bytes: the cost's are all numbers or one string
        metadata.update({f"cost_{key}": value for key, value in cost.items()})
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def _flat(provenance: dict) -> dict:
    flat = {key: value for key, value in provenance.items() if key != "lif_parameters"}
    flat.update({f"lif_{key}": value for key, value in provenance["lif_parameters"].items()})
    return flat


def write_nir(exported: Exported, path, cost: dict | None = None) -> None:
    """Write the graph to ``path`` (HDF5, ``nir.write``), atomically."""
    nir = require("nir")
    graph = nir_graph(exported, cost)
    write_by_name(path, lambda temporary: nir.write(str(temporary), graph))
