"""Finding lambda with fewer trials, and saying how sure the answer is (docs/method.md, "Searching for lambda").

The reference scores every lambda of a fixed grid on the same number of trials and keeps the first
maximum. This module adds, on the same common random numbers (trial k is the same stimulus and noise
at every lambda):

- **edge extension**: while the lambda band reaches an edge of the grid (and accuracy does not fall
  toward it), the grid grows outward by its step, until the band is bracketed; never on a flat curve;
- **refinement**: a second pass at a finer step around the best lambda, on the best lambda's trials;
- **racing**: lambdas are scored in rounds and dropped as soon as a paired exact test on the shared
  trials shows them worse than the leader, with a stated family-wise error rate;
- **the lambda band**: every lambda whose accuracy is not significantly below the best's.

The procedures only see a ``LambdaTable`` (which trials each lambda was scored on and whether each was
answered correctly) and an ``evaluate(jobs)`` callable that scores (lambda, trial) pairs into it, so the
same code runs on LIF trials (``rate2spike.sweep``) and on constructed Bernoulli curves (the tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
from scipy.special import bdtrc

from rate2spike.progress import is_cancelled

DEFAULT_ALPHA = 0.05  # family-wise error rate of the race and of the band
DEFAULT_ROUND_TRIALS = 10  # trials per lambda per racing round
DEFAULT_EXTEND_LIMIT = 6  # lambdas added on each side at most
REFINE_DIVISIONS = 5  # refinement step = grid step / 5
MIN_SCALING_FACTOR = 1.0  # extension never goes below lambda = 1

UNSCORED = -1  # a trial not (yet) scored at a lambda

GRID, EXTENSION, REFINEMENT = "grid", "extension", "refinement"  # where a lambda came from


def paired_worse_p(best: np.ndarray, other: np.ndarray) -> float:
    """One-sided exact McNemar (sign) test on paired trials: the p-value of "``other`` is not worse
    than ``best``", from the discordant trials alone (best right and other wrong, or the reverse).

    ``best`` and ``other`` are 0/1 verdicts of the same trials. Ties (both right or both wrong) carry
    no information about which lambda is better, which is why pairing on common random numbers makes
    the test far stronger than comparing two accuracies.
    """
    best = np.asarray(best, dtype=bool)
    other = np.asarray(other, dtype=bool)
    best_only = int(np.count_nonzero(best & ~other))
    other_only = int(np.count_nonzero(other & ~best))
    discordant = best_only + other_only
    if discordant == 0:
        return 1.0
    return float(bdtrc(best_only - 1, discordant, 0.5))  # P(X >= best_only), X ~ Bin(discordant, 1/2)


class LambdaTable:
    """Per lambda (kept in increasing order): the verdict of every scored trial, how many trials it
    is planned to get, whether a race dropped it and where it came from (grid, extension, refinement).

    Results are given in another order (``given_order``): the user's lambdas in the order given, then
    the lambdas the search added, in increasing order; the best lambda is the first maximum in that
    order, as the reference takes it in the user's order.

    Trial k of every lambda is the same trial (common random numbers), so two lambdas are compared on
    the trials both have scored. Inserting lambdas calls the listeners with the new positions, so an
    owner keeping its own per-lambda rows (``SweepResult``) stays aligned.
    """

    def __init__(self, scaling_factors: Iterable[float], n_trials: int):
        factors = np.asarray(list(scaling_factors), dtype=float).reshape(-1)
        if np.unique(factors).size != factors.size:
            raise ValueError("scaling_factors has repeated values")
        self.n_trials = int(n_trials)
        order = np.argsort(factors, kind="stable")
        self.scaling_factors = factors[order]
        k = factors.size
        self.rank = order.astype(int)  # position in the user's grid; lambdas the search adds get k
        self.verdicts = np.full((k, self.n_trials), UNSCORED, dtype=np.int8)
        # running counts, so that a progress report after every trial costs O(lambdas), not O(trials)
        self._n_done = np.zeros(k, dtype=int)
        self._n_correct = np.zeros(k, dtype=int)
        self.planned = np.full(k, self.n_trials, dtype=int)
        self.dropped = np.zeros(k, dtype=bool)
        self.origin = np.array([GRID] * k, dtype=object)
        self._listeners: list[Callable[[list[int]], None]] = []

    def __len__(self) -> int:
        return self.scaling_factors.size

    def on_insert(self, listener: Callable[[list[int]], None]) -> None:
        self._listeners.append(listener)

    def index(self, scaling_factor: float) -> int:
        k = int(np.searchsorted(self.scaling_factors, scaling_factor))
        if k >= len(self) or self.scaling_factors[k] != scaling_factor:
            raise KeyError(f"lambda {scaling_factor:g} is not in the search")
        return k

    def insert(self, values: Iterable[float], origin: str, planned: int) -> list[float]:
        """Add lambdas not yet in the table; returns those added (in increasing order)."""
        new = sorted({float(v) for v in values} - set(self.scaling_factors.tolist()))
        for value in new:
            k = int(np.searchsorted(self.scaling_factors, value))
            self.scaling_factors = np.insert(self.scaling_factors, k, value)
            self.verdicts = np.insert(self.verdicts, k, UNSCORED, axis=0)
            self._n_done = np.insert(self._n_done, k, 0)
            self._n_correct = np.insert(self._n_correct, k, 0)
            self.planned = np.insert(self.planned, k, planned)
            self.dropped = np.insert(self.dropped, k, False)
            self.origin = np.insert(self.origin, k, origin)
            self.rank = np.insert(self.rank, k, int((self.origin == GRID).sum()))
            for listener in self._listeners:
                listener(k)
        return new

    def set(self, k: int, trial: int, correct: bool) -> None:
        if self.verdicts[k, trial] != UNSCORED:
            raise ValueError(f"trial {trial} at lambda {self.scaling_factors[k]:g} is already recorded")
        self.verdicts[k, trial] = 1 if correct else 0
        self._n_done[k] += 1
        self._n_correct[k] += bool(correct)

    def set_many(self, k: int, trials, correct) -> None:
        """Record several trials of lambda k at once (each trial once)."""
        trials = np.asarray(trials, dtype=int)
        if (self.verdicts[k, trials] != UNSCORED).any():
            raise ValueError(f"some of these trials at lambda {self.scaling_factors[k]:g} are already recorded")
        correct = np.asarray(correct, dtype=bool)
        self.verdicts[k, trials] = correct
        self._n_done[k] += trials.size
        self._n_correct[k] += int(np.count_nonzero(correct))

    @property
    def n_done(self) -> np.ndarray:
        return self._n_done.copy()

    @property
    def n_correct(self) -> np.ndarray:
        return self._n_correct.copy()

    @property
    def accuracy(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.n_correct / self.n_done

    @property
    def complete(self) -> np.ndarray:
        """Lambdas that got every trial planned for them."""
        return self.n_done >= self.planned

    def alive(self) -> np.ndarray:
        """Indices of the lambdas still in the race."""
        return np.flatnonzero(~self.dropped)

    def given_order(self) -> np.ndarray:
        """Indices of the table in the order results are given: the user's lambdas as given, then
        the added ones in increasing order."""
        return np.lexsort((self.scaling_factors, self.rank))

    def best(self, candidates=None) -> int | None:
        """Index of the first maximum of accuracy among ``candidates`` (default: complete lambdas
        not dropped) in the given order (``given_order``), as the reference takes the first maximum
        of the grid as the user gave it."""
        if candidates is None:
            candidates = np.flatnonzero(self.complete & ~self.dropped)
        candidates = np.asarray(candidates, dtype=int)
        if candidates.size == 0:
            return None
        accuracy = self.accuracy[candidates]
        if np.isnan(accuracy).all():
            return None
        top = candidates[accuracy == np.nanmax(accuracy)]
        return int(top[np.lexsort((self.scaling_factors[top], self.rank[top]))[0]])

    def shared(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """The verdicts of lambdas a and b on the trials both have scored."""
        both = (self.verdicts[a] != UNSCORED) & (self.verdicts[b] != UNSCORED)
        return self.verdicts[a, both], self.verdicts[b, both]

    def worse_p(self, best: int, other: int) -> float:
        return paired_worse_p(*self.shared(best, other))

    def band(self, alpha: float = DEFAULT_ALPHA) -> np.ndarray:
        """Indices of the lambdas not significantly below the best: complete, not dropped, and a
        paired exact test on the shared trials does not reject at alpha / (candidates - 1)
        (Bonferroni over the lambdas the best could have been compared with)."""
        best = self.best()
        if best is None:
            return np.array([], dtype=int)
        candidates = np.flatnonzero(self.complete & ~self.dropped)
        level = alpha / max(candidates.size - 1, 1)
        return np.array([k for k in candidates if k == best or self.worse_p(best, k) >= level], dtype=int)

    def grid_step(self) -> float:
        """The spacing of the grid a user gave (the smallest gap between grid lambdas)."""
        grid = self.scaling_factors[self.origin == GRID]
        gaps = np.diff(grid)
        return float(gaps.min()) if gaps.size else max(float(grid[0]) / 4, MIN_SCALING_FACTOR)


@dataclass(frozen=True)
class SearchOptions:
    """How to search beyond the reference's fixed grid (all off: the reference's search).

    ``extend``: grow the grid outward by its step while the lambda band reaches its edge (never below
    lambda 1, at most ``extend_limit`` lambdas per side). ``refine``: score lambdas at the grid step /
    5 between the best's neighbours on the best's trials. ``race``: score in rounds of
    ``round_trials`` and drop lambdas shown worse than the leader. ``alpha``: the family-wise error
    rate of the race and of the band.
    """

    extend: bool = False
    refine: bool = False
    race: bool = False
    alpha: float = DEFAULT_ALPHA
    round_trials: int = DEFAULT_ROUND_TRIALS
    extend_limit: int = DEFAULT_EXTEND_LIMIT

    @property
    def beyond_reference(self) -> bool:
        """True when the search scores other lambdas or trials than the reference's full grid."""
        return self.extend or self.refine or self.race

    def __post_init__(self):
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1, got {self.alpha!r}")
        if isinstance(self.round_trials, bool) or int(self.round_trials) != self.round_trials or self.round_trials < 1:
            raise ValueError(f"round_trials must be a positive whole number, got {self.round_trials!r}")
        if isinstance(self.extend_limit, bool) or int(self.extend_limit) != self.extend_limit or self.extend_limit < 0:
            raise ValueError(f"extend_limit must be 0 or more, got {self.extend_limit!r}")

    def describe(self) -> str:
        parts = [f"race (rounds of {self.round_trials} trials, family-wise alpha {self.alpha:g})"
                 if self.race else "full grid"]
        if self.extend:
            parts.append("edge extension")
        if self.refine:
            parts.append("refinement")
        return ", ".join(parts)


