"""The statistics behind the alerts: pure numpy/scipy functions, one row per entity.

Hourly series are (entities, hours) arrays: column t is one UTC hour, column t - 168 the same
hour a week earlier. Nothing here reads the store or knows what an entity is.

Spikes and surges (spend, tokens, calls): the baseline of an hour is the median of the same
hour of the week in up to BASELINE_WEEKS earlier weeks of the entity's history. The residual
is taken on the square-root scale of "call equivalents" (value / the entity's mean per call;
calls are their own unit), the scale that steadies the variance of counts and of sums of
calls, and scaled down for busy entities, whose whole days swing (DAY_SWING_VARIANCE). No
textbook distribution fits those residuals: an hour's spend is a sum of a few heavy-tailed
call costs on busy and quiet days alike, and counts swing with the day too. (A negative
binomial tail with per-entity method-of-moments overdispersion, tried first on the bench's
data, raised 3 to 400 times as many false alerts, depending on how the expected count was
smoothed, and found fewer anomalies.) So the p-value comes from each entity's own residuals:
beyond their 90th percentile the tail is taken as exponential (a generalised Pareto tail of
shape 0, the limit for normal- and lognormal-like data), its rate from how far the residuals
go from the 90th to the 95th percentile (where the tail has halved); quantiles, so the few
anomalies already in the history barely move it. An entity with little history leans on all
entities' tail (on this scale entities are comparable).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

WEEK_HOURS = 168
BASELINE_WEEKS = 8
HOURS_PER_CHUNK = 1 << 18  # hours per block of the (hours, weeks) stack: 8 MB
ENTITIES_PER_BLOCK = 500
TAIL_LEVEL = 0.90  # an entity's residuals above this quantile are its tail
TAIL_HALF_LEVEL = 1 - (1 - TAIL_LEVEL) / 2  # where the tail has halved
TAIL_PRIOR_HOURS = 200  # an entity with this many active hours trusts its own tail half
MIN_TAIL_SPACING = 0.2  # sqrt(call equivalents): the tail halves no faster than this
# Whole days run busier or quieter (a multiplicative swing of about 45%), which adds about
# this x (call equivalents in an hour) to the variance of a square root's 1/4 from counting
# alone: residuals are scaled by it, so busy and quiet entities' tails compare.
DAY_SWING_VARIANCE = 0.2
DEFAULT_TAIL = (1.0, 0.5)  # (tail start, halving distance) while no entity has a long history
FORECAST_INTERVAL = 0.90
MIN_FORECAST_DAYS = 7
MIN_SEGMENT_DAYS = 7  # a change-point needs this many days on each side


@dataclass
class Seasonal:
    """Per hour asked about: the median of the same hour of the week in earlier weeks, and
    how many weeks there were (0: no baseline, median NaN)."""

    median: np.ndarray
    weeks: np.ndarray


def seasonal_median(values: np.ndarray, history_from: np.ndarray, rows: np.ndarray,
                    columns: np.ndarray) -> Seasonal:
    """The baseline of the hours (rows[i], columns[i]) of `values` (entities x hours): the
    same hour in up to BASELINE_WEEKS earlier weeks, leaving out weeks before the entity's
    `history_from` column (its first call: before it, the entity was not there)."""
    history = _history(values, history_from)
    flat = history.ravel()
    median = np.empty(rows.size)
    weeks = np.empty(rows.size, dtype=np.int8)
    for first in range(0, rows.size, HOURS_PER_CHUNK):
        chunk = slice(first, first + HOURS_PER_CHUNK)
        same_hour = rows[chunk] * history.shape[1] + columns[chunk] + _PADDING
        stack = np.empty((same_hour.size, BASELINE_WEEKS), dtype=np.float32)
        for week in range(BASELINE_WEEKS):
            stack[:, week] = flat.take(same_hour - (week + 1) * WEEK_HOURS)
        stack.sort(axis=1)  # NaN (no such week) sorts last
        count = BASELINE_WEEKS - np.isnan(stack).sum(axis=1, dtype=np.int8)
        middle = np.arange(same_hour.size) * BASELINE_WEEKS
        low = stack.ravel().take(middle + np.maximum(count - 1, 0) // 2)
        high = stack.ravel().take(middle + np.minimum(count // 2, BASELINE_WEEKS - 1))
        median[chunk] = np.where(count > 0, (low.astype(float) + high) / 2, np.nan)
        weeks[chunk] = count
    return Seasonal(median, weeks)


_PADDING = BASELINE_WEEKS * WEEK_HOURS


def _history(values: np.ndarray, history_from: np.ndarray) -> np.ndarray:
    """`values` as float32 after BASELINE_WEEKS weeks of NaN (no history before the
    series), with NaN before each entity's first call."""
    entities, hours = values.shape
    history = np.full((entities, _PADDING + hours), np.nan, dtype=np.float32)
    history[:, _PADDING:] = values
    late = np.nonzero(history_from > 0)[0]
    if late.size:
        before = np.arange(hours) < np.minimum(history_from[late], hours)[:, None]
        history[late, _PADDING:] = np.where(before, np.nan, history[late, _PADDING:])
    return history


