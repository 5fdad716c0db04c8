//! The functions a rule script can call: statement helpers (`actor_id`, `verb_id`,
//! `activity_id`, `activity_type`, `score`, `success`, `extension`), the evaluation's time
//! (`now`, `now_seconds`), history (`history_count`, `history_average`), per-rule state
//! (`state_get`, `state_set`, `state_remove`) and intents (`emit_statement`, `notify`,
//! `assign`). Registered by `sandbox::build_engine`; they work on the current evaluation.

use rhai::{Dynamic, Engine, EvalAltResult, FuncRegistration, ImmutableString, Map, NativeCallContext, Position};
use serde_json::Value;

use super::context::{self, Evaluation};
use super::error::{DEADLINE_TOKEN, LIMIT_TOKEN};
use super::guard::deep_size;
use super::host::{HistoryQuery, HostError, StateChange};
use super::intent::{emitted_statement_id, idempotency_key, Intent, IntentRecord};
use super::statement;
use crate::xapi::time::format_micros;

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
/// Longest history window a rule may ask about, in days.
const MAX_HISTORY_DAYS: i64 = 3660;
/// Longest state key, in bytes.
const MAX_STATE_KEY: usize = 256;

pub(crate) fn register(engine: &mut Engine) {
    register_statement_helpers(engine);
    register_history_and_state(engine);
    register_intents(engine);
    super::analytics::register(engine);
    super::skills::register(engine);
}

fn register_statement_helpers(engine: &mut Engine) {
    engine.register_fn("actor_id", |s: &mut Map| option(statement::actor_id(&partial(s, &["actor"]))));
    engine.register_fn("verb_id", |s: &mut Map| option(statement::verb_id(&partial(s, &["verb"]))));
    engine.register_fn("activity_id", |s: &mut Map| option(statement::activity_id(&partial(s, &["object"]))));
    engine.register_fn("activity_type", |s: &mut Map| option(statement::activity_type(&partial(s, &["object"]))));
    engine.register_fn("score", |s: &mut Map| option(statement::score(&partial(s, &["result"]))));
    engine.register_fn("success", |s: &mut Map| option(statement::success(&partial(s, &["result"]))));
    engine.register_fn("extension", |s: &mut Map, iri: &str| {
        let json = partial(s, &["result", "context", "object"]);
        statement::extension(&json, iri).and_then(|v| rhai::serde::to_dynamic(v).ok()).unwrap_or(Dynamic::UNIT)
    });
    // The trigger's time (its `stored`), not the clock: replays and dry runs agree.
    engine.register_fn("now", |ctx: NativeCallContext| current(&ctx, |e| format_micros(e.now)));
    engine.register_fn("now_seconds", |ctx: NativeCallContext| current(&ctx, |e| e.now / MICROS_PER_SECOND));
}

fn register_history_and_state(engine: &mut Engine) {
    engine.register_fn("history_count", |ctx: NativeCallContext, query: Map| {
        history(&ctx, query).map(|summary| summary.count as i64)
    });
    engine.register_fn("history_average", |ctx: NativeCallContext, query: Map| {
        history(&ctx, query).map(|summary| option(summary.average_score))
    });
    engine.register_fn("state_get", |ctx: NativeCallContext, key: &str| -> RhaiResult<Dynamic> {
        check_key(key)?;
        let found = host_call(&ctx, |e| match e.state_overlay.get(key) {
            Some(value) => Ok(value.clone()),
            None => e.host.state_get(&e.rule, key, e.now),
        })?;
        Ok(found.and_then(|v| rhai::serde::to_dynamic(v).ok()).unwrap_or(Dynamic::UNIT))
    });
    FuncRegistration::new("state_set")
        .with_volatility(true)
        .register_into_engine(engine, |ctx: NativeCallContext, key: &str, value: Dynamic| {
            set_state(&ctx, key, value, None)
        });
    FuncRegistration::new("state_set").with_volatility(true).register_into_engine(
        engine,
        |ctx: NativeCallContext, key: &str, value: Dynamic, ttl_seconds: i64| {
            if ttl_seconds <= 0 {
                return Err(error(&ctx, "state_set: the time to live must be a positive number of seconds"));
            }
            set_state(&ctx, key, value, Some(ttl_seconds))
        },
    );
    FuncRegistration::new("state_remove").with_volatility(true).register_into_engine(
        engine,
        |ctx: NativeCallContext, key: &str| -> RhaiResult<()> {
            check_key(key)?;
            current(&ctx, |e| {
                e.state_overlay.insert(key.to_string(), None);
                e.state_changes.push(StateChange::Remove { key: key.to_string() });
            })
        },
    );
}

