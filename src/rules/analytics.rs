//! Impact functions for rules: `welch(a, b)` and `roi(#{...})` computed in place, and
//! `impact(#{...})` answered by the host from the store, e.g. for a weekly summary posted
//! by a scheduled rule. The `impact` calls of a run share their own allowance,
//! `max_impact_ms`, on top of the run's deadline: the host's work is cut off when the
//! allowance ends and the run then fails with kind `limit`.

use rhai::{Array, Dynamic, Engine, FuncRegistration, Map, NativeCallContext};
use serde_json::json;

use super::context;
use super::functions::{check_limits, current, error, host_failed, to_json};
use crate::impact::{roi, welch, RoiInput};

type RhaiResult<T> = Result<T, Box<rhai::EvalAltResult>>;

pub(crate) fn register(engine: &mut Engine) {
    engine.register_fn("welch", |ctx: NativeCallContext, a: Array, b: Array| -> RhaiResult<Dynamic> {
        let (a, b) = (numbers(&ctx, a)?, numbers(&ctx, b)?);
        let Some(test) = welch(&a, &b) else { return Ok(Dynamic::UNIT) };
        let figures = json!({
            "diff": test.diff, "se": test.se, "df": test.df, "t": test.t, "p": test.p_value,
            "ci_low": test.ci_low, "ci_high": test.ci_high,
        });
        dynamic(&ctx, &figures)
    });
    engine.register_fn("roi", |ctx: NativeCallContext, input: Map| -> RhaiResult<Dynamic> {
        let input: RoiInput = serde_json::from_value(to_json(&ctx, Dynamic::from_map(input))?)
            .map_err(|e| error(&ctx, format!("roi: {e}")))?;
        let report = roi(&input).map_err(|e| error(&ctx, format!("roi: {e}")))?;
        dynamic(&ctx, &report)
    });
    FuncRegistration::new("impact").with_volatility(true).register_into_engine(
        engine,
        |ctx: NativeCallContext, request: Map| -> RhaiResult<Dynamic> {
            let request = to_json(&ctx, Dynamic::from_map(request))?;
            let (left, max_memory) = current(&ctx, |e| (e.impact_left, e.max_memory_bytes))?;
            let spent = || format!("the run's impact calls took max_impact_ms ({} ms) in all", left.as_millis());
            if left.is_zero() {
                context::trip_limit(spent());
            }
            check_limits(&ctx, max_memory)?;
            let (answer, took) = context::with_allowance(left, || {
                current(&ctx, |e| e.host.impact(&request).map_err(|error| host_failed(e, error.0)))
            });
            current(&ctx, |e| e.impact_left = e.impact_left.saturating_sub(took))?;
            if took >= left {
                context::trip_limit(spent());
            }
            check_limits(&ctx, max_memory)?;
            dynamic(&ctx, &answer??)
        },
    );
}

/// The array's elements as numbers (integers widened); anything else is refused.
fn numbers(ctx: &NativeCallContext, values: Array) -> RhaiResult<Vec<f64>> {
    values
        .into_iter()
        .map(|value| {
            value
                .as_float()
                .or_else(|_| value.as_int().map(|i| i as f64))
                .map_err(|kind| error(ctx, format!("{}: every element must be a number, not {kind}", ctx.fn_name())))
        })
        .collect()
}

fn dynamic(ctx: &NativeCallContext, value: &impl serde::Serialize) -> RhaiResult<Dynamic> {
    rhai::serde::to_dynamic(value).map_err(|e| error(ctx, format!("{}: {e}", ctx.fn_name())))
}

#[cfg(test)]
mod tests {
    use rhai::Dynamic;

    use crate::rules::{build_engine, SandboxSettings};

    #[test]
    fn welch_and_roi_give_their_figures_to_scripts() {
        let engine = build_engine(&SandboxSettings::default());

        let p: f64 = engine.eval("welch([1.0, 2.0, 3.0, 4.0], [3, 4, 5, 6, 7]).p").unwrap();
        let too_few = engine.eval::<Dynamic>("welch([1.0], [2.0, 3.0])").unwrap();
        let ratio: f64 = engine
            .eval(
                r#"roi(#{ effect_per_person_per_period: -2.0, direction: "lower_is_better", value_per_unit: 10.0,
                         persons: 5, periods: 1.0, costs: 50.0 }).benefit_cost_ratio"#,
            )
            .unwrap();
        let refused = engine.eval::<f64>(r#"welch([1, "x"], [2, 3]).p"#).unwrap_err();

        assert!(p > 0.0 && p < 0.05, "{p}");
        assert!(too_few.is_unit(), "one value has no variance: no test");
        assert!((ratio - 2.0).abs() < 1e-12, "benefits 2 × 10 × 5 = 100 for costs 50: {ratio}");
        assert!(refused.to_string().contains("must be a number"), "{refused}");
    }
}
