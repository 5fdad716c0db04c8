//! Runs the spec-derived cases in `conformance/cases/*.json` against a real server, for
//! each xAPI version line a case names. See `conformance/README.md` for the case format.

use std::collections::{HashMap, HashSet};

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{basic, TestApp, ADMIN_KEY, ADMIN_SECRET};

/// The least number of distinct cases the suite must hold (issue acceptance).
const MINIMUM_CASES: usize = 150;

struct Case {
    file: String,
    name: String,
    versions: Vec<String>,
    steps: Vec<Value>,
}

fn load_cases() -> Vec<Case> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/cases");
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).expect("conformance/cases exists").flatten().map(|e| e.path()).collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let text = std::fs::read_to_string(&path).unwrap();
        let document: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        for case in document["cases"].as_array().unwrap_or_else(|| panic!("{file}: needs a cases array")) {
            cases.push(Case {
                file: file.clone(),
                name: case["name"].as_str().unwrap_or_else(|| panic!("{file}: a case has no name")).to_string(),
                versions: case["versions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect(),
                steps: case["steps"].as_array().unwrap_or_else(|| panic!("{file}: a case has no steps")).clone(),
            });
        }
    }
    cases
}

#[tokio::test]
async fn the_spec_derived_conformance_cases_pass() {
    let cases = load_cases();
    let names: HashSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), cases.len(), "case names must be unique");
    assert!(cases.len() >= MINIMUM_CASES, "only {} cases; at least {MINIMUM_CASES} expected", cases.len());

    let app = TestApp::spawn().await;
    let mut failures = Vec::new();
    let mut runs = 0;
    for case in &cases {
        for version in &case.versions {
            runs += 1;
            if let Err(message) = run_case(&app, case, version).await {
                failures.push(format!("[{}] {} ({version}): {message}", case.file, case.name));
            }
        }
    }
    println!("conformance: {} cases, {runs} runs, {} failed", cases.len(), failures.len());
    assert!(failures.is_empty(), "{} of {runs} runs failed:\n{}", failures.len(), failures.join("\n"));
}

async fn run_case(app: &TestApp, case: &Case, version: &str) -> Result<(), String> {
    let mut placeholders = Placeholders::new(version);
    for (index, step) in case.steps.iter().enumerate() {
        let step = placeholders.fill(step);
        let captured = run_step(app, &step, version).await.map_err(|e| format!("step {}: {e}", index + 1))?;
        placeholders.values.extend(captured);
    }
    Ok(())
}

