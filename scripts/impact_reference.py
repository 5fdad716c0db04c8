#!/usr/bin/env python3
"""Reference fixtures for Fluency's impact statistics, computed with SciPy and NumPy.

Writes tests/fixtures/impact/{distributions,welch,did,roi}.json: deterministic inputs plus the
figures SciPy (or, where SciPy has no function, the textbook formula in NumPy) gives for them.
tests/impact_reference.rs checks the Rust implementation against these files, so the Rust tests
never need Python. Re-run after changing a case:

    pip install scipy numpy
    python3 scripts/impact_reference.py

The output is deterministic for a given SciPy/NumPy version (fixed seeds, sorted keys).
"""

import json
import math
import pathlib

import numpy as np
import scipy
from scipy import stats

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "impact"
DAY_US = 86_400_000_000
INTERVENTION_US = 1_700_000_000_000_000  # 2023-11-14T22:13:20Z
CONFIDENCE = 0.95
Z_SUM = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)  # MDE multiplier at alpha 0.05, power 0.8
MIN_PERSONS = 5  # the Rust default for min_persons_per_group


def write(name, payload):
    OUT.mkdir(parents=True, exist_ok=True)
    payload = {
        "generated_by": "scripts/impact_reference.py",
        "scipy_version": scipy.__version__,
        "numpy_version": np.__version__,
        **payload,
    }
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path.relative_to(OUT.parent.parent.parent)}")


def f(x):
    """A plain float for JSON (NumPy scalars are not serialisable)."""
    x = float(x)
    assert math.isfinite(x), x
    return x


# --- distributions -----------------------------------------------------------------------------

def distributions():
    dfs = [1.0, 1.5, 2.0, 3.0, 4.7, 10.0, 29.3, 100.0, 1000.0, 1e5]
    ts = [-40.0, -5.0, -2.5, -1.0, -0.1, 0.0, 0.3, 1.96, 4.0, 12.0]
    ps = [1e-8, 1e-4, 0.001, 0.025, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.975, 0.999, 0.9999]
    t_cdf = [{"t": t, "df": df, "cdf": f(stats.t.cdf(t, df)), "two_sided_p": f(2 * stats.t.sf(abs(t), df))}
             for df in dfs for t in ts]
    t_ppf = [{"p": p, "df": df, "t": f(stats.t.ppf(p, df))} for df in dfs for p in ps]
    zs = [-8.0, -5.0, -3.0, -1.96, -1.0, -0.25, 0.0, 0.5, 1.0, 1.6448536269514722, 2.5, 6.0]
    norm_cdf = [{"z": z, "cdf": f(stats.norm.cdf(z))} for z in zs]
    norm_ppf = [{"p": p, "z": f(stats.norm.ppf(p))} for p in ps + [1e-15, 0.2, 0.8]]
    write("distributions", {"t_cdf": t_cdf, "t_ppf": t_ppf, "norm_cdf": norm_cdf, "norm_ppf": norm_ppf})


# --- two-sample figures ------------------------------------------------------------------------

