//! Built-ins of Rhai's standard library that the sandbox replaces, and the deep measure of
//! values. Replaced: `sleep` (it blocks the thread past any deadline); `replace` (its
//! result is built before any size check); `to_json` (its JSON holds the curried values of
//! function pointers and closures, which Rhai's size limits do not see); an array's `pad`
//! (many copies in one call); and arrays and maps as text (`to_string`, `to_debug`,
//! `print`, `debug`; interpolation and `+` go through these), which must never fail since
//! Rhai then formats the value unchecked. Each replacement computes the size of its result
//! before building it. Registered by `sandbox::build_engine`; `deep_size` is also used
//! wherever a value leaves a run.

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, FuncRegistration, ImmutableString, Map, NativeCallContext};

use super::context;
use super::sandbox::SandboxSettings;

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// What one element, key or separator of a container adds to its measured size, beyond
/// its text: enough that a container of empty values is not free to walk or copy.
const NODE_BYTES: usize = 8;
/// Deepest nesting measured; deeper values count as too large. Rhai's own limits allow
/// arrays nested `max_array_size` deep, and function pointers and closures nest without
/// bound (they may even hold themselves); what leaves a run as JSON must also be read back,
/// and `serde_json` reads at most 128 levels (an intent is stored inside 3 more).
const MAX_DEPTH: usize = 100;

/// The size of `value` fully copied (every shared string counted at each place it
/// appears), in bytes of text plus `NODE_BYTES` per element; `None` as soon as it exceeds
/// `limit`. The walk stops there, so measuring costs at most `limit / NODE_BYTES` steps.
pub(crate) fn deep_size(value: &Dynamic, limit: usize) -> Option<usize> {
    let mut total = 0usize;
    measure(value, limit, &mut total, true, 0).then_some(total)
}

/// `deep_size` as text: a function pointer prints as `Fn(name)`, without its curried values.
fn text_size(value: &Dynamic, limit: usize) -> Option<usize> {
    let mut total = 0usize;
    measure(value, limit, &mut total, false, 0).then_some(total)
}

fn measure(value: &Dynamic, limit: usize, total: &mut usize, curried: bool, depth: usize) -> bool {
    *total = total.saturating_add(NODE_BYTES);
    if *total > limit || depth > MAX_DEPTH {
        return false;
    }
    let depth = depth + 1;
    if let Ok(text) = value.as_immutable_string_ref() {
        *total = total.saturating_add(text.len());
    } else if let Ok(array) = value.as_array_ref() {
        return array.iter().all(|item| measure(item, limit, total, curried, depth));
    } else if let Ok(map) = value.as_map_ref() {
        for (key, item) in map.iter() {
            *total = total.saturating_add(key.len());
            if !measure(item, limit, total, curried, depth) {
                return false;
            }
        }
    } else if let Ok(blob) = value.as_blob_ref() {
        // As text or JSON a byte takes up to four characters ("255,").
        *total = total.saturating_add(blob.len().saturating_mul(4));
    } else if let Some(function) = value.read_lock::<FnPtr>() {
        // Rhai's size limits do not look into a function pointer's curried values (closures
        // capture theirs the same way), but JSON holds every one of them.
        *total = total.saturating_add(function.fn_name().len());
        return !curried || function.iter_curry().all(|item| measure(item, limit, total, curried, depth));
    }
    *total <= limit
}

/// Elements of arrays and blobs, properties of maps and bytes of strings in `value`, as
/// Rhai's own size limits count them (curried values not looked into).
fn rhai_sizes(value: &Dynamic) -> (usize, usize, usize) {
    let add = |(a, m, s): (usize, usize, usize), (x, y, z): (usize, usize, usize)| (a + x, m + y, s + z);
    if let Ok(text) = value.as_immutable_string_ref() {
        (0, 0, text.len())
    } else if let Ok(array) = value.as_array_ref() {
        array.iter().map(rhai_sizes).fold((array.len(), 0, 0), add)
    } else if let Ok(map) = value.as_map_ref() {
        map.values().map(rhai_sizes).fold((0, map.len(), 0), add)
    } else if let Ok(blob) = value.as_blob_ref() {
        (blob.len(), 0, 0)
    } else {
        (0, 0, 0)
    }
}

