#!/usr/bin/env python3
"""Reference fixtures for Fluency's impact models, computed with statsmodels and SciPy.

Writes tests/fixtures/impact/models.json: seeded data with known effects (staggered training
dates, an effect that grows with weeks since training, a guardrail KPI, doses), and the figures
statsmodels and SciPy give for them:

- ANCOVA: OLS of post on [1, treated, pre] per person, cluster-robust (CR1) by person, t with
  G - 1 degrees of freedom (statsmodels cov_type="cluster", use_t=True);
- staggered adoption: group-time ATTs as the coefficients of one stacked OLS regression (per
  cell an intercept and a treated dummy on each person's change from the period before their
  cohort's treatment), clustered by person; the event-study curve, the overall effect, the
  placebo pre-trend and per-cohort effects as linear combinations (results.t_test);
- guardrails: one-sided non-inferiority tests (SciPy ttest_ind with alternative= on shifted
  change scores; for the staggered effect, the t distribution at the regression's df);
- many comparisons: statsmodels multipletests, Holm and Benjamini-Hochberg;
- dose-response: SciPy Welch per dose level, OLS slope of change on dose (cluster-robust).

tests/impact_reference.rs checks every figure to 1e-6 without Python. Re-run after changing a
case:

    pip install -r scripts/requirements-impact.txt
    python3 scripts/impact_models.py
"""

import json
import math
import pathlib
import sys

import numpy as np
import scipy
import statsmodels
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from impact_reference import DAY_US, f, person_means, welch_figures  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "impact"
PERIOD_ORIGIN_US = 4 * DAY_US  # Monday 1970-01-05, as in src/impact/staggered.rs
START_US = 1_704_067_200_000_000  # Monday 2024-01-01T00:00:00Z
WEEK_US = 7 * DAY_US
ALPHA = 0.05
MIN_CELL = 2


def test_figures(effect, se, df):
    """A t-test as the Rust TTest reports it."""
    t = effect / se
    margin = stats.t.ppf(0.975, df) * se
    return {"diff": f(effect), "se": f(se), "df": f(df), "t": f(t), "p_value": f(2 * stats.t.sf(abs(t), df)),
            "ci_low": f(effect - margin), "ci_high": f(effect + margin)}


def from_t_test(result):
    """A statsmodels ContrastResults of one linear combination, as a TTest."""
    effect, se = float(np.squeeze(result.effect)), float(np.squeeze(result.sd))
    low, high = np.squeeze(result.conf_int(alpha=ALPHA))
    out = {"diff": f(effect), "se": f(se), "df": f(result.df_denom), "t": f(np.squeeze(result.tvalue)),
           "p_value": f(np.squeeze(result.pvalue)), "ci_low": f(low), "ci_high": f(high)}
    assert math.isclose(out["ci_low"], test_figures(effect, se, result.df_denom)["ci_low"], rel_tol=1e-9)
    return out


def clustered_ols(x, y, groups):
    model = sm.OLS(np.asarray(y, dtype=float), np.asarray(x, dtype=float))
    result = model.fit(cov_type="cluster", cov_kwds={"groups": np.asarray(groups)}, use_t=True)
    assert result.df_resid_inference == len(set(groups)) - 1, "t inference at G - 1 df"
    return result


# --- data --------------------------------------------------------------------------------------