@dataclass
class SpikeTest:
    """Per active hour, rows ascending and then columns: the entity (row) and hour
    (column), the usual value (the seasonal median; NaN without a baseline) and how many
    weeks it came from, a robust z-score for the reader (the residual over the spread of
    the entity's residuals, IQR / 1.349) and the one-sided p-value (1 where the hour has no
    baseline or no value)."""

    rows: np.ndarray
    columns: np.ndarray
    usual: np.ndarray
    weeks: np.ndarray
    z: np.ndarray
    p_value: np.ndarray


@dataclass
class Residuals:
    """spike_test's work that is each entity's own: per active hour (entities in order,
    then columns ascending) its column, usual value, weeks of baseline and residual (NaN:
    nothing to compare); per entity how many active hours it has, how many residuals and
    their _QUANTILES. An entity's part depends on its own series only, so entities of
    several dimensions that made the very same calls can share it."""

    hours: np.ndarray
    columns: np.ndarray
    usual: np.ndarray
    weeks: np.ndarray
    residual: np.ndarray
    counts: np.ndarray
    quantiles: np.ndarray

    def take(self, entities: np.ndarray) -> Residuals:
        """The part of these entities (indexes), in this order."""
        entities = np.asarray(entities, dtype=np.intp)
        hours = self.hours[entities]
        starts = (np.cumsum(self.hours) - self.hours)[entities]
        cells = np.repeat(starts - (np.cumsum(hours) - hours), hours) + np.arange(int(hours.sum()))
        return Residuals(hours, self.columns[cells], self.usual[cells], self.weeks[cells], self.residual[cells],
                         self.counts[entities], self.quantiles[entities])

    @staticmethod
    def concatenate(parts: Sequence[Residuals]) -> Residuals:
        return Residuals(*(np.concatenate([getattr(part, name) for part in parts])
                           for name in ("hours", "columns", "usual", "weeks", "residual", "counts", "quantiles")))


def spike_test(values: np.ndarray, active: np.ndarray, history_from: np.ndarray, unit: np.ndarray) -> SpikeTest:
    """Test every active hour of `values` (entities x hours; `active`: the hours with
    calls) against its seasonal baseline; `unit` is each entity's mean value per call, and
    each entity's tail is fitted on all its active hours."""
    return tail_test(residuals(values, active, history_from, unit))


def residuals(values: np.ndarray, active: np.ndarray, history_from: np.ndarray, unit: np.ndarray) -> Residuals:
    """spike_test's part per entity. Entities go ENTITIES_PER_BLOCK at a time, so the working
    arrays are reused rather than allocated anew (page faults cost as much as the arithmetic here)."""
    entities = values.shape[0]
    hours = np.count_nonzero(active, axis=1)
    total = int(hours.sum())
    found = Residuals(hours, np.empty(total, np.int32), np.empty(total, np.float32), np.empty(total, np.int8),
                      np.empty(total, dtype=np.float32), np.zeros(entities, dtype=np.int64),
                      np.full((entities, len(_QUANTILES)), np.nan))
    unit = np.maximum(unit, np.finfo(float).tiny)
    level = values.sum(axis=1) / unit / np.maximum(hours, 1)
    scale = 1 / np.sqrt(unit * (1 + DAY_SWING_VARIANCE * level))
    done = 0
    for first in range(0, entities, ENTITIES_PER_BLOCK):
        block = slice(first, first + ENTITIES_PER_BLOCK)
        rows, columns = np.nonzero(active[block])
        cells = slice(done, done + rows.size)
        seasonal = seasonal_median(values[block], history_from[block], rows, columns)
        observed = values[block][rows, columns]
        residual = (np.sqrt(observed) - np.sqrt(seasonal.median)) * scale[block][rows]
        residual[observed <= 0] = np.nan
        found.columns[cells], found.usual[cells], found.weeks[cells] = columns, seasonal.median, seasonal.weeks
        found.residual[cells] = residual
        found.counts[block], found.quantiles[block] = _quantiles(residual, rows, len(found.counts[block]))
        done += rows.size
    return found


