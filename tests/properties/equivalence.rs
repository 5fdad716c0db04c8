//! Properties of statement equivalence (`xapi::equivalence::statements_equivalent`), the
//! check run when a statement id is sent again: any JSON is equivalent to itself, and
//! numbers compare by value, whether written as integers or with a fraction.

use fluency::xapi::equivalence::statements_equivalent;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::strategies::{config, json_value};

const CASES: u32 = 3000;

fn scored(raw: Value, extension: Value) -> Value {
    json!({
        "actor": {"mbox": "mailto:a@example.com"},
        "verb": {"id": "http://example.com/v"},
        "object": {"id": "http://example.com/a"},
        "result": {"score": {"raw": raw}, "extensions": {"http://example.com/x": extension}}
    })
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn any_json_is_equivalent_to_itself(value in json_value()) {
        prop_assert!(statements_equivalent(&value, &value), "{} is not equivalent to itself", value);
    }

    #[test]
    fn numbers_compare_by_value_in_any_notation(n in -(1i64 << 53)..(1i64 << 53), extension in json_value()) {
        let integer = scored(json!(n), extension.clone());
        let fraction = scored(json!(n as f64), extension.clone());
        let other = scored(json!(n + 1), extension);

        prop_assert!(statements_equivalent(&integer, &fraction), "{} and {}.0 differ", n, n);
        prop_assert!(statements_equivalent(&fraction, &integer), "{}.0 and {} differ", n, n);
        prop_assert!(!statements_equivalent(&integer, &other), "{} and {} are equivalent", n, n + 1);
    }

    #[test]
    fn large_unsigned_and_float_numbers_are_answered(a in any::<u64>(), b in any::<f64>(), c in any::<i64>()) {
        let numbers = [json!(a), serde_json::Number::from_f64(b).map_or(Value::Null, Value::Number), json!(c)];
        for x in &numbers {
            for y in &numbers {
                let _ = statements_equivalent(&scored(x.clone(), json!(1)), &scored(y.clone(), json!(1)));
            }
            prop_assert!(statements_equivalent(&scored(x.clone(), json!(1)), &scored(x.clone(), json!(1))));
        }
    }
}