def simulate(rng, cohort_weeks, per_cohort, never, weeks, effect_of_event, noise=4.0, missing=0.1,
             level=300.0, spread=30.0, prefix="agent"):
    """Weekly observations (Friday 17:00) for treated cohorts and never-treated persons.

    A person's value = own level + common week shock + effect(weeks since training) + noise;
    `missing` of the weeks are not observed. Training happens on the cohort week's Wednesday."""
    shocks = rng.normal(0, 5.0, size=weeks)
    observations, dates = [], {}
    persons = [(f"{prefix}-c{g}-{i}", g) for g in cohort_weeks for i in range(per_cohort)]
    persons += [(f"{prefix}-n{i}", None) for i in range(never)]
    for name, cohort in persons:
        person = f"mailto:{name}@example.com"
        own = rng.normal(level, spread)
        if cohort is not None:
            dates[person] = START_US + cohort * WEEK_US + 2 * DAY_US + int(rng.integers(9 * 60, 17 * 60)) * 60_000_000
        for week in range(weeks):
            if rng.random() < missing:
                continue
            event = None if cohort is None else week - cohort
            value = own + shocks[week] + rng.normal(0, noise)
            if event is not None and event >= 0:
                value += effect_of_event(event)
            observations.append({"person": person, "timestamp_us": START_US + week * WEEK_US + 4 * DAY_US
                                 + 17 * 3600 * 1_000_000, "value": f(round(value, 3))})
    return observations, dates


def split(observations, dates):
    treated = [o for o in observations if o["person"] in dates]
    comparison = [o for o in observations if o["person"] not in dates]
    return treated, comparison


# --- staggered adoption --------------------------------------------------------------------------

def period_index(timestamp_us, period_days):
    return (timestamp_us - PERIOD_ORIGIN_US) // (period_days * DAY_US)


def event_study(data, staggered):
    period_days = staggered["period_days"]
    units = {}
    for group in ("treated", "comparison"):
        for o in data[group]:
            units.setdefault(o["person"], {"group": group, "values": {}})
            units[o["person"]]["values"].setdefault(period_index(o["timestamp_us"], period_days), []).append(o["value"])
    for person, unit in units.items():
        unit["means"] = {p: float(np.mean(v)) for p, v in unit["values"].items()}
        unit["cohort"] = period_index(data["treatment_dates_us"][person], period_days) \
            if unit["group"] == "treated" else None
    names = sorted(units)
    cohorts = sorted({u["cohort"] for u in units.values() if u["cohort"] is not None})
    cells = []
    for g in cohorts:
        base = g - 1
        for event in range(-staggered["periods_before"], staggered["periods_after"]):
            if event == -1:
                continue
            now = g + event
            rows = []
            for index, name in enumerate(names):
                unit = units[name]
                h = unit["cohort"]
                if h == g:
                    treated = True
                elif h is None or (staggered["comparison"] == "not_yet_treated" and h > max(now, base)):
                    treated = False
                else:
                    continue
                if now in unit["means"] and base in unit["means"]:
                    rows.append((index, treated, unit["means"][now] - unit["means"][base], unit["means"][now]))
            n_t = sum(1 for r in rows if r[1])
            if n_t >= MIN_CELL and len(rows) - n_t >= MIN_CELL:
                cells.append({"cohort": g, "event": event, "rows": rows, "treated": n_t,
                              "comparison": len(rows) - n_t,
                              "treated_mean_now": float(np.mean([r[3] for r in rows if r[1]]))})
    k = len(cells)
    x, y, groups = [], [], []
    for c, cell in enumerate(cells):
        for index, treated, change, _ in cell["rows"]:
            row = np.zeros(2 * k)
            row[2 * c] = 1.0
            row[2 * c + 1] = 1.0 if treated else 0.0
            x.append(row)
            y.append(change)
            groups.append(index)
    fit = clustered_ols(x, y, groups)

    def combine(chosen):
        if not chosen:
            return None
        total = sum(cells[c]["treated"] for c in chosen)
        r = np.zeros(2 * k)
        for c in chosen:
            r[2 * c + 1] = cells[c]["treated"] / total
        return from_t_test(fit.t_test(r))

    def start(g):
        return PERIOD_ORIGIN_US + g * period_days * DAY_US

    post = [c for c, cell in enumerate(cells) if cell["event"] >= 0]
    overall = combine(post)
    total = sum(cells[c]["treated"] for c in post)
    counterfactual = sum(cells[c]["treated"] / total * cells[c]["treated_mean_now"] for c in post) - overall["diff"]
    distinct = lambda chosen, treated: len({r[0] for c in chosen for r in cells[c]["rows"] if r[1] == treated})
    return {
        "overall": overall,
        "counterfactual_mean": f(counterfactual),
        "relative_effect": f(overall["diff"] / counterfactual),
        "pre_trend": combine([c for c, cell in enumerate(cells) if cell["event"] < -1]),
        "curve": [{"event": e, "cohorts": len(at), "treated_persons": sum(cells[c]["treated"] for c in at),
                   "test": combine(at)}
                  for e in sorted({cell["event"] for cell in cells})
                  for at in [[c for c, cell in enumerate(cells) if cell["event"] == e]]],
        "cohorts": [{"cohort_start_us": start(g), "test": combine(own), "treated_persons": distinct(own, True)}
                    for g in sorted({cells[c]["cohort"] for c in post})
                    for own in [[c for c in post if cells[c]["cohort"] == g]]],
        "cells": [{"cohort_start_us": start(cell["cohort"]), "event": cell["event"],
                   "treated_persons": cell["treated"], "comparison_persons": cell["comparison"],
                   "test": combine([c])} for c, cell in enumerate(cells)],
        "treated_persons": distinct(post, True),
        "comparison_persons": distinct(post, False),
        "persons": len(set(groups)),
    }