def welch_figures(a, b):
    """Welch's test of mean(a) - mean(b), Hedges' g and the MDE, as the Rust `stats` module reports."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    na, nb = len(a), len(b)
    va, vb = a.var(ddof=1), b.var(ddof=1)
    se = math.sqrt(va / na + vb / nb)
    df = (va / na + vb / nb) ** 2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))
    result = stats.ttest_ind(a, b, equal_var=False)
    diff = a.mean() - b.mean()
    margin = stats.t.ppf(0.5 + CONFIDENCE / 2, df) * se
    # SciPy's own df and interval must agree with the textbook formulas above.
    assert math.isclose(result.df, df, rel_tol=1e-12), (result.df, df)
    ci = result.confidence_interval(CONFIDENCE)
    assert math.isclose(ci.low, diff - margin, rel_tol=1e-9, abs_tol=1e-12)
    pooled = math.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
    return {
        "diff": f(diff),
        "se": f(se),
        "df": f(df),
        "t": f(result.statistic),
        "p_value": f(result.pvalue),
        "ci_low": f(ci.low),
        "ci_high": f(ci.high),
        "hedges_g": f(diff / pooled * (1 - 3 / (4 * (na + nb) - 9))),
        "mde": f(Z_SUM * se),
    }


def one_sample_figures(x, mu):
    x = np.asarray(x, dtype=float)
    result = stats.ttest_1samp(x, mu)
    # SciPy's interval is for the mean; Fluency's (like its two-sample ones) is for the difference.
    ci = result.confidence_interval(CONFIDENCE)
    return {"diff": f(x.mean() - mu), "se": f(x.std(ddof=1) / math.sqrt(len(x))), "df": f(result.df),
            "t": f(result.statistic), "p_value": f(result.pvalue), "ci_low": f(ci.low - mu),
            "ci_high": f(ci.high - mu)}


def welch_cases():
    rng = np.random.default_rng(20240601)
    specs = [
        ("equal_sizes_equal_variances", 30, 10.0, 2.0, 30, 9.0, 2.0),
        ("equal_sizes_unequal_variances", 25, 5.0, 1.0, 25, 5.5, 4.0),
        ("unequal_sizes_unequal_variances", 8, 100.0, 15.0, 40, 90.0, 3.0),
        ("small_n", 3, 1.0, 0.5, 4, 2.0, 1.5),
        ("large_effect", 12, 70.0, 5.0, 15, 50.0, 6.0),
        ("negative_effect", 20, -3.0, 2.0, 18, 1.0, 2.5),
        ("no_effect", 50, 0.0, 1.0, 60, 0.0, 1.0),
        ("large_values", 20, 2.5e6, 1.2e5, 22, 2.4e6, 0.9e5),
    ]
    cases = []
    for name, na, ma, sa, nb, mb, sb in specs:
        a = np.round(rng.normal(ma, sa, na), 6)
        b = np.round(rng.normal(mb, sb, nb), 6)
        expected = {"mean_a": f(a.mean()), "var_a": f(a.var(ddof=1)), "mean_b": f(b.mean()),
                    "var_b": f(b.var(ddof=1)), **welch_figures(a, b),
                    "one_sample_a_vs_mean_b": one_sample_figures(a, float(b.mean()))}
        if na == nb:
            paired = stats.ttest_rel(b, a)  # after - before, with a as "before"
            expected["paired_b_minus_a"] = {"t": f(paired.statistic), "p_value": f(paired.pvalue),
                                             "df": f(paired.df), "diff": f((b - a).mean())}
        cases.append({"name": name, "a": [f(x) for x in a], "b": [f(x) for x in b], "expected": expected})
    write("welch", {"cases": cases})


# --- difference in differences -----------------------------------------------------------------

def window_of(offset_us, spec):
    """Which window an offset from the reference date falls in (half-open, as in input.rs)."""
    pre, post = spec["pre_days"] * DAY_US, spec["post_days"] * DAY_US
    lag = spec.get("post_lag_days", 0) * DAY_US
    if -pre <= offset_us < 0:
        return "pre"
    if lag <= offset_us < lag + post:
        return "post"
    earlier = spec.get("earlier_pre_days")
    if earlier is not None and -pre - earlier * DAY_US <= offset_us < -pre:
        return "earlier"
    return None


def person_means(observations, dates, spec):
    by_person = {}
    for o in observations:
        reference = dates.get(o["person"], spec.get("intervention_us"))
        window = window_of(o["timestamp_us"] - reference, spec)
        if window:
            by_person.setdefault(o["person"], {}).setdefault(window, []).append(o["value"])
    return {p: {w: float(np.mean(v)) for w, v in windows.items()} for p, windows in by_person.items()}


def simulate_group(rng, prefix, n, level, sd_between, sd_within, change, spec, dates=None, slope=0.0,
                   dropouts=0):
    """Observations for n persons: 1-4 per window at random times, plus noise outside the windows.

    `dropouts` extra persons have pre data only (they must not count)."""
    observations = []
    for i in range(n + dropouts):
        person = f"mailto:{prefix}{i}@example.com"
        reference = (dates or {}).get(person, spec.get("intervention_us"))
        base = rng.normal(level, sd_between)
        own_change = change + rng.normal(0, sd_within)
        windows = [("pre", -spec["pre_days"], 0, base)]
        if i < n:
            lag = spec.get("post_lag_days", 0)
            windows.append(("post", lag, lag + spec["post_days"], base + own_change))
        if spec.get("earlier_pre_days"):
            start = -spec["pre_days"] - spec["earlier_pre_days"]
            windows.append(("earlier", start, -spec["pre_days"], base - slope + rng.normal(0, sd_within)))
        for _, start_day, end_day, mean in windows:
            for _ in range(int(rng.integers(1, 5))):
                offset = int(rng.integers(start_day * DAY_US, end_day * DAY_US))
                observations.append({"person": person, "timestamp_us": reference + offset,
                                     "value": f(round(rng.normal(mean, sd_within), 4))})
        # Outside every window: before the earliest and after the latest.
        observations.append({"person": person, "timestamp_us": reference - 400 * DAY_US, "value": 1e6})
        observations.append({"person": person, "timestamp_us": reference + 400 * DAY_US, "value": -1e6})
    rng.shuffle(observations)
    return observations


def expected_did(spec, data):
    t_means = person_means(data["treated"], data["treatment_dates_us"], spec)
    c_means = person_means(data["comparison"], data["treatment_dates_us"], spec)

    def complete(means):
        return [m for _, m in sorted(means.items()) if "pre" in m and "post" in m]

    t, c = complete(t_means), complete(c_means)
    t_pre, t_post = np.array([m["pre"] for m in t]), np.array([m["post"] for m in t])
    c_pre, c_post = np.array([m["pre"] for m in c]), np.array([m["post"] for m in c])
    t_change, c_change = t_post - t_pre, c_post - c_pre
    did = welch_figures(t_change, c_change)
    post = welch_figures(t_post, c_post)
    counterfactual = t_pre.mean() + c_change.mean()
    smd = (t_pre.mean() - c_pre.mean()) / math.sqrt((t_pre.var(ddof=1) + c_pre.var(ddof=1)) / 2)
    minimum = spec.get("min_persons_per_group", MIN_PERSONS)
    if min(len(t), len(c)) < minimum:
        verdict = "insufficient_data"
    elif did["ci_low"] <= 0 <= did["ci_high"]:
        verdict = "no_detectable_effect"
    else:
        better = did["diff"] > 0 if spec["direction"] == "higher_is_better" else did["diff"] < 0
        verdict = "improved" if better else "worsened"
    expected = {
        "verdict": verdict,
        "treated_persons_analyzed": len(t),
        "comparison_persons_analyzed": len(c),
        "treated_pre_mean": f(t_pre.mean()),
        "treated_post_mean": f(t_post.mean()),
        "treated_change": f(t_change.mean()),
        "comparison_pre_mean": f(c_pre.mean()),
        "comparison_post_mean": f(c_post.mean()),
        "comparison_change": f(c_change.mean()),
        "difference_in_differences": did["diff"],
        "did_se": did["se"],
        "did_df": did["df"],
        "did_t": did["t"],
        "did_p_value": did["p_value"],
        "did_ci_low": did["ci_low"],
        "did_ci_high": did["ci_high"],
        "hedges_g": did["hedges_g"],
        "minimum_detectable_effect": did["mde"],
        "post_difference_t": post["t"],
        "post_difference_p_value": post["p_value"],
        "counterfactual_post_mean": f(counterfactual),
        "relative_effect": f(did["diff"] / counterfactual),
        "baseline_smd": f(smd),
    }
    if spec.get("earlier_pre_days"):
        def trend(means):
            return np.array([m["pre"] - m["earlier"] for _, m in sorted(means.items())
                             if "pre" in m and "earlier" in m])
        check = welch_figures(trend(t_means), trend(c_means))
        expected["parallel_trend_t"] = check["t"]
        expected["parallel_trend_p_value"] = check["p_value"]
    return expected


def did_cases():
    rng = np.random.default_rng(20240602)
    base = {"intervention_us": INTERVENTION_US, "pre_days": 28, "post_days": 28}
    specs = [
        # name, spec overrides, (n, level, sd_between, sd_within, change) treated / comparison
        ("large_effect_equal_sizes", {"direction": "higher_is_better"},
         (20, 60.0, 8.0, 3.0, 8.0), (20, 58.0, 8.0, 3.0, 0.5)),
        ("handle_time_drop_lower_is_better", {"direction": "lower_is_better", "post_lag_days": 14},
         (15, 420.0, 40.0, 25.0, -35.0), (25, 410.0, 40.0, 25.0, -5.0)),
        ("no_effect_unequal_sizes_and_variances", {"direction": "higher_is_better"},
         (12, 3.5, 0.6, 0.2, 0.0), (30, 3.6, 0.5, 0.6, 0.0)),
        ("worsened_small_n", {"direction": "higher_is_better"},
         (6, 80.0, 5.0, 1.5, -6.0), (7, 80.0, 5.0, 1.5, 0.0)),
        ("insufficient_three_persons", {"direction": "higher_is_better"},
         (3, 10.0, 1.0, 1.0, 2.0), (8, 10.0, 1.0, 1.0, 0.0)),
        ("trend_check_and_selection", {"direction": "lower_is_better", "earlier_pre_days": 28,
                                       "selected_by_kpi": True, "min_persons_per_group": 8},
         (18, 12.0, 2.0, 1.0, -2.0), (22, 9.0, 2.0, 1.0, -0.5)),
    ]
    cases = []
    for name, overrides, treated, comparison in specs:
        spec = {**base, **overrides}
        dates = {}
        if name == "trend_check_and_selection":
            # Staggered: each treated person has their own date, up to 6 weeks apart.
            dates = {f"mailto:t{i}@example.com": INTERVENTION_US + int(rng.integers(0, 42)) * DAY_US
                     for i in range(treated[0] + 2)}
        data = {
            "treated": simulate_group(rng, "t", *treated, spec, dates,
                                      slope=1.5 if spec.get("earlier_pre_days") else 0.0, dropouts=2),
            "comparison": simulate_group(rng, "c", *comparison, spec, dates, dropouts=1),
            "treatment_dates_us": dates,
        }
        cases.append({"name": name, "input": {"spec": spec, "data": data}, "expected": expected_did(spec, data)})
    write("did", {"cases": cases})


# --- ROI ---------------------------------------------------------------------------------------

def roi_cases():
    specs = [
        ("handle_time_monthly", -35.0, "lower_is_better", 0.012, 40, 12, 1.0, 4200.0),
        ("sales_weekly", 250.0, "higher_is_better", 0.3, 15, 26, 12 / 52, 9000.0),
        ("harmful", -2.0, "higher_is_better", 50.0, 10, 6, 1.0, 1000.0),
        ("large_programme", 3.5, "higher_is_better", 1200.0, 2500, 24, 1.0, 5.5e7),
    ]
    cases = []
    for name, effect, direction, value, persons, periods, months_per_period, costs in specs:
        sign = 1 if direction == "higher_is_better" else -1
        benefits = effect * sign * value * persons * periods
        monthly = benefits / (periods * months_per_period)
        cases.append({
            "name": name,
            "input": {"effect_per_person_per_period": effect, "direction": direction, "value_per_unit": value,
                      "persons": persons, "periods": periods, "months_per_period": months_per_period,
                      "costs": costs},
            "expected": {"benefits": f(benefits), "net_benefits": f(benefits - costs),
                         "benefit_cost_ratio": f(benefits / costs),
                         "roi_percent": f((benefits - costs) / costs * 100), "monthly_benefit": f(monthly),
                         "payback_months": f(costs / monthly) if monthly > 0 else None},
        })
    write("roi", {"cases": cases})


if __name__ == "__main__":
    distributions()
    welch_cases()
    did_cases()
    roi_cases()