fn register_intents(engine: &mut Engine) {
    FuncRegistration::new("emit_statement").with_volatility(true).register_into_engine(
        engine,
        |ctx: NativeCallContext, statement: Map| -> RhaiResult<ImmutableString> {
            let statement = intent_json(&ctx, Dynamic::from_map(statement))?;
            let (left, most) = current(&ctx, |e| (e.emit_left, e.max_emitted))?;
            if left == 0 {
                let what = format!(
                    "Statements emitted in reaction to one learner statement (max_emitted_per_trigger = {most})"
                );
                return Err(EvalAltResult::ErrorDataTooLarge(what, ctx.call_position()).into());
            }
            let mut id = None;
            record(&ctx, |e, key| {
                let intent =
                    Intent::emit_statement(statement, &e.rule, e.trigger_depth + 1, emitted_statement_id(key))?;
                if let Intent::EmitStatement { statement } = &intent {
                    id = statement["id"].as_str().map(ImmutableString::from);
                }
                Ok(intent)
            })?;
            current(&ctx, |e| e.emit_left -= 1)?;
            Ok(id.unwrap_or_default())
        },
    );
    let notify = |ctx: NativeCallContext, target: &str, message: Dynamic| -> RhaiResult<()> {
        let message = intent_json(&ctx, message)?;
        record(&ctx, |_, _| Intent::notify(target, message))
    };
    FuncRegistration::new("notify")
        .with_volatility(true)
        .register_into_engine(engine, move |ctx: NativeCallContext, target: &str, text: ImmutableString| {
            notify(ctx, target, text.into())
        });
    FuncRegistration::new("notify")
        .with_volatility(true)
        .register_into_engine(engine, move |ctx: NativeCallContext, target: &str, message: Map| {
            notify(ctx, target, message.into())
        });
    FuncRegistration::new("assign").with_volatility(true).register_into_engine(
        engine,
        |ctx: NativeCallContext, actor: Map, activity: &str, reason: &str| -> RhaiResult<()> {
            let actor = intent_json(&ctx, Dynamic::from_map(actor))?;
            record(&ctx, |_, _| Intent::assign(actor, activity, reason))
        },
    );
    FuncRegistration::new("award").with_volatility(true).register_into_engine(
        engine,
        |ctx: NativeCallContext, actor: Map, achievement: &str| -> RhaiResult<()> {
            let actor = intent_json(&ctx, Dynamic::from_map(actor))?;
            record(&ctx, |_, _| Intent::award(actor, achievement))
        },
    );
}

/// The named top-level properties of a statement map, as JSON (absent ones left out).
fn partial(map: &Map, keys: &[&str]) -> Value {
    let entries = keys.iter().filter_map(|key| {
        let value = rhai::serde::from_dynamic::<Value>(map.get(*key)?).ok()?;
        Some((key.to_string(), value))
    });
    Value::Object(entries.collect())
}

fn option<T: Into<Dynamic>>(value: Option<T>) -> Dynamic {
    value.map_or(Dynamic::UNIT, Into::into)
}

pub(super) fn error(ctx: &NativeCallContext, message: impl Into<String>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into().into(), ctx.call_position()).into()
}

pub(super) fn to_json(ctx: &NativeCallContext, value: Dynamic) -> RhaiResult<Value> {
    rhai::serde::from_dynamic(&value).map_err(|e| error(ctx, format!("{} cannot become JSON: {e}", ctx.fn_name())))
}

/// Runs `f` on the current evaluation; outside one the call is refused.
pub(super) fn current<R>(ctx: &NativeCallContext, f: impl FnOnce(&mut Evaluation) -> R) -> RhaiResult<R> {
    context::with_current(f).ok_or_else(|| error(ctx, format!("{} works only while a rule runs", ctx.fn_name())))
}

/// Notes a host failure on the evaluation (so it is reported as such) and makes the error.
pub(super) fn host_failed(evaluation: &mut Evaluation, message: String) -> Box<EvalAltResult> {
    evaluation.host_error = Some(message.clone());
    EvalAltResult::ErrorRuntime(message.into(), Position::NONE).into()
}

/// Stops the run if it is past its deadline, over its memory or has tripped a limit:
/// checked before and after every host call, so time and memory spent in the host are
/// charged to the run like its own.
pub(super) fn check_limits(ctx: &NativeCallContext, max_memory: usize) -> RhaiResult<()> {
    if super::memory::over_budget() {
        context::trip_limit(format!("the run held more than max_memory_bytes ({max_memory} bytes)"));
    }
    let token = match (context::tripped(), context::past_deadline()) {
        (true, _) => LIMIT_TOKEN,
        (false, true) => DEADLINE_TOKEN,
        (false, false) => return Ok(()),
    };
    Err(EvalAltResult::ErrorTerminated(Dynamic::from(token), ctx.call_position()).into())
}

/// Runs a host call (`f`) within the run's limits (see `check_limits`); a host failure is
/// noted as such.
pub(super) fn host_call<R>(
    ctx: &NativeCallContext,
    f: impl FnOnce(&mut Evaluation) -> Result<R, HostError>,
) -> RhaiResult<R> {
    let max_memory = current(ctx, |e| e.max_memory_bytes)?;
    check_limits(ctx, max_memory)?;
    let result = current(ctx, |e| f(e).map_err(|error| host_failed(e, error.0)))?;
    check_limits(ctx, max_memory)?;
    result
}