# --- fixed-date models -----------------------------------------------------------------------------

def complete_pairs(data, spec):
    """Per-person (person, pre, post) of each group, persons sorted, as analysis.rs collects them."""
    out = {}
    for group in ("treated", "comparison"):
        means = person_means(data[group], data["treatment_dates_us"], spec)
        out[group] = [(p, m["pre"], m["post"]) for p, m in sorted(means.items()) if "pre" in m and "post" in m]
    return out


def ancova(pairs, did):
    rows = [(1.0, pre, post) for _, pre, post in pairs["treated"]] + \
           [(0.0, pre, post) for _, pre, post in pairs["comparison"]]
    x = [[1.0, t, pre] for t, pre, _ in rows]
    y = [post for _, _, post in rows]
    fit = clustered_ols(x, y, list(range(len(rows))))
    test = from_t_test(fit.t_test(np.array([0.0, 1.0, 0.0])))
    width = test["ci_high"] - test["ci_low"]
    unadjusted = did["ci_high"] - did["ci_low"]
    return {"test": test, "pre_slope": f(fit.params[2]), "interval_width": f(width),
            "unadjusted_interval_width": f(unadjusted), "interval_width_saved": f(1 - width / unadjusted)}


def non_inferiority_welch(pairs, direction, margin):
    """One-sided tests of the DiD on change scores, with SciPy's own ttest_ind(alternative=)."""
    t = np.array([post - pre for _, pre, post in pairs["treated"]])
    c = np.array([post - pre for _, pre, post in pairs["comparison"]])
    sign = 1.0 if direction == "higher_is_better" else -1.0
    # worsening = -sign * diff < margin  <=>  sign * diff > -margin: shift the treated changes.
    shifted = stats.ttest_ind(sign * t + margin, sign * c, equal_var=False, alternative="greater")
    worsened = stats.ttest_ind(sign * t, sign * c, equal_var=False, alternative="less")
    did = welch_figures(t, c)
    worsening = -sign * did["diff"]
    bound = worsening + stats.t.ppf(0.95, did["df"]) * did["se"]
    return {"margin": margin, "p_value": f(shifted.pvalue), "worsened_p_value": f(worsened.pvalue),
            "worsening": f(worsening), "worsening_upper_bound": f(bound), "t": f(-shifted.statistic),
            "status": status(shifted.pvalue, worsened.pvalue)}


def non_inferiority_t(test, direction, margin):
    sign = 1.0 if direction == "higher_is_better" else -1.0
    worsening = -sign * test["diff"]
    t = (worsening - margin) / test["se"]
    p = stats.t.cdf(t, test["df"])
    worse = stats.t.cdf(-worsening / test["se"], test["df"])
    return {"margin": margin, "p_value": f(p), "worsened_p_value": f(worse), "worsening": f(worsening),
            "worsening_upper_bound": f(worsening + stats.t.ppf(0.95, test["df"]) * test["se"]), "t": f(t),
            "status": status(p, worse)}