Evaluate = Callable[[list[tuple[float, int]]], bool]  # score (lambda, trial) jobs; False when cancelled


def search(table: LambdaTable, evaluate: Evaluate, options: SearchOptions = SearchOptions(), cancel=None) -> list[str]:
    """Run the search the options describe on ``table``; returns 'note:' lines about what it did
    (lambdas added at an edge or by refinement, lambdas a race dropped). Stops early, leaving the
    table as it is, when ``evaluate`` returns False (cancelled)."""
    notes: list[str] = []
    if options.race:
        finished = _race(table, evaluate, options, notes, cancel, extend=options.extend)
        if finished and options.extend:
            finished = _bracket_race(table, evaluate, options, notes, cancel)
    else:
        finished = evaluate([(lam, t) for lam in table.scaling_factors for t in range(table.n_trials)])
        if finished and options.extend:
            finished = _extend_full_grid(table, evaluate, options, notes, cancel)
    if finished and options.refine:
        finished = _refine(table, evaluate, options, notes, cancel)
    if finished and options.race and _race_note(table, options):
        notes.append(_race_note(table, options))
    return notes


def _step_out(edge: float, side: int, step: float) -> float | None:
    """The lambda one ``step`` beyond ``edge`` on ``side`` (-1 lower, +1 upper), or None at lambda 1."""
    if side < 0:
        return None if edge <= MIN_SCALING_FACTOR else max(round(edge - step, 10), MIN_SCALING_FACTOR)
    return round(edge + step, 10)