/// Runs one step; returns the values it captured (`"capture": {"NAME": "header:ETag"}`),
/// which later steps use as `{{captured:NAME}}`.
async fn run_step(app: &TestApp, step: &Value, version: &str) -> Result<Vec<(String, String)>, String> {
    let method = Method::from_bytes(step["method"].as_str().unwrap_or("GET").as_bytes()).map_err(|e| e.to_string())?;
    let mut request = app.client.request(method.clone(), app.url(step["path"].as_str().unwrap_or("statements")));
    if let Some(query) = step["query"].as_object() {
        let pairs: Vec<(String, String)> = query.iter().map(|(k, v)| (k.clone(), text_of(v))).collect();
        request = request.query(&pairs);
    }
    if step["omit_auth"] != Value::Bool(true) {
        request = request.header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET));
    }
    if step["omit_version"] != Value::Bool(true) {
        request = request.header("X-Experience-API-Version", version);
    }
    if let Some(headers) = step["headers"].as_object() {
        for (name, value) in headers {
            request = request.header(name.as_str(), text_of(value));
        }
    }
    if let Some(raw) = step["raw_body"].as_str() {
        let content_type = step["content_type"].as_str().unwrap_or("application/json");
        request = request.header("Content-Type", content_type).body(raw.to_string());
    } else if let Some(body) = step.get("body") {
        request = request.header("Content-Type", step["content_type"].as_str().unwrap_or("application/json"));
        request = request.body(body.to_string());
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.map_err(|e| e.to_string())?;
    let mut captured = Vec::new();
    for (name, source) in step["capture"].as_object().into_iter().flatten() {
        let header = source.as_str().and_then(|s| s.strip_prefix("header:")).unwrap_or_default();
        let value =
            headers.get(header).and_then(|v| v.to_str().ok()).ok_or_else(|| format!("cannot capture {header}"))?;
        captured.push((format!("captured:{name}"), value.to_string()));
    }
    let expect = &step["expect"];
    if let Some(expected) = expect["status"].as_u64() {
        if status as u64 != expected {
            return Err(format!("status {status}, expected {expected}; body: {}", shorten(&text)));
        }
    }
    if let Some(expected) = expect["headers"].as_object() {
        for (name, value) in expected {
            let actual = headers.get(name.as_str()).and_then(|v| v.to_str().ok());
            if actual != Some(text_of(value).as_str()) {
                return Err(format!("header {name} is {actual:?}, expected {value}"));
            }
        }
    }
    for name in expect["headers_present"].as_array().into_iter().flatten() {
        if !headers.contains_key(name.as_str().unwrap_or_default()) {
            return Err(format!("header {name} is missing"));
        }
    }
    if let Some(mention) = expect["error_mentions"].as_str() {
        if !text.contains(mention) {
            return Err(format!("error message does not mention {mention:?}: {}", shorten(&text)));
        }
    }
    if expect.get("json").is_some() || expect.get("json_absent").is_some() || expect.get("json_present").is_some() {
        let body: Value =
            serde_json::from_str(&text).map_err(|e| format!("body is not JSON ({e}): {}", shorten(&text)))?;
        if let Some(expected) = expect.get("json") {
            contains(&body, expected, "$").map_err(|e| format!("{e}; body: {}", shorten(&text)))?;
        }
        for path in expect["json_present"].as_array().into_iter().flatten() {
            let path = path.as_str().unwrap_or_default();
            match lookup(&body, path) {
                None | Some(Value::Null) => return Err(format!("{path} should be present; body: {}", shorten(&text))),
                Some(Value::String(s)) if s.is_empty() => {
                    return Err(format!("{path} should not be empty; body: {}", shorten(&text)))
                }
                _ => {}
            }
        }
        for path in expect["json_absent"].as_array().into_iter().flatten() {
            let path = path.as_str().unwrap_or_default();
            if lookup(&body, path).is_some() {
                return Err(format!("{path} should be absent; body: {}", shorten(&text)));
            }
        }
    }
    if let Some(expected) = expect["body_text"].as_str() {
        if text != expected {
            return Err(format!("body is {:?}, expected {expected:?}", shorten(&text)));
        }
    }
    Ok(captured)
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn shorten(text: &str) -> String {
    text.chars().take(400).collect()
}

/// Objects: every expected key present with a containing value; arrays: same length and
/// element-wise containment; scalars: equal (numbers by value).
fn contains(actual: &Value, expected: &Value, path: &str) -> Result<(), String> {
    match (actual, expected) {
        (Value::Object(actual), Value::Object(expected)) => {
            for (key, value) in expected {
                let inner = actual.get(key).ok_or_else(|| format!("{path}.{key} is missing"))?;
                contains(inner, value, &format!("{path}.{key}"))?;
            }
            Ok(())
        }
        (Value::Array(actual), Value::Array(expected)) => {
            if actual.len() != expected.len() {
                return Err(format!("{path} has {} items, expected {}", actual.len(), expected.len()));
            }
            for (index, (a, e)) in actual.iter().zip(expected).enumerate() {
                contains(a, e, &format!("{path}[{index}]"))?;
            }
            Ok(())
        }
        (Value::Number(a), Value::Number(e)) if a.as_f64() == e.as_f64() => Ok(()),
        (a, e) if a == e => Ok(()),
        (a, e) => Err(format!("{path} is {a}, expected {e}")),
    }
}

fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |current, key| match key.parse::<usize>() {
        Ok(index) if current.is_array() => current.get(index),
        _ => current.get(key),
    })
}

/// Fills `{{id:NAME}}`, `{{mbox:NAME}}`, `{{iri:NAME}}` and `{{version}}`, fresh per case.
struct Placeholders {
    version: String,
    values: HashMap<String, String>,
}

impl Placeholders {
    fn new(version: &str) -> Self {
        Self { version: version.to_string(), values: HashMap::new() }
    }

    fn fill(&mut self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.fill_text(text)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.fill(v)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (self.fill_text(k), self.fill(v))).collect()),
            other => other.clone(),
        }
    }

    fn fill_text(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let Some(end) = rest[start..].find("}}") else { break };
            out.push_str(&rest[..start]);
            let token = &rest[start + 2..start + end];
            out.push_str(&self.resolve(token));
            rest = &rest[start + end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn resolve(&mut self, token: &str) -> String {
        if token == "version" {
            return self.version.clone();
        }
        if let Some(value) = self.values.get(token).filter(|_| token.starts_with("captured:")) {
            return value.clone();
        }
        let fresh = uuid::Uuid::new_v4().to_string();
        let value = match token.split_once(':') {
            Some(("id", _)) => fresh,
            Some(("mbox", name)) => format!("mailto:{name}-{fresh}@example.com"),
            Some(("iri", name)) => format!("http://example.com/{name}/{fresh}"),
            _ => return format!("{{{{{token}}}}}"),
        };
        self.values.entry(token.to_string()).or_insert(value).clone()
    }
}