def tail_test(found: Residuals) -> SpikeTest:
    """spike_test's p-values and z-scores from its entities' residuals: each entity's tail
    leans on all of them (_Tail)."""
    total = found.columns.size
    rows = np.repeat(np.arange(found.hours.size, dtype=np.int32), found.hours)
    test = SpikeTest(rows, found.columns, found.usual, found.weeks, np.empty(total, np.float32), np.empty(total))
    tail = _Tail.of(found.quantiles, found.counts)
    for first in range(0, total, HOURS_PER_CHUNK):
        cells = slice(first, first + HOURS_PER_CHUNK)
        row, residual = rows[cells], found.residual[cells]
        with np.errstate(over="ignore"):
            p_value = (1 - TAIL_LEVEL) * np.exp2((tail.start[row] - residual) / tail.spacing[row])
        test.p_value[cells] = np.where(np.isnan(residual), 1.0, np.minimum(p_value, 1.0))
        test.z[cells] = residual / tail.spread[row]
    return test


_QUANTILES = (0.25, 0.75, TAIL_LEVEL, TAIL_HALF_LEVEL)


def _quantiles(residual: np.ndarray, rows: np.ndarray, entities: int) -> tuple[np.ndarray, np.ndarray]:
    """Per entity (rows ascending): how many residuals it has, and their _QUANTILES."""
    known = ~np.isnan(residual)
    row = rows[known]
    count = np.bincount(row, minlength=entities)
    position = np.arange(row.size) - (np.cumsum(count) - count)[row]  # rank within the entity
    table = np.full((entities, max(int(count.max(initial=0)), 1)), np.nan, dtype=np.float32)
    table[row, position] = residual[known]
    table.sort(axis=1)
    index = np.floor(np.multiply.outer(np.maximum(count - 1, 0), _QUANTILES)).astype(np.intp)
    found = np.take_along_axis(table, index, axis=1).astype(float)
    return count, np.where(count[:, None] > 0, found, np.nan)


@dataclass
class _Tail:
    """Per entity: where its tail starts, how far it goes to halve, and the spread of its
    residuals; shrunk towards all entities' when the entity has few hours (in call
    equivalents entities are comparable)."""

    start: np.ndarray
    spacing: np.ndarray
    spread: np.ndarray

    @classmethod
    def of(cls, quantiles: np.ndarray, counts: np.ndarray) -> _Tail:
        low, high, start, halved = quantiles.T
        spacing = halved - start
        long = counts >= TAIL_PRIOR_HOURS
        prior = (float(np.median(start[long])), float(np.median(spacing[long]))) if long.any() else DEFAULT_TAIL
        weight = counts / (counts + TAIL_PRIOR_HOURS)
        start = weight * np.nan_to_num(start) + (1 - weight) * prior[0]
        spacing = weight * np.nan_to_num(spacing) + (1 - weight) * prior[1]
        spread = np.nan_to_num((high - low) / 1.349)
        return cls(start, np.maximum(spacing, MIN_TAIL_SPACING), np.maximum(spread, MIN_TAIL_SPACING))