def _outward(table: LambdaTable, side: int, step: float) -> float | None:
    """The next lambda beyond the table's edge on ``side`` (-1 lower, +1 upper), or None at lambda 1."""
    return _step_out(float(table.scaling_factors[0 if side < 0 else -1]), side, step)


def _refinement_values(centre: float, step: float) -> list[float]:
    """The finer lambdas refinement scores around ``centre`` (grid step / REFINE_DIVISIONS apart)."""
    fine = step / REFINE_DIVISIONS
    values = [round(centre + k * fine, 10) for k in range(-(REFINE_DIVISIONS - 1), REFINE_DIVISIONS) if k]
    return [v for v in values if v >= MIN_SCALING_FACTOR]


def reachable_scaling_factors(scaling_factors, options: SearchOptions) -> set[float]:
    """Every lambda a search of this grid with these options could score: the grid, those edge
    extension could add on either side and refinement's around any of them. A lambda outside
    this set cannot come from the search (a resumed journal's lambdas are checked against it)."""
    table = LambdaTable(scaling_factors, 1)
    step = table.grid_step()
    found = set(table.scaling_factors.tolist())
    if options.extend:
        for side, edge in ((-1, min(found)), (1, max(found))):
            for _ in range(options.extend_limit):
                edge = _step_out(edge, side, step)
                if edge is None:
                    break
                found.add(edge)
    if options.refine:
        for centre in list(found):
            found.update(_refinement_values(centre, step))
    return found


