//! The sandbox: `SandboxSettings` (every limit, with defaults) and `build_engine`, the one
//! function that builds the Rhai engine rules run in. Called by `runtime` when a rule set
//! is built; every rule of the set shares the engine.

use std::time::Duration;

use rhai::packages::{Package, StandardPackage};
use rhai::{Dynamic, Engine, OptimizationLevel};
use serde::{Deserialize, Serialize};

use super::context;
use super::error::{DEADLINE_TOKEN, LIMIT_TOKEN};
use super::{functions, guard, memory};

/// Operations between two reads of the clock.
const DEADLINE_CHECK_INTERVAL: u64 = 16;

/// The limits of one rule run. Every field can be set in configuration; the defaults suit
/// rules that look at one statement, ask a few history questions and record a few intents.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxSettings {
    /// Operations (expression steps, loop turns, calls) one run may take.
    pub max_operations: u64,
    /// Wall-clock time one run may take, in milliseconds.
    pub deadline_ms: u64,
    /// Nested calls of script functions (recursion depth).
    pub max_call_levels: usize,
    /// Nesting depth of expressions and statements at the top level of a script.
    pub max_expr_depth: usize,
    /// Nesting depth of expressions and statements inside script functions.
    pub max_function_expr_depth: usize,
    /// Longest string a script may build, in bytes; also the most text an array or map
    /// (the statement included) may hold in all.
    pub max_string_size: usize,
    /// Most elements of an array (and bytes of a blob) a script may build.
    pub max_array_size: usize,
    /// Most properties of a map a script may build.
    pub max_map_size: usize,
    /// Most variables alive at once.
    pub max_variables: usize,
    /// Most functions a rule file may define.
    pub max_functions: usize,
    /// Most intents one run may record.
    pub max_intents: usize,
    /// Largest intent (as JSON), in bytes: webhook payloads should stay under 20 KB and a
    /// Teams card under 28 KB.
    pub max_intent_bytes: usize,
    /// Memory one run may hold (bytes allocated and not yet freed by its thread).
    pub max_memory_bytes: usize,
    /// Largest value `state_set` may store (as JSON), in bytes.
    pub max_state_value_bytes: usize,
    /// Most state one rule may hold in all (its values as JSON), in bytes.
    pub max_state_bytes: usize,
    /// Time the `impact(...)` calls of one run may take in all, in milliseconds, on top of
    /// `deadline_ms` (an analysis reads much of the store).
    pub max_impact_ms: u64,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            max_operations: 200_000,
            deadline_ms: 100,
            max_call_levels: 24,
            max_expr_depth: 64,
            max_function_expr_depth: 32,
            max_string_size: 128 * 1024,
            max_array_size: 4096,
            max_map_size: 1024,
            max_variables: 256,
            max_functions: 64,
            max_intents: 16,
            max_intent_bytes: 24 * 1024,
            max_memory_bytes: 32 * 1024 * 1024,
            max_state_value_bytes: 64 * 1024,
            max_state_bytes: 1024 * 1024,
            max_impact_ms: 2000,
        }
    }
}

