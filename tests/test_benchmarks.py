"""The benchmarks (benchmarks/, run from a checkout): what they print is what they measured."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def test_the_size_benchmark_times_synthetic_networks_of_each_size():
    """`python -m benchmarks --sizes` prints one row per size (its timings are reported, not tested);
    its networks follow Dale's principle with about 20% inhibitory units, like trained ones."""
    from benchmarks.bench import run_size_bench, synthetic_model

    from rate2spike.trial import TrialSpec, run_trial

    lines = []
    figures = run_size_bench(say=lines.append, sizes=(40, 80), repeats=1)
    assert sorted(figures) == [40, 80]
    rows = [line.split() for line in lines[2:]]
    assert [int(row[0]) for row in rows] == [40, 80] and "float32 ms" in lines[1]
    for row in rows:
        n_units, seconds = int(row[0]), figures[int(row[0])]
        assert float(row[1]) == round(seconds * 1e3, 1)  # the table prints what was timed, in ms
        assert float(row[2]) == round(seconds / (n_units * 20000) * 1e9, 2)  # per unit and 0.05 ms step, in ns
        trial = run_trial(TrialSpec(synthetic_model(n_units), "go-nogo", 50.0, condition="Go"))
        spikes = int(trial.recording.spike_counts.sum())
        assert int(row[3]) == spikes > 0  # the very trial that was timed
        assert float(row[4]) == round(spikes / n_units, 1)  # Hz per unit over the 1 s trial
        assert float(row[5]) > 0
    model = synthetic_model(400)
    signs = np.sign(model.recurrent_weights())
    assert (signs[:, model.exc] >= 0).all() and (signs[:, ~model.exc] <= 0).all()
    assert 0.7 < model.exc.mean() < 0.9


def test_the_benchmark_times_the_numpy_reading_kept_in_tests():
    """`python -m benchmarks` compares with the same NumPy reading the faithfulness tests use, loaded
    from this checkout's tests/ (it is not part of the installed package)."""
    import numpy_reading
    from benchmarks.bench import NUMPY_READING, numpy_reading as load

    assert NUMPY_READING == Path(numpy_reading.__file__).resolve()
    assert load().__code__.co_code == numpy_reading.reference_lif.__code__.co_code
