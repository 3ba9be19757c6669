"""The statistics `eval` prints, against direct computations on known counts."""

import math
import random

import pytest

from rfactory.scoring import estimate, majority_right, paired_difference, pass_at_k, score, t_quantile


@pytest.mark.parametrize("n, c", [(1, 0), (1, 1), (5, 0), (5, 5), (16, 3), (64, 1), (64, 63), (10, 7)])
def test_pass_at_k_is_the_unbiased_estimator(n, c):
    for k in range(1, n + 1):
        direct = 1 - math.comb(n - c, k) / math.comb(n, k)  # Chen et al. (2021), eq. 1
        assert pass_at_k(n, c, k) == pytest.approx(direct, abs=1e-12)
    assert pass_at_k(n, c, 1) == pytest.approx(c / n)  # pass@1 is the share of right samples
    assert pass_at_k(n, c, n) == (1.0 if c else 0.0)


def test_pass_at_k_refuses_impossible_counts():
    for n, c, k in [(4, 5, 1), (4, 2, 5), (4, 2, 0)]:
        with pytest.raises(ValueError):
            pass_at_k(n, c, k)


@pytest.mark.parametrize("df, quantile", [(1, 12.706), (4, 2.776), (9, 2.262), (29, 2.045), (63, 1.998), (1000, 1.962)])
def test_student_t_quantiles(df, quantile):
    assert t_quantile(df) == pytest.approx(quantile, abs=1e-3)


def test_an_estimate_is_the_mean_with_its_standard_error():
    values = [1.0, 0.5, 0.25, 0.0, 0.75]
    e = estimate(values)
    sd = math.sqrt(sum((v - 0.5) ** 2 for v in values) / 4)
    assert (e.mean, e.stderr, e.problems) == (0.5, pytest.approx(sd / math.sqrt(5)), 5)
    assert e.high - e.mean == pytest.approx(t_quantile(4) * sd / math.sqrt(5))
    assert estimate(values, (0.0, 1.0)).low >= 0.0


def test_scores_from_one_matrix_agree_with_a_hand_count():
    correct = {"a": [True, True, False, False], "b": [False] * 4, "c": [True] * 4}
    groups = {"a": ["1", "1", "2", "2"], "b": ["3", None, "4", "3"], "c": ["5"] * 4}
    s = score(correct, groups)
    assert (s.problems, s.samples_min, s.samples_max) == (3, 4, 4)
    assert s.avg_at_n.mean == pytest.approx((0.5 + 0 + 1) / 3)
    assert s.pass_at[1] == pytest.approx(s.avg_at_n.mean)
    assert s.pass_at[4] == pytest.approx(2 / 3)  # a and c have a right sample
    assert s.pass_at[2] == pytest.approx((1 - math.comb(2, 2) / math.comb(4, 2) + 0 + 1) / 3)
    assert s.maj_at == {1: pytest.approx(2 / 3), 2: pytest.approx(2 / 3), 3: pytest.approx(2 / 3), 4: pytest.approx(0.5)}
    assert s.rates == {"a": 0.5, "b": 0.0, "c": 1.0}


def test_majority_splits_ties_and_ignores_samples_without_an_answer():
    assert majority_right(["1", "2", "1"], [True, False, True]) == 1.0
    assert majority_right(["1", "2"], [True, False]) == 0.5
    assert majority_right([None, None, "2"], [False, False, False]) == 0.0
    assert majority_right([None], [False]) == 0.0


def test_a_planted_difference_is_found_and_equal_runs_show_none():
    rng = random.Random(0)
    problems = [f"p{i}" for i in range(200)]
    base = {p: rng.random() * 0.6 for p in problems}
    better = {p: min(1.0, r + 0.2) for p, r in base.items()}
    found = paired_difference(better, base)
    assert found.significant and found.low > 0 and found.mean == pytest.approx(
        sum(better[p] - base[p] for p in problems) / 200)
    same = paired_difference(base, dict(base))
    assert not same.significant and same.mean == 0.0
    with pytest.raises(ValueError):
        paired_difference({"x": 1.0}, {"y": 1.0})