impl SandboxSettings {
    /// Refuses limits outside their sensible range: 0 (Rhai reads it as "unlimited", which
    /// a sandbox must never be) and values too large to protect the server.
    pub fn check(&self) -> Result<(), String> {
        const MIB: usize = 1024 * 1024;
        let limits: [(&str, usize, usize, usize); 17] = [
            ("max_operations", sat(self.max_operations), 1, sat(super::stack::MAX_OPERATIONS)),
            ("deadline_ms", sat(self.deadline_ms), 1, 60_000),
            ("max_call_levels", self.max_call_levels, 1, 256),
            ("max_expr_depth", self.max_expr_depth, 1, 1024),
            ("max_function_expr_depth", self.max_function_expr_depth, 1, 1024),
            ("max_string_size", self.max_string_size, 1, 16 * MIB),
            ("max_array_size", self.max_array_size, 1, 1_000_000),
            ("max_map_size", self.max_map_size, 1, 1_000_000),
            ("max_variables", self.max_variables, 1, 100_000),
            ("max_functions", self.max_functions, 1, 10_000),
            ("max_intents", self.max_intents, 1, 1000),
            ("max_intent_bytes", self.max_intent_bytes, 1, MIB),
            ("max_memory_bytes", self.max_memory_bytes, MIB, 4096 * MIB),
            ("max_state_value_bytes", self.max_state_value_bytes, 1, MIB),
            ("max_state_bytes", self.max_state_bytes, self.max_state_value_bytes, 1024 * MIB),
            ("max_impact_ms", sat(self.max_impact_ms), 1, 600_000),
            // A run must be able to hold a few strings of the longest length.
            ("max_memory_bytes", self.max_memory_bytes, 4 * self.max_string_size.min(16 * MIB), usize::MAX),
        ];
        for (name, value, min, max) in limits {
            if value < min || value > max {
                let range = match max {
                    usize::MAX => format!("at least {min}"),
                    _ => format!("from {min} to {max}"),
                };
                return Err(format!("rules.sandbox.{name}: {value} is refused; it must be {range}"));
            }
        }
        Ok(())
    }

    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

fn sat(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// Builds the engine every rule runs in. Nothing is available to a script unless it is
/// granted here; the grants and the limits are listed one by one.
pub fn build_engine(settings: &SandboxSettings) -> Engine {
    // Start empty: no packages, no print target, no module resolver.
    let mut engine = Engine::new_raw();

    // The standard library: arithmetic, logic, strings, arrays, maps, blobs, math and
    // function pointers. It has no file, network, process or environment access, and the
    // `no_time` build feature removes its clock, so a run depends only on its inputs.
    engine.register_global_module(StandardPackage::new().as_shared_module());

    // `eval` would compile text at run time, past every compile-time check: refused.
    engine.disable_symbol("eval");

    // `import` does not exist: the `no_module` build feature removes modules, so there is
    // no resolver that could read files and no module count to limit.

    // Stops endless loops and runaway recursion by counting every operation.
    engine.set_max_operations(settings.max_operations);

    // Checked at every operation: the run's memory (bytes its thread holds beyond what it
    // held at the start, see `memory`) and limits tripped by a built-in that could not fail
    // (see `guard`). Then, every few operations (reading the clock costs more than an
    // operation), the wall-clock deadline. A single built-in call cannot be interrupted, so
    // the size limits below and the replaced built-ins keep each one short: the longest
    // string or array a built-in can make or walk is bounded, and so is the overshoot past
    // the deadline or the memory limit. Host functions make the same checks before and
    // after their work (see `functions::host_call`), so time in the host is charged too.
    let max_memory = settings.max_memory_bytes;
    engine.on_progress(move |operations| {
        if memory::over_budget() {
            context::trip_limit(format!("the run held more than max_memory_bytes ({max_memory} bytes)"));
        }
        if context::tripped() {
            return Some(Dynamic::from(LIMIT_TOKEN));
        }
        let check = operations % DEADLINE_CHECK_INTERVAL == 0;
        (check && context::past_deadline()).then(|| Dynamic::from(DEADLINE_TOKEN))
    });

    // Built-ins that block (`sleep`) or build their result before any size check
    // (`replace`, containers as text, `pad`) are replaced by checked versions.
    guard::register(&mut engine, settings);

    // Recursion depth of script functions (each level uses native stack).
    engine.set_max_call_levels(settings.max_call_levels);

    // Expression nesting, checked when compiling (deeply nested code is refused at load).
    engine.set_max_expr_depths(settings.max_expr_depth, settings.max_function_expr_depth);

    // Sizes of the values a script builds: strings, arrays and blobs, maps (nested values
    // count towards their container). Rhai checks a map's size when a property is set
    // (`m.k = v`, `m.set(k, v)`) but not when `m[k] = v` adds a key, and index assignment
    // (`a[i] = v`, `m[k] = v`) copies the value; the curried values of function pointers
    // and closures are not counted at all. Such growth is held by `max_memory_bytes`, and
    // what Rhai does not count by `guard::deep_size`, measured before a value leaves the
    // run or is turned into text.
    engine.set_max_string_size(settings.max_string_size);
    engine.set_max_array_size(settings.max_array_size);
    engine.set_max_map_size(settings.max_map_size);

    // Variables alive at once, and functions a rule file may define.
    engine.set_max_variables(settings.max_variables);
    engine.set_max_functions(settings.max_functions);

    // Using a variable that was never defined is a compile error, not a run-time surprise.
    engine.set_strict_variables(true);

    // Simple optimisation folds constants but never calls registered functions at compile
    // time (those with effects are also marked volatile).
    engine.set_optimization_level(OptimizationLevel::Simple);

    // `print` and `debug` write to the run's log (shown by `fluency rules test`), not stdout.
    engine.on_print(|text| {
        context::with_current(|e| e.log(text));
    });
    engine.on_debug(|text, _, position| {
        context::with_current(|e| e.log(&format!("{position}: {text}")));
    });

    // What rules read (statement helpers, history, state) and do (intents).
    functions::register(&mut engine);
    engine
}