def status(p_held, p_worse):
    return "held" if p_held < ALPHA else "harmed" if p_worse < ALPHA else "inconclusive"


def dose(pairs, doses, comparison_changes, top):
    treated = [(doses.get(p, 0), post - pre) for p, pre, post in pairs["treated"]]
    levels = []
    first = 0 if any(d == 0 for d, _ in treated) else 1
    for level in range(first, top + 1):
        changes = [c for d, c in treated if (d >= top if level == top else d == level)]
        levels.append({"dose": level, "persons": len(changes),
                       "test": welch_figures(changes, comparison_changes) if len(changes) >= 2 else None})
    fit = clustered_ols([[1.0, d] for d, _ in treated], [c for _, c in treated], list(range(len(treated))))
    return {"levels": levels, "per_unit": from_t_test(fit.t_test(np.array([0.0, 1.0])))}


def staggered_case(name, seed, comparison, effect, cohorts, per_cohort, never, weeks, before, after, margin,
                   guardrail_effect):
    rng = np.random.default_rng(seed)
    observations, dates = simulate(rng, cohorts, per_cohort, never, weeks, effect)
    treated, control = split(observations, dates)
    intervention = int(np.median(list(dates.values())))
    staggered = {"comparison": comparison, "period_days": 7, "periods_before": before, "periods_after": after}
    spec = {"direction": "lower_is_better", "pre_days": 28, "post_days": 28, "post_lag_days": 7,
            "intervention_us": intervention, "unit": "seconds", "staggered": staggered}
    data = {"treated": treated, "comparison": control, "treatment_dates_us": dates}
    guard_obs, _ = simulate(np.random.default_rng(seed + 1000), cohorts, per_cohort, never, weeks,
                            lambda e: guardrail_effect, noise=3.0, level=85.0, spread=4.0)
    guard_treated, guard_control = split(guard_obs, dates)
    guard_spec = {**spec, "direction": "higher_is_better", "unit": "points"}
    guard_data = {"treated": guard_treated, "comparison": guard_control, "treatment_dates_us": dates}
    study = event_study(data, staggered)
    guard_study = event_study(guard_data, staggered)
    pairs = complete_pairs(data, spec)
    t_changes = [post - pre for _, pre, post in pairs["treated"]]
    c_changes = [post - pre for _, pre, post in pairs["comparison"]]
    did = welch_figures(t_changes, c_changes) if len(c_changes) >= 2 else None
    true_curve = {str(e): float(effect(e)) if e >= 0 else 0.0 for e in range(-before, after) if e != -1}
    return {
        "name": name,
        "truth": {"curve": true_curve, "guardrail_effect": guardrail_effect},
        "input": {"spec": spec, "data": data},
        "guardrail_input": {"spec": guard_spec, "data": guard_data},
        "guardrail_margin": margin,
        "expected": {
            "event_study": study,
            "ancova": ancova(pairs, did) if did else None,
            "guardrail_event_study_overall": guard_study["overall"],
            "guardrail_non_inferiority": non_inferiority_t(guard_study["overall"], "higher_is_better", margin),
        },
    }