/// A value leaving the run for an intent, as JSON: its full size (shared parts counted at
/// each place) is measured before it is copied, against `max_intent_bytes`.
fn intent_json(ctx: &NativeCallContext, value: Dynamic) -> RhaiResult<Value> {
    let limit = current(ctx, |e| e.max_intent_bytes)?;
    if deep_size(&value, limit).is_none() {
        let what = format!("Intent size (at most max_intent_bytes = {limit} bytes)");
        return Err(EvalAltResult::ErrorDataTooLarge(what, ctx.call_position()).into());
    }
    to_json(ctx, value)
}

fn check_key(key: &str) -> RhaiResult<()> {
    if key.is_empty() || key.len() > MAX_STATE_KEY {
        return Err(format!("state keys are 1 to {MAX_STATE_KEY} bytes").into());
    }
    Ok(())
}

fn set_state(ctx: &NativeCallContext, key: &str, value: Dynamic, ttl_seconds: Option<i64>) -> RhaiResult<()> {
    check_key(key)?;
    // Measured before it is copied: a map of shared strings may be far larger as JSON.
    let limit = current(ctx, |e| e.max_state_value_bytes)?;
    let Some(size) = deep_size(&value, limit) else {
        let what = format!("State value `{key}` (at most max_state_value_bytes = {limit} bytes)");
        return Err(EvalAltResult::ErrorDataTooLarge(what, ctx.call_position()).into());
    };
    let held = match current(ctx, |e| e.state_bytes)? {
        Some(held) => held,
        None => host_call(ctx, |e| e.host.state_bytes(&e.rule, e.now))?,
    };
    let total = held.saturating_add((key.len() + size) as u64);
    let most = current(ctx, |e| {
        e.state_bytes = Some(total);
        e.max_state_bytes
    })?;
    if total > most as u64 {
        let what = format!("The rule's state (at most max_state_bytes = {most} bytes)");
        return Err(EvalAltResult::ErrorDataTooLarge(what, ctx.call_position()).into());
    }
    let value = to_json(ctx, value)?;
    current(ctx, |e| {
        let expires = ttl_seconds.map(|ttl| e.now.saturating_add(ttl.saturating_mul(MICROS_PER_SECOND)));
        e.state_overlay.insert(key.to_string(), Some(value.clone()));
        e.state_changes.push(StateChange::Set { key: key.to_string(), value, expires });
    })
}

/// `#{ actor, verb?, activity?, days }` -> a history summary from the host.
fn history(ctx: &NativeCallContext, mut query: Map) -> RhaiResult<super::host::HistorySummary> {
    let mut text = |name: &str, required: bool| -> RhaiResult<Option<String>> {
        match query.remove(name) {
            Some(value) if value.is_string() => Ok(Some(value.to_string())),
            Some(value) if value.is_unit() && !required => Ok(None),
            None if !required => Ok(None),
            _ => Err(error(ctx, format!("{}: `{name}` must be a string", ctx.fn_name()))),
        }
    };
    let actor = text("actor", true)?.unwrap_or_default();
    let verb = text("verb", false)?;
    let activity = text("activity", false)?;
    let days = query.remove("days").and_then(|d| d.as_int().ok());
    let days = days.filter(|d| (1..=MAX_HISTORY_DAYS).contains(d)).ok_or_else(|| {
        error(ctx, format!("{}: `days` must be a whole number from 1 to {MAX_HISTORY_DAYS}", ctx.fn_name()))
    })?;
    if let Some(extra) = query.keys().next() {
        return Err(error(
            ctx,
            format!("{}: unknown key `{extra}` (expected actor, verb, activity, days)", ctx.fn_name()),
        ));
    }
    host_call(ctx, |e| {
        let query = HistoryQuery { actor, verb, activity, since: e.now - days * MICROS_PER_DAY, until: e.now };
        e.host.history(&query)
    })
}

/// Records the intent `make` builds (given the evaluation and the intent's key), within
/// the run's intent count and size limits.
fn record(ctx: &NativeCallContext, make: impl FnOnce(&Evaluation, &str) -> Result<Intent, String>) -> RhaiResult<()> {
    current(ctx, |e| {
        let index = e.intents.len();
        if index >= e.max_intents {
            let what = format!("Number of intents (at most {})", e.max_intents);
            return Err(EvalAltResult::ErrorDataTooLarge(what, ctx.call_position()).into());
        }
        let key = idempotency_key(&e.rule, &e.rule_version, e.trigger, index);
        let intent = make(e, &key).map_err(|message| error(ctx, message))?;
        let size = serde_json::to_vec(&intent).map_or(usize::MAX, |json| json.len());
        if size > e.max_intent_bytes {
            let what = format!("Intent size ({size} bytes, at most {})", e.max_intent_bytes);
            return Err(EvalAltResult::ErrorDataTooLarge(what, ctx.call_position()).into());
        }
        e.intents.push(IntentRecord {
            key,
            rule: e.rule.to_string(),
            rule_version: e.rule_version.to_string(),
            trigger: e.trigger,
            index,
            intent,
        });
        Ok(())
    })?
}