pub(crate) fn register(engine: &mut Engine, settings: &SandboxSettings) {
    let max_string_size = settings.max_string_size;
    register_pad(engine, settings);

    // `sleep` blocks the thread, deaf to the deadline: refused (also through `Fn("sleep")`).
    for_each_arity_of_sleep(engine);

    // `replace`: the result's length is known before it is built; refuse it if too long.
    FuncRegistration::new("replace").register_into_engine(
        engine,
        move |ctx: NativeCallContext, text: &mut ImmutableString, find: &str, with: &str| -> RhaiResult<()> {
            let replaced = replaced_len(text, text.matches(find).count(), find.len(), with.len());
            *text = checked(&ctx, replaced, max_string_size, || text.replace(find, with))?.into();
            Ok(())
        },
    );
    FuncRegistration::new("replace").register_into_engine(
        engine,
        move |ctx: NativeCallContext, text: &mut ImmutableString, find: &str, with: char| -> RhaiResult<()> {
            let replaced = replaced_len(text, text.matches(find).count(), find.len(), with.len_utf8());
            *text = checked(&ctx, replaced, max_string_size, || text.replace(find, &with.to_string()))?.into();
            Ok(())
        },
    );
    FuncRegistration::new("replace").register_into_engine(
        engine,
        move |ctx: NativeCallContext, text: &mut ImmutableString, find: char, with: &str| -> RhaiResult<()> {
            let replaced = replaced_len(text, text.matches(find).count(), find.len_utf8(), with.len());
            *text = checked(&ctx, replaced, max_string_size, || text.replace(find, with))?.into();
            Ok(())
        },
    );
    FuncRegistration::new("replace").register_into_engine(
        engine,
        move |ctx: NativeCallContext, text: &mut ImmutableString, find: char, with: char| -> RhaiResult<()> {
            let replaced = replaced_len(text, text.matches(find).count(), find.len_utf8(), with.len_utf8());
            *text = checked(&ctx, replaced, max_string_size, || text.replace(find, &with.to_string()))?.into();
            Ok(())
        },
    );

    // Containers as text. Rhai calls these for interpolation and `+` too, and when they
    // fail it falls back to formatting the whole value unchecked: so they never fail. Past
    // the limit they answer a placeholder and trip the run, which stops at its next step.
    for name in ["to_string", "to_debug", "print", "debug"] {
        FuncRegistration::new(name).with_purity(true).register_into_engine(
            engine,
            move |array: &mut Array| -> ImmutableString {
                let value = Dynamic::from_array(std::mem::take(array));
                let text = as_text(&value, max_string_size);
                *array = value.into_array().unwrap_or_default();
                text
            },
        );
        FuncRegistration::new(name).with_purity(true).register_into_engine(engine, move |map: &mut Map| {
            let value = Dynamic::from_map(std::mem::take(map));
            let text = as_text(&value, max_string_size);
            *map = value.cast::<Map>();
            text
        });
    }
    FuncRegistration::new("to_json").with_purity(true).register_into_engine(
        engine,
        move |ctx: NativeCallContext, map: &mut Map| -> RhaiResult<String> {
            let value = Dynamic::from_map(std::mem::take(map));
            let json = match deep_size(&value, max_string_size) {
                Some(_) => serde_json::to_string(&value).map_err(|e| super::functions::error(&ctx, e.to_string())),
                None => Err(too_large(&ctx, max_string_size)),
            };
            *map = value.cast::<Map>();
            let json = json?;
            match json.len() <= max_string_size {
                true => Ok(json),
                false => Err(too_large(&ctx, max_string_size)),
            }
        },
    );
}

/// `array.pad(len, item)` makes `len - array.len()` copies of `item` in one call, past
/// any check between operations: it is refused when those copies would exceed the run's
/// memory (each measured in full, curried values included), as well as Rhai's own limits.
fn register_pad(engine: &mut Engine, settings: &SandboxSettings) {
    let limits = (settings.max_array_size, settings.max_map_size, settings.max_string_size);
    let max_memory = settings.max_memory_bytes;
    FuncRegistration::new("pad").register_into_engine(
        engine,
        move |ctx: NativeCallContext, array: &mut Array, len: i64, item: Dynamic| -> RhaiResult<()> {
            let Ok(len) = usize::try_from(len) else { return Ok(()) };
            let Some(copies) = len.checked_sub(array.len()).filter(|copies| *copies > 0) else { return Ok(()) };
            let refuse = |what: String| -> RhaiResult<()> {
                Err(EvalAltResult::ErrorDataTooLarge(what, ctx.call_position()).into())
            };
            let current =
                array.iter().map(rhai_sizes).fold((array.len(), 0, 0), |t, x| (t.0 + x.0, t.1 + x.1, t.2 + x.2));
            let (a, m, s) = rhai_sizes(&item);
            let grown = |have: usize, each: usize| have.saturating_add(each.saturating_mul(copies));
            if grown(current.0 + copies, a) > limits.0 {
                return refuse("Size of array/BLOB".into());
            }
            if grown(current.1, m) > limits.1 {
                return refuse("Size of object map".into());
            }
            if grown(current.2, s) > limits.2 {
                return refuse("Length of string".into());
            }
            let each = deep_size(&item, max_memory).unwrap_or(max_memory);
            if each.saturating_mul(copies) > max_memory {
                return refuse(format!("Copies made by `pad` (at most max_memory_bytes = {max_memory} bytes)"));
            }
            array.resize(len, item);
            Ok(())
        },
    );
}