def fixed_case(name, seed, n_treated, n_control, effect, rho_noise, margin, guardrail_effect, top):
    """Fixed-date data: weekly observations around one date, per-person doses, a guardrail."""
    rng = np.random.default_rng(seed)
    doses = {}

    def persons(prefix, n, treated, level, spread, noise, gain_of):
        out = []
        for i in range(n):
            person = f"mailto:{prefix}{i}@example.com"
            own = rng.normal(level, spread)
            d = int(rng.integers(1, 6)) if treated else 0
            if treated:
                doses[person] = d
            for week in range(-6, 6):
                if rng.random() < 0.1:
                    continue
                value = own + rng.normal(0, noise) + (gain_of(d) if treated and week >= 1 else 0.0)
                out.append({"person": person, "timestamp_us": START_US + week * WEEK_US + 4 * DAY_US,
                            "value": f(round(value, 3))})
        return out

    spec = {"direction": "lower_is_better", "pre_days": 42, "post_days": 35, "post_lag_days": 7,
            "intervention_us": START_US, "unit": "seconds", "dose_levels": top}
    data = {"treated": persons("t", n_treated, True, 300.0, 30.0, rho_noise, lambda d: effect * d),
            "comparison": persons("c", n_control, False, 300.0, 30.0, rho_noise, lambda d: 0.0),
            "treatment_dates_us": {}, "doses": {}}
    data["doses"] = dict(doses)
    guard = {"treated": persons("t", n_treated, True, 85.0, 4.0, 3.0, lambda d: guardrail_effect),
             "comparison": persons("c", n_control, False, 85.0, 4.0, 3.0, lambda d: 0.0),
             "treatment_dates_us": {}}
    guard_spec = {**spec, "direction": "higher_is_better", "unit": "points"}
    pairs = complete_pairs(data, spec)
    t_changes = [post - pre for _, pre, post in pairs["treated"]]
    c_changes = [post - pre for _, pre, post in pairs["comparison"]]
    did = welch_figures(t_changes, c_changes)
    guard_pairs = complete_pairs(guard, guard_spec)
    return {
        "name": name,
        "input": {"spec": spec, "data": data},
        "guardrail_input": {"spec": guard_spec, "data": guard},
        "guardrail_margin": margin,
        "expected": {
            "did": did,
            "ancova": ancova(pairs, did),
            "dose": dose(pairs, data["doses"], c_changes, top),
            "guardrail_non_inferiority": non_inferiority_welch(guard_pairs, "higher_is_better", margin),
        },
    }


def multiplicity_cases():
    rng = np.random.default_rng(7)
    families = [[0.01, 0.04, 0.03, 0.5], [0.0001, 0.2, 0.049, 0.051, 0.9, 0.003], list(rng.uniform(0, 0.1, 12)),
                [0.02], [0.3, 0.3, 0.3]]
    cases = []
    for p in families:
        p = [f(x) for x in p]
        holm = multipletests(p, alpha=ALPHA, method="holm")
        bh = multipletests(p, alpha=ALPHA, method="fdr_bh")
        cases.append({"p_values": p, "holm": [f(x) for x in holm[1]], "bh": [f(x) for x in bh[1]],
                      "holm_reject": [bool(x) for x in holm[0]], "bh_reject": [bool(x) for x in bh[0]]})
    return cases


def grows(e):
    """True effect: -3 seconds in the week of training, -3 more each week up to -12."""
    return -3.0 * min(e + 1, 4)


def main():
    cases = {
        "staggered": [
            staggered_case("not yet treated, four cohorts, growing effect, CSAT held", 11, "not_yet_treated",
                           grows, [8, 10, 12, 15], 15, 25, 24, 3, 6, 2.0, -0.2),
            staggered_case("never treated, three cohorts, CSAT harmed", 12, "never_treated", grows,
                           [6, 9, 13], 12, 30, 22, 4, 5, 1.0, -3.0),
            staggered_case("not yet treated without never-treated persons", 13, "not_yet_treated",
                           lambda e: -5.0, [6, 9, 12, 16], 12, 0, 22, 2, 4, 2.0, 0.0),
        ],
        "fixed": [
            fixed_case("doses and a held guardrail", 21, 60, 50, -4.0, 12.0, 2.0, -0.3, 3),
            fixed_case("small groups, inconclusive guardrail", 22, 9, 8, -6.0, 20.0, 0.5, 0.0, 2),
        ],
        "multiplicity": multiplicity_cases(),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    payload = {"generated_by": "scripts/impact_models.py", "statsmodels_version": statsmodels.__version__,
               "scipy_version": scipy.__version__, "numpy_version": np.__version__, **cases}
    path = OUT / "models.json"
    path.write_text(json.dumps(payload, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