def _edge_sides(table: LambdaTable, best: int | None) -> list[int]:
    """The sides (-1, +1) of the table on which ``best`` is the outermost lambda."""
    if best is None or len(table) < 2:
        return []
    return [side for side, edge in ((-1, 0), (1, len(table) - 1)) if best == edge]


def _extension_note(side: int, edge_value: float, added: list[float], final_best: float,
                    cause: str = "the lambda band reached") -> str:
    where = "lower" if side < 0 else "upper"
    return (f"{cause} the grid's {where} edge ({edge_value:g}); added lambda "
            f"{', '.join(f'{v:g}' for v in added)}; best now {final_best:g}")


def curve_is_flat(table: LambdaTable, alpha: float) -> bool:
    """Whether no scored lambda is significantly worse than the best (the band holds them all): a
    curve that gives no direction to search in, such as a model that every lambda fails alike."""
    scored = np.flatnonzero(table.complete & ~table.dropped)
    return scored.size < 2 or table.band(alpha).size == scored.size


def band_reaches_edge(table: LambdaTable, side: int, alpha: float) -> bool:
    """Whether the lambda band includes the outermost lambda on ``side`` (-1 lower, +1 upper) and
    accuracy does not fall toward it (the edge is not significantly below its inner neighbour, paired
    exact test at ``alpha``): the band may go on beyond the grid. Go-nogo's band reaches 20 with 0.91
    there against 0.96 at 25: falling, so the search does not go lower; xor's reaches 20 at 0.95 as
    at 25, and its best lies at 10."""
    if len(table) < 2:
        return False
    edge = 0 if side < 0 else len(table) - 1
    return edge in table.band(alpha) and table.worse_p(edge - side, edge) >= alpha


def _extend_full_grid(table, evaluate, options, notes, cancel) -> bool:
    """Grow the scored grid outward on each side while the lambda band reaches that edge, so the band
    ends up bracketed by lambdas clearly below the best (never on a flat curve: ``curve_is_flat``
    before any extension); each added lambda gets every trial."""
    if curve_is_flat(table, options.alpha):
        return True
    step = table.grid_step()
    for side in (-1, 1):
        edge_value = float(table.scaling_factors[0 if side < 0 else -1])
        added: list[float] = []
        while (len(added) < options.extend_limit and not is_cancelled(cancel)
               and band_reaches_edge(table, side, options.alpha)):
            value = _outward(table, side, step)
            if value is None:
                break
            table.insert([value], EXTENSION, table.n_trials)
            added.append(value)
            if not evaluate([(value, t) for t in range(table.n_trials)]):
                return False
        if added:
            notes.append(_extension_note(side, edge_value, added, float(table.scaling_factors[table.best()])))
    return True


def _bracket_race(table, evaluate, options, notes, cancel) -> bool:
    """After a race: while its band reaches an edge (``band_reaches_edge``), race the next lambda
    outward against the best, so that a race brackets its band as the full grid does."""
    if curve_is_flat(table, options.alpha):
        return True
    step = table.grid_step()
    for side in (-1, 1):
        edge_value = float(table.scaling_factors[0 if side < 0 else -1])
        added: list[float] = []
        while (sum(1 for k in np.flatnonzero(table.origin == EXTENSION)
                   if np.sign(table.scaling_factors[k] - edge_value) == side) < options.extend_limit
               and not is_cancelled(cancel) and band_reaches_edge(table, side, options.alpha)):
            value = _outward(table, side, step)
            if value is None:
                break
            table.insert([value], EXTENSION, table.n_trials)
            added.append(value)
            if not _race(table, evaluate, options, notes, cancel, entrants=[table.index(value), table.best()]):
                return False
        if added:
            notes.append(_extension_note(side, edge_value, added, float(table.scaling_factors[table.best()])))
    return True


def _significantly_worse_exists(table: LambdaTable, leader: int, contenders: np.ndarray, alpha: float) -> bool:
    """Whether some contender is significantly below the leader (paired test at ``alpha``): the
    race's curve has a shape to follow (a flat one, every lambda alike, never extends)."""
    return any(k != leader and table.worse_p(leader, k) < alpha for k in contenders)


