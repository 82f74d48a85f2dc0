"""The alert statistics on series whose answers are known: injected spikes and surges are
found and nothing else is, quiet seasonal data raises nothing, Benjamini-Hochberg by hand,
forecast intervals that cover a known trend, a change-point on a known day."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import false_discovery_control

from analytics.alerts.detectors import (
    WEEK_HOURS,
    benjamini_hochberg,
    month_end_forecast,
    residuals,
    rise_change_point,
    seasonal_median,
    spike_test,
    tail_test,
)

WEEKS = 6
HOURS = WEEKS * WEEK_HOURS
LEVEL = 0.01  # the default false discovery rate


def quiet_usage(entities: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(calls, spend) per entity and hour: office hours on weekdays, a little at night and
    at weekends, busy and quiet days, overdispersed calls and lognormal call costs."""
    rng = np.random.default_rng(seed)
    hour = np.arange(HOURS)
    office = ((hour % 24 >= 9) & (hour % 24 < 17) & ((hour // 24) % 7 < 5))
    shape = np.where(office, 1.0, 0.03)
    days = np.repeat(rng.lognormal(0, 0.3, (entities, HOURS // 24)), 24, axis=1)
    rate = rng.uniform(0.3, 12, (entities, 1)) * shape * days * rng.gamma(3, 1 / 3, (entities, HOURS))
    calls = rng.poisson(rate)
    cell = np.repeat(np.arange(calls.size), calls.ravel())
    median_cost = rng.uniform(0.005, 0.05, entities)[cell // HOURS]
    spend = np.bincount(cell, weights=rng.lognormal(np.log(median_cost), 0.9), minlength=calls.size)
    return calls.astype(float), spend.reshape(calls.shape)


def discoveries(values: np.ndarray, calls: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(entity, hour, p-value) of every discovery over the last two weeks."""
    test = spike_test(values, calls > 0, np.zeros(len(values), dtype=np.int64), unit)
    tested = test.columns >= HOURS - 2 * WEEK_HOURS
    found, _ = benjamini_hochberg(test.p_value[tested], LEVEL)
    return test.rows[tested][found], test.columns[tested][found], test.p_value[tested][found]


def per_call(values: np.ndarray, calls: np.ndarray) -> np.ndarray:
    return values.sum(axis=1) / calls.sum(axis=1)


def test_entities_residuals_are_their_own_so_dimensions_can_share_them() -> None:
    """What the alert round computes once for alice, her laptop and her key: an entity's
    residuals taken out of a bigger set and tested with other entities give the very
    figures a spike test of those entities alone gives."""
    calls, spend = quiet_usage(40, seed=11)
    history_from = np.arange(40, dtype=np.int64) * 30  # later entities start later
    shared = residuals(spend, calls > 0, history_from, per_call(spend, calls))
    some = np.array([31, 2, 17, 5, 39, 0])
    alone = spike_test(spend[some], calls[some] > 0, history_from[some], per_call(spend[some], calls[some]))
    taken = tail_test(shared.take(some))
    for name in ("rows", "columns", "usual", "weeks", "z", "p_value"):
        np.testing.assert_array_equal(getattr(taken, name), getattr(alone, name), err_msg=name)
    assert taken.rows.size == np.count_nonzero(calls[some]) > 0


def test_the_baseline_is_the_median_of_the_same_hour_in_earlier_weeks() -> None:
    values = np.zeros((2, 4 * WEEK_HOURS))
    values[0, [10, 10 + WEEK_HOURS, 10 + 2 * WEEK_HOURS]] = [1.0, 5.0, 3.0]
    values[1, [11 + WEEK_HOURS, 11 + 2 * WEEK_HOURS]] = [2.0, 4.0]
    seasonal = seasonal_median(values, np.zeros(2, dtype=np.int64), np.array([0, 1, 0, 1]),
                               np.array([10 + 3 * WEEK_HOURS, 11 + 3 * WEEK_HOURS, 10 + WEEK_HOURS, 11]))
    np.testing.assert_array_equal(seasonal.median, [3.0, 2.0, 1.0, np.nan])  # entity 1: 4, 2 and a quiet 0
    np.testing.assert_array_equal(seasonal.weeks, [3, 3, 1, 0])


def test_weeks_before_an_entity_first_call_are_not_its_history() -> None:
    values = np.zeros((1, 4 * WEEK_HOURS))
    values[0, 10 + 2 * WEEK_HOURS] = 6.0
    first_call = np.array([2 * WEEK_HOURS])  # the zeros of weeks 0 and 1 are before it
    seasonal = seasonal_median(values, first_call, np.array([0]), np.array([10 + 3 * WEEK_HOURS]))
    assert (seasonal.median[0], seasonal.weeks[0]) == (6.0, 1)


def test_an_injected_spend_spike_is_the_only_discovery() -> None:
    calls, spend = quiet_usage(entities=80, seed=1)
    entity, hour = 17, HOURS - 30  # a Saturday, 18:00
    spend[entity, hour] += 25.0
    calls[entity, hour] += 8
    found_entity, found_hour, p_value = discoveries(spend, calls, per_call(spend, calls))
    assert (found_entity.tolist(), found_hour.tolist()) == ([entity], [hour])
    assert p_value[0] < 1e-9


def test_a_call_surge_in_poisson_counts_is_found() -> None:
    rng = np.random.default_rng(2)
    hour = np.arange(HOURS)
    rate = np.where((hour % 24 >= 8) & (hour % 24 < 18), 6.0, 0.2)
    calls = rng.poisson(np.tile(rate, (50, 1))).astype(float)
    calls[3, HOURS - 100] += 60  # a script in a loop, on a Thursday afternoon
    found_entity, found_hour, p_value = discoveries(calls, calls, np.ones(50))
    assert (found_entity.tolist(), found_hour.tolist()) == ([3], [HOURS - 100])
    assert p_value[0] < 1e-8


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_quiet_seasonal_data_raises_nothing(seed: int) -> None:
    calls, spend = quiet_usage(entities=300, seed=seed)
    for values, unit in ((spend, per_call(spend, calls)), (calls, np.ones(len(calls)))):
        found_entity, _, _ = discoveries(values, calls, unit)
        assert found_entity.size == 0


def test_an_hour_without_a_value_or_a_baseline_is_no_evidence() -> None:
    calls = np.zeros((1, 2 * WEEK_HOURS))
    calls[0, [5, 5 + WEEK_HOURS]] = [1.0, 40.0]
    spend = np.zeros_like(calls)  # unpriced calls
    test = spike_test(spend, calls > 0, np.zeros(1, dtype=np.int64), np.ones(1))
    np.testing.assert_array_equal(test.p_value, [1.0, 1.0])
    test = spike_test(calls, calls > 0, np.zeros(1, dtype=np.int64), np.ones(1))
    assert test.p_value[0] == 1.0 and test.weeks[0] == 0  # the first week has no earlier week


def test_benjamini_hochberg_by_hand() -> None:
    # Sorted: 0.005, 0.01, 0.03, 0.04, 0.5 against k x 0.05 / 5 = 0.01, 0.02, 0.03, 0.04, 0.05:
    # the largest k with p(k) <= its bound is 4. q(k) = min over j >= k of p(j) x 5 / j.
    discovered, q_values = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.005, 0.5]), 0.05)
    assert discovered.tolist() == [True, True, True, True, False]
    np.testing.assert_allclose(q_values, [0.025, 0.05, 0.05, 0.025, np.nan])


def test_benjamini_hochberg_agrees_with_scipy_even_given_only_the_small_p_values() -> None:
    rng = np.random.default_rng(6)
    p_values = np.concatenate([rng.uniform(0, 1, 5000), rng.uniform(0, 1e-4, 40)])
    discovered, q_values = benjamini_hochberg(p_values, LEVEL)
    expected = false_discovery_control(p_values)
    np.testing.assert_array_equal(discovered, expected <= LEVEL)
    np.testing.assert_allclose(q_values[discovered], expected[discovered])
    small = p_values <= LEVEL
    discovered_small, q_small = benjamini_hochberg(p_values[small], LEVEL, tests=p_values.size)
    np.testing.assert_array_equal(discovered_small, discovered[small])
    np.testing.assert_allclose(q_small[discovered_small], q_values[discovered])


def test_benjamini_hochberg_refuses_more_p_values_than_tests() -> None:
    with pytest.raises(ValueError, match="3 p-values given, but only 2 tests made"):
        benjamini_hochberg(np.array([0.1, 0.2, 0.3]), 0.05, tests=2)


def test_the_forecast_interval_covers_a_known_linear_trend() -> None:
    rng = np.random.default_rng(7)
    days = np.arange(28 + 16)  # 28 days seen, then today (half gone) and 15 more days
    trend = 10 + 0.5 * days
    daily = trend + rng.normal(0, 1.5, (4000, days.size))
    month_to_date = daily[:, 28 - 14:28].sum(axis=1) + trend[28] / 2  # the month began 14 days ago
    truth = month_to_date + trend[28] / 2 + daily[:, 29:].sum(axis=1) + rng.normal(0, 1.5 * np.sqrt(0.5), 4000)
    forecast = month_end_forecast(month_to_date, daily[:, :28], today_left=0.5, days_after_today=15)
    covered = (forecast.low <= truth) & (truth <= forecast.high)
    assert 0.88 <= covered.mean() <= 0.92  # a 90% interval
    expected_rest = trend[28] / 2 + trend[29:].sum()
    assert np.median(forecast.expected - month_to_date) == pytest.approx(expected_rest, rel=0.01)


def test_the_chance_of_passing_a_budget() -> None:
    week = [9.0, 11.0, 9.0, 11.0, 9.0, 11.0, 10.0]
    daily = np.tile(week + week[::-1], (3, 1))  # $10 a day, no trend
    forecast = month_end_forecast(np.array([100.0, 100.0, 250.0]), daily, today_left=0.0, days_after_today=10)
    assert forecast.expected == pytest.approx([200.0, 200.0, 350.0], abs=0.5)
    chance = forecast.probability_above(np.array([200.0, 400.0, 240.0]))
    assert chance[0] == pytest.approx(0.5, abs=0.02)  # the budget is the expected total
    assert chance[1] < 1e-6
    assert chance[2] == 1.0  # passed already


def test_a_forecast_needs_a_week_of_days() -> None:
    with pytest.raises(ValueError, match="at least 7 complete days, got 6"):
        month_end_forecast(np.array([1.0]), np.ones((1, 6)), today_left=0.5, days_after_today=3)


def test_a_rise_is_found_on_its_day() -> None:
    rng = np.random.default_rng(8)
    share = np.concatenate([0.2 + rng.normal(0, 0.03, 30), 0.35 + rng.normal(0, 0.03, 20)])
    change = rise_change_point(share)
    assert change is not None
    assert change.index == 30
    assert change.before == pytest.approx(0.2, abs=0.02) and change.after == pytest.approx(0.35, abs=0.02)
    assert change.p_value < 1e-6


def test_a_fall_or_steady_noise_is_no_rise() -> None:
    rng = np.random.default_rng(9)
    fall = np.concatenate([0.4 + rng.normal(0, 0.03, 25), 0.2 + rng.normal(0, 0.03, 25)])
    fallen = rise_change_point(fall)
    assert fallen is not None and fallen.p_value == 1.0
    steady = [change.p_value for _ in range(200) if (change := rise_change_point(0.3 + rng.normal(0, 0.05, 60)))]
    assert len(steady) == 200
    assert sum(p <= LEVEL for p in steady) <= 4  # at most about 1% by chance
    assert rise_change_point(np.full(30, 0.3)) is None  # flat: nothing to test
    assert rise_change_point(np.linspace(0, 1, 13)) is None  # too short for a week on each side