fn for_each_arity_of_sleep(engine: &mut Engine) {
    let refuse = |ctx: &NativeCallContext| -> Box<EvalAltResult> {
        super::functions::error(ctx, "sleep is not available to rules: a run must not wait")
    };
    FuncRegistration::new("sleep")
        .with_volatility(true)
        .register_into_engine(engine, move |ctx: NativeCallContext, _: i64| -> RhaiResult<()> { Err(refuse(&ctx)) });
    FuncRegistration::new("sleep")
        .with_volatility(true)
        .register_into_engine(engine, move |ctx: NativeCallContext, _: f64| -> RhaiResult<()> { Err(refuse(&ctx)) });
}

fn replaced_len(text: &str, matches: usize, find: usize, with: usize) -> usize {
    (text.len() - matches.saturating_mul(find)).saturating_add(matches.saturating_mul(with))
}

/// Builds the string only when its precomputed length is within the limit.
fn checked(ctx: &NativeCallContext, length: usize, limit: usize, build: impl FnOnce() -> String) -> RhaiResult<String> {
    match length <= limit {
        true => Ok(build()),
        false => Err(too_large(ctx, limit)),
    }
}

fn too_large(ctx: &NativeCallContext, limit: usize) -> Box<EvalAltResult> {
    let what = format!("Length of string made by `{}` (at most max_string_size = {limit} bytes)", ctx.fn_name());
    EvalAltResult::ErrorDataTooLarge(what, ctx.call_position()).into()
}

/// The container as Rhai prints it, or a placeholder (and the run tripped) when the text
/// would pass `limit`. Escapes may lengthen text past the estimate, so the result is
/// checked again; the estimate bounds it to a few times the limit.
fn as_text(value: &Dynamic, limit: usize) -> ImmutableString {
    let trip = || {
        let message = format!("a value turned into text would exceed max_string_size ({limit} bytes)");
        context::trip_limit(message);
        ImmutableString::from("<too large>")
    };
    if text_size(value, limit).is_none() {
        return trip();
    }
    let mut text = String::new();
    write_text(value, &mut text);
    match text.len() <= limit {
        true => text.into(),
        false => trip(),
    }
}

/// `value` as Rhai's `to_debug` prints it: strings quoted, arrays `[a, b]`, maps
/// `#{"k": v}`, function pointers `Fn(name)`.
fn write_text(value: &Dynamic, out: &mut String) {
    use std::fmt::Write;
    if let Ok(text) = value.as_immutable_string_ref() {
        let _ = write!(out, "{:?}", text.as_str());
    } else if let Ok(array) = value.as_array_ref() {
        out.push('[');
        for (index, item) in array.iter().enumerate() {
            if index > 0 {
                out.push_str(", ");
            }
            write_text(item, out);
        }
        out.push(']');
    } else if let Ok(map) = value.as_map_ref() {
        out.push_str("#{");
        for (index, (key, item)) in map.iter().enumerate() {
            if index > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{:?}: ", key.as_str());
            write_text(item, out);
        }
        out.push('}');
    } else if let Some(function) = value.read_lock::<FnPtr>() {
        let _ = write!(out, "Fn({})", function.fn_name());
    } else {
        let _ = write!(out, "{value:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_nested_deeper_than_json_can_be_read_back_count_as_too_large() {
        let mut value = Dynamic::from(1_i64);
        for _ in 0..=MAX_DEPTH {
            value = Dynamic::from_array(vec![value]);
        }
        let shallower = value.clone().into_array().unwrap().remove(0);

        assert_eq!(deep_size(&value, usize::MAX), None);
        assert!(deep_size(&shallower, usize::MAX).is_some());
    }

    #[test]
    fn deep_size_counts_a_shared_string_at_every_place_and_stops_at_the_limit() {
        let text: ImmutableString = "x".repeat(1000).into();
        let array: Array = (0..100).map(|_| Dynamic::from(text.clone())).collect();
        let value = Dynamic::from_array(array);

        let size = deep_size(&value, usize::MAX).unwrap();

        assert_eq!(size, NODE_BYTES + 100 * (NODE_BYTES + 1000));
        assert_eq!(deep_size(&value, 50_000), None);
        let empty_nodes = Dynamic::from_array(vec![Dynamic::UNIT; 10_000]);
        assert_eq!(deep_size(&empty_nodes, 1000), None, "empty elements still count");
        let mut curried = FnPtr::new("f").unwrap();
        for _ in 0..100 {
            curried.add_curry(Dynamic::from(text.clone()));
        }
        assert_eq!(deep_size(&Dynamic::from(curried), 50_000), None, "curried values count");
    }
}