def racing_level(alpha: float, rounds: int, alive: int) -> float:
    """Per-test level of a racing round: alpha spread evenly over the rounds, and within a round over
    the lambdas the leader could be (Bonferroni), so that a lambda as good as the best is dropped at
    any round with probability at most alpha."""
    return alpha / (rounds * max(alive - 1, 1))


def _race(table: LambdaTable, evaluate: Evaluate, options: SearchOptions, notes: list[str], cancel,
          entrants=None, extend: bool = False) -> bool:
    """Score the lambdas still in the race round by round on the same trials and drop the ones a
    paired exact test shows worse than the leader. ``entrants`` (indices; default all) take part;
    an entrant that already has a round's trials is not scored again. With ``extend``, a leader on
    the edge adds the next outward lambda (scored on the trials so far, then raced like the others)."""
    n = table.n_trials
    rounds = math.ceil(n / options.round_trials)
    step = table.grid_step()
    racing = set(float(v) for v in table.scaling_factors[entrants if entrants is not None else slice(None)])
    added = {-1: [], 1: []}
    edge_values = {}

    def alive() -> np.ndarray:
        return np.array([k for k in table.alive() if float(table.scaling_factors[k]) in racing], dtype=int)

    def catch_up(stop: int) -> bool:
        jobs = [(float(table.scaling_factors[k]), t) for k in alive() for t in range(stop)
                if table.verdicts[k, t] == UNSCORED]
        return evaluate(jobs) if jobs else not is_cancelled(cancel)

    scored = 0
    while scored < n and alive().size > 1:
        scored = min(scored + options.round_trials, n)
        if not catch_up(scored):
            return False
        leader = table.best(alive())
        if extend and _significantly_worse_exists(table, leader, alive(), options.alpha):  # never on a flat curve
            for side in _edge_sides(table, leader):
                value = _outward(table, side, step)
                if value is None or len(added[side]) >= options.extend_limit:
                    continue
                edge_values.setdefault(side, float(table.scaling_factors[leader]))
                table.insert([value], EXTENSION, n)
                racing.add(value)
                added[side].append(value)
            if not catch_up(scored):
                return False
            leader = table.best(alive())
        contenders = alive()
        level = racing_level(options.alpha, rounds, contenders.size)
        for k in contenders:
            if k != leader and table.worse_p(leader, k) < level:
                table.dropped[k] = True
                table.planned[k] = table.n_done[k]
    for k in alive():  # a race ends when one lambda remains or the trials run out
        table.planned[k] = table.n_done[k]
    best = table.best()
    for side, values in added.items():
        if values and best is not None:
            notes.append(_extension_note(side, edge_values[side], values, float(table.scaling_factors[best]),
                                         cause="the race's leader was at"))
    return True


def _race_note(table: LambdaTable, options: SearchOptions) -> str | None:
    dropped = int(table.dropped.sum())
    if not dropped:
        return None
    scored, full = int(table.n_done.sum()), len(table) * table.n_trials
    saving = f"{scored} trials instead of {full}" if scored < full else f"all {full} trials (its budget)"
    return (f"the race dropped {dropped} of {len(table)} lambdas (worse than the leader, paired exact test, "
            f"family-wise alpha {options.alpha:g}); it scored {saving}")


def _refine(table: LambdaTable, evaluate: Evaluate, options: SearchOptions, notes: list[str], cancel) -> bool:
    """Lambdas at a finer step between the best's grid neighbours: scored on the best's trials, or,
    in a race, raced against the best (which needs no new trials)."""
    best = table.best()
    if best is None:
        return True
    step = table.grid_step()
    fine = step / REFINE_DIVISIONS
    centre = float(table.scaling_factors[best])
    values = _refinement_values(centre, step)
    trials = np.flatnonzero(table.verdicts[best] != UNSCORED)
    new = table.insert(values, REFINEMENT, trials.size if not options.race else table.n_trials)
    if not new:
        return True
    if options.race:
        entrants = [table.index(v) for v in new] + [table.index(centre)]
        if not _race(table, evaluate, options, notes, cancel, entrants=entrants):
            return False
    elif not evaluate([(value, int(t)) for value in new for t in trials]):
        return False
    after = table.best()
    how = "raced against it" if options.race else f"{trials.size} trials each"
    notes.append(f"refined around {centre:g} at step {fine:g} (lambda {', '.join(f'{v:g}' for v in new)}, "
                 f"{how}); best now {float(table.scaling_factors[after]):g}")
    return True