def benjamini_hochberg(p_values: np.ndarray, level: float, tests: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Which p-values are discoveries at false discovery rate `level`, and their q-values
    (Benjamini-Hochberg adjusted p-values; NaN for the others). `tests` is how many tests
    were made in all, when only some p-values are given: a p-value above `level` can never
    be a discovery, so a caller may pass only those up to it."""
    p_values = np.asarray(p_values, dtype=float).ravel()
    tests = p_values.size if tests is None else tests
    if tests < p_values.size:
        raise ValueError(f"{p_values.size} p-values given, but only {tests} tests made")
    candidates = np.nonzero(p_values <= level)[0]
    order = candidates[np.argsort(p_values[candidates], kind="stable")]
    rank = np.arange(1, order.size + 1)
    adjusted = np.minimum.accumulate((p_values[order] * tests / rank)[::-1])[::-1]
    q_values = np.full(p_values.size, np.nan)
    q_values[order] = np.minimum(adjusted, 1.0)
    discovered = q_values <= level
    q_values[~discovered] = np.nan
    return discovered, q_values


@dataclass
class Forecast:
    """Month-end totals per entity: expected, a 90% prediction interval, and what the
    probability of passing a budget needs (the spread of the rest of the month and its
    degrees of freedom)."""

    month_to_date: np.ndarray
    expected: np.ndarray
    low: np.ndarray
    high: np.ndarray
    spread: np.ndarray
    degrees_of_freedom: int

    def probability_above(self, budget: np.ndarray | float) -> np.ndarray:
        """P(month total > budget); 1 once the month to date has passed it."""
        from scipy import stats  # not at the top: only forecasts need it, and its import is most of a round's start

        with np.errstate(divide="ignore", invalid="ignore"):
            t = (budget - self.expected) / self.spread
        chance = np.where(self.spread > 0, stats.t.sf(t, self.degrees_of_freedom),
                          (self.expected > budget).astype(float))
        return np.where(self.month_to_date > budget, 1.0, chance)


def month_end_forecast(month_to_date: np.ndarray, recent_days: np.ndarray, today_left: float,
                       days_after_today: int) -> Forecast:
    """Where each entity's spend for the month ends: the month to date plus the rest of the
    month from a linear trend fitted to `recent_days` (complete days, oldest first, ending
    yesterday; at least MIN_FORECAST_DAYS), with an ordinary-least-squares prediction
    interval for the sum of the remaining days (`today_left`: the fraction of today still to
    come, then `days_after_today` whole days). Spend cannot fall, so neither can the total."""
    from scipy import stats  # not at the top: only forecasts need it, and its import is most of a round's start

    recent_days = np.asarray(recent_days, dtype=float)
    days = recent_days.shape[1]
    if days < MIN_FORECAST_DAYS:
        raise ValueError(f"a forecast needs at least {MIN_FORECAST_DAYS} complete days, got {days}")
    design = np.column_stack([np.ones(days), np.arange(days)])
    future = np.column_stack([np.ones(days_after_today + 1), np.arange(days, days + days_after_today + 1)])
    weights = np.concatenate([[today_left], np.ones(days_after_today)])
    inverse = np.linalg.inv(design.T @ design)
    coefficients = recent_days @ (design @ inverse)  # (entities, 2)
    residuals = recent_days - coefficients @ design.T
    freedom = days - 2
    variance = (residuals**2).sum(axis=1) / freedom
    rest = coefficients @ (future.T @ weights)
    leverage = weights @ future @ inverse @ future.T @ weights  # the fitted line's own uncertainty
    spread = np.sqrt(variance * (weights.sum() + leverage))
    margin = stats.t.ppf(0.5 + FORECAST_INTERVAL / 2, freedom) * spread
    month_to_date = np.asarray(month_to_date, dtype=float)
    return Forecast(
        month_to_date=month_to_date,
        expected=month_to_date + np.maximum(rest, 0.0),
        low=month_to_date + np.maximum(rest - margin, 0.0),
        high=month_to_date + np.maximum(rest + margin, 0.0),
        spread=spread,
        degrees_of_freedom=freedom,
    )


@dataclass
class ChangePoint:
    """The most likely rise in a series: the first index after it, the means before and
    after, and the p-value of a rise at least this clear in a series without one."""

    index: int
    before: float
    after: float
    p_value: float


def rise_change_point(series: np.ndarray) -> ChangePoint | None:
    """A one-sided CUSUM test for a single rise in the mean. The cumulative sum of the
    deviations from the overall mean, scaled by a noise level taken from successive
    differences (which a step barely moves), tends to a Brownian bridge without a change;
    a rise drives it down to its minimum at the change, and P(the bridge's maximum > m) is
    exp(-2 m^2). Only changes with MIN_SEGMENT_DAYS values on each side are looked for;
    None when the series is too short or flat."""
    series = np.asarray(series, dtype=float)
    length = series.size
    if length < 2 * MIN_SEGMENT_DAYS:
        return None
    noise = 1.4826 * np.median(np.abs(np.diff(series))) / np.sqrt(2)
    if noise <= 0:
        noise = np.std(np.diff(series)) / np.sqrt(2)
    if noise <= 0:
        return None
    cusum = np.cumsum(series - series.mean()) / (noise * np.sqrt(length))
    candidates = np.arange(MIN_SEGMENT_DAYS, length - MIN_SEGMENT_DAYS + 1)
    split = int(candidates[np.argmin(cusum[candidates - 1])])
    depth = -cusum[split - 1]
    before, after = float(series[:split].mean()), float(series[split:].mean())
    p_value = float(np.exp(-2 * depth**2)) if depth > 0 and after > before else 1.0
    return ChangePoint(split, before, after, p_value)
