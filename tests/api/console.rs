//! The console over real HTTP: local sign-in and its cookies, the security headers, and
//! the attacks a browser can be made to carry: a POST without the CSRF token, from another
//! site (Origin, Sec-Fetch-Site), a sign-in form not served to this browser, a forged
//! session cookie. The OpenID Connect flow and the pages in a real browser are tested
//! by tests/console (Node, oidc-provider, Chromium).

use std::collections::HashMap;

use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, Response};
use serde_json::Value;

use crate::helpers::{eventually, TestApp, ADMIN_KEY, ADMIN_SECRET};

/// A browser's cookie jar and CSRF token for one console session.
struct Browser {
    client: reqwest::Client,
    address: String,
    cookies: HashMap<String, String>,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { client, address: app.address.clone(), cookies: HashMap::new() }
    }

    fn remember(&mut self, headers: &HeaderMap) {
        for cookie in headers.get_all(SET_COOKIE) {
            let text = cookie.to_str().unwrap();
            let (name, value) = text.split(';').next().unwrap().split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn get(&mut self, path: &str) -> Response {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.remember(response.headers());
        response
    }

    /// A POST as the console's own pages send it (same origin), with `fields`.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let origin = self.address.clone();
        self.post_from(path, fields, &[("Origin", &origin), ("Sec-Fetch-Site", "same-origin")]).await
    }

    async fn post_from(&mut self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Response {
        let mut request =
            self.client.post(format!("{}{path}", self.address)).header(COOKIE, self.cookie_header()).form(fields);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        self.remember(response.headers());
        response
    }

    /// Signs in with a Fluency credential; returns the session's CSRF token.
    async fn sign_in(&mut self, key: &str, secret: &str) -> String {
        let page = self.get("/console/sign-in").await.text().await.unwrap();
        let token = hidden(&page, "sign_in");
        let answer = self.post("/console/sign-in", &[("sign_in", &token), ("key", key), ("secret", secret)]).await;
        assert_eq!(answer.status(), 303, "signed in: {}", answer.text().await.unwrap());
        let overview = self.get("/console").await.text().await.unwrap();
        hidden(&overview, "csrf")
    }
}

/// The value of the hidden input `name` in a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {name} field in {page}")) + marker.len();
    page[start..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn a_visitor_without_a_session_is_sent_to_the_sign_in_page_which_forbids_inline_scripts() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);

    let overview = browser.get("/console").await;
    let sign_in = browser.get("/console/sign-in").await;

    assert_eq!(overview.status(), 303);
    assert_eq!(overview.headers()[LOCATION], "/console/sign-in");
    let csp = sign_in.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let page = sign_in.text().await.unwrap();
    assert!(!page.contains("<script>") && !page.contains(" style="), "no inline script or style");
}

#[tokio::test]
async fn local_sign_in_sets_an_http_only_same_site_cookie_and_shows_the_overview() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let page = browser.get("/console/sign-in").await.text().await.unwrap();
    let token = hidden(&page, "sign_in");

    let answer =
        browser.post("/console/sign-in", &[("sign_in", &token), ("key", ADMIN_KEY), ("secret", ADMIN_SECRET)]).await;

    assert_eq!(answer.status(), 303);
    let session = answer
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("fluency_session="))
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/console"] {
        assert!(session.contains(attribute), "{attribute} in {session}");
    }
    assert!(!session.contains("Secure"), "plain http here: no Secure, or the browser would drop it");
    let overview = browser.get("/console").await;
    assert_eq!(overview.status(), 200);
    let text = overview.text().await.unwrap();
    assert!(text.contains("Statements per day") && text.contains("Rules"), "the admin sees the rules link");
    let audit = app.api_json("audit").await;
    let actors: Vec<&str> = audit["entries"].as_array().unwrap().iter().filter_map(|e| e["actor"].as_str()).collect();
    assert!(actors.contains(&"console:local:test-admin"), "the sign-in is audited: {audit}");
}

#[tokio::test]
async fn wrong_secrets_forged_sessions_and_credentials_without_a_console_role_are_refused() {
    let app = TestApp::spawn().await;
    let xapi_only = fluency::auth::create_credential(
        app.statements.store(),
        vec![fluency::auth::Scope::All],
        "lms",
        Some(("lms".into(), "lms-secret".into())),
    )
    .await
    .unwrap();
    let mut browser = Browser::new(&app);
    let token = hidden(&browser.get("/console/sign-in").await.text().await.unwrap(), "sign_in");

    let wrong = browser.post("/console/sign-in", &[("sign_in", &token), ("key", ADMIN_KEY), ("secret", "nope")]).await;
    let no_role = browser
        .post("/console/sign-in", &[("sign_in", &token), ("key", &xapi_only.key), ("secret", "lms-secret")])
        .await;
    browser.cookies.insert("fluency_session".into(), "forged-session-token-0123456789abcdef".into());
    let forged = browser.get("/console").await;

    assert_eq!(wrong.status(), 401);
    assert_eq!(no_role.status(), 403);
    assert!(no_role.text().await.unwrap().contains("no console role"));
    assert_eq!(forged.status(), 303, "a forged session cookie signs nobody in");
}

#[tokio::test]
async fn a_sign_in_form_not_served_to_this_browser_is_refused() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.get("/console/sign-in").await;

    let forged = browser
        .post(
            "/console/sign-in",
            &[("sign_in", "a-token-from-another-browser-000000"), ("key", ADMIN_KEY), ("secret", ADMIN_SECRET)],
        )
        .await;
    let mut cookieless = Browser::new(&app);
    let missing = cookieless.post("/console/sign-in", &[("key", ADMIN_KEY), ("secret", ADMIN_SECRET)]).await;

    assert_eq!(forged.status(), 403);
    assert_eq!(missing.status(), 403);
    assert!(!browser.cookies.contains_key("fluency_session"));
}

#[tokio::test]
async fn posts_without_the_csrf_token_or_from_another_site_are_refused_and_change_nothing() {
    // Arrange: a rule, and an administrator signed in to the console.
    let app = TestApp::spawn().await;
    let rule =
        std::fs::read_to_string(format!("{}/rules/kpi-triggered-assignment.rhai", env!("CARGO_MANIFEST_DIR"))).unwrap();
    assert_eq!(app.put_rule("kpi-triggered-assignment", &rule).await.status(), 201);
    let mut browser = Browser::new(&app);
    let csrf = browser.sign_in(ADMIN_KEY, ADMIN_SECRET).await;
    let path = "/console/rules/kpi-triggered-assignment/enabled";
    let origin = app.address.clone();

    // Act
    let cases = [
        ("no CSRF token", vec![("enabled", "false")], vec![("Origin", origin.as_str())]),
        ("a wrong CSRF token", vec![("enabled", "false"), ("csrf", "wrong")], vec![("Origin", origin.as_str())]),
        (
            "another site's Origin",
            vec![("enabled", "false"), ("csrf", csrf.as_str())],
            vec![("Origin", "https://evil.example.com")],
        ),
        (
            "a cross-site fetch",
            vec![("enabled", "false"), ("csrf", csrf.as_str())],
            vec![("Sec-Fetch-Site", "cross-site")],
        ),
    ];
    let mut statuses = Vec::new();
    for (description, fields, headers) in &cases {
        let answer = browser.post_from(path, fields, headers).await;
        statuses.push((description.to_string(), answer.status().as_u16()));
    }
    let rule_after_attacks = app.api_json("rules/kpi-triggered-assignment").await;
    let honest = browser.post(path, &[("enabled", "false"), ("csrf", &csrf)]).await;

    // Assert
    for (description, status) in statuses {
        assert_eq!(status, 403, "{description}");
    }
    assert_eq!(rule_after_attacks["enabled"], true, "no attack changed the rule");
    assert_eq!(honest.status(), 303);
    assert_eq!(app.api_json("rules/kpi-triggered-assignment").await["enabled"], false);
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let csrf = browser.sign_in(ADMIN_KEY, ADMIN_SECRET).await;
    let session = browser.cookies["fluency_session"].clone();

    let out = browser.post("/console/sign-out", &[("csrf", &csrf)]).await;
    browser.cookies.insert("fluency_session".into(), session);
    let replayed = browser.get("/console").await;

    assert_eq!(out.status(), 303);
    assert_eq!(replayed.status(), 303, "the old cookie no longer works");
}

#[tokio::test]
async fn an_analyst_sees_no_rules_and_an_analysis_form_error_names_the_field() {
    let app = TestApp::spawn().await;
    fluency::auth::create_credential(
        app.statements.store(),
        vec![fluency::auth::Scope::Analytics],
        "analyst",
        Some(("analyst".into(), "analyst-secret".into())),
    )
    .await
    .unwrap();
    let mut browser = Browser::new(&app);
    let csrf = browser.sign_in("analyst", "analyst-secret").await;

    let rules = browser.get("/console/rules").await;
    let overview = browser.get("/console").await.text().await.unwrap();
    let no_kpi = browser.post("/console/impact", &[("csrf", &csrf), ("treated_verb", "http://x/verb")]).await;

    assert_eq!(rules.status(), 403);
    assert!(!overview.contains("href=\"/console/rules\""), "no rules link for an analyst");
    assert_eq!(no_kpi.status(), 400);
    assert!(no_kpi.text().await.unwrap().contains("kpi: choose a KPI"));
}

#[tokio::test]
async fn an_impact_analysis_made_in_the_console_shows_its_charts_and_exports_as_json() {
    // Arrange: the demo helpdesk through the xAPI API, counted by the console.
    let app = TestApp::spawn().await;
    let spec = fluency::kpi::DemoSpec { agents: 120, effect: -30.0, seed: 3, ..Default::default() };
    let data = fluency::kpi::generate_demo(&spec);
    for batch in data.statements.chunks(500) {
        assert_eq!(app.post_statements(&Value::Array(batch.to_vec())).await.status(), 200);
    }
    let request: fluency::service::impact::ImpactRequest =
        toml::from_str(&fluency::kpi::demo_impact_spec(&spec)).unwrap();
    let mut browser = Browser::new(&app);
    let csrf = browser.sign_in(ADMIN_KEY, ADMIN_SECRET).await;
    eventually(10, "the console to count the KPI", || async {
        let form = browser_page(&app, &browser, "/console/impact").await;
        form.contains(&request.kpi).then_some(())
    })
    .await;

    // Act
    let treated_verb = request.treated.verb.clone().unwrap();
    let treated_activity = request.treated.activity.clone().unwrap();
    let made = browser
        .post(
            "/console/impact",
            &[
                ("csrf", &csrf),
                ("title", "Course and handling time"),
                ("kpi", &request.kpi),
                ("direction", "lower_is_better"),
                ("treated_verb", &treated_verb),
                ("treated_activity", &treated_activity),
                ("comparison", "not_treated"),
                ("pre_days", "28"),
                ("post_lag_days", "7"),
                ("post_days", "42"),
                ("earlier_pre_days", "21"),
            ],
        )
        .await;

    // Assert
    assert_eq!(made.status(), 303, "{}", made.text().await.unwrap());
    let location = made.headers()[LOCATION].to_str().unwrap().to_string();
    let page = browser.get(&location).await.text().await.unwrap();
    assert!(page.contains("<svg class=\"trend\"") && page.contains("Course and handling time"));
    let export: Value = browser.get(&format!("{location}/export?format=json")).await.json().await.unwrap();
    assert_eq!(export["answer"]["kpi"]["id"], request.kpi.as_str());
    let ci = &export["answer"]["report"]["did_test"];
    assert!(ci["ci_low"].as_f64().unwrap() < -30.0 + 15.0 && ci["ci_high"].as_f64().unwrap() > -30.0 - 15.0, "{ci}");
    let api = app.api(Method::GET, "audit").send().await.unwrap().json::<Value>().await.unwrap();
    assert!(api.to_string().contains("impact.run"), "the analysis is audited");
}

async fn browser_page(app: &TestApp, browser: &Browser, path: &str) -> String {
    let response = browser
        .client
        .get(format!("{}{path}", app.address))
        .header(COOKIE, browser.cookie_header())
        .send()
        .await
        .unwrap();
    response.text().await.unwrap()
}

#[tokio::test]
async fn a_rule_edit_that_does_not_compile_is_refused_at_its_line_and_a_dry_run_sends_nothing() {
    // Arrange: the rule, a statement it matches, and an administrator in the console.
    let app = TestApp::spawn().await;
    let rule =
        std::fs::read_to_string(format!("{}/rules/kpi-triggered-assignment.rhai", env!("CARGO_MANIFEST_DIR"))).unwrap();
    assert_eq!(app.put_rule("kpi-triggered-assignment", &rule).await.status(), 201);
    let low = serde_json::json!({
        "actor": {"objectType": "Agent", "mbox": "mailto:dry-run@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/scored", "display": {"en-US": "scored"}},
        "object": {"objectType": "Activity", "id": "https://crm.example.com/kpi/first-call-resolution"},
        "result": {"score": {"scaled": 0.1}}
    });
    let mut browser = Browser::new(&app);
    let csrf = browser.sign_in(ADMIN_KEY, ADMIN_SECRET).await;
    assert_eq!(app.api(Method::POST, "rules/kpi-triggered-assignment/disable").send().await.unwrap().status(), 200);
    assert_eq!(app.post_statements(&low).await.status(), 200);
    let path = "/console/rules/kpi-triggered-assignment/edit";
    let broken = rule.replace("let rate = score(statement);", "let rate = score(statement;");

    // Act
    let refused = browser.post(path, &[("csrf", &csrf), ("action", "save"), ("source", &broken)]).await;
    let refused_status = refused.status();
    let refused_page = refused.text().await.unwrap();
    let dry = browser.post(path, &[("csrf", &csrf), ("action", "dry_run"), ("source", &rule)]).await;
    let dry_status = dry.status();
    let dry_page = dry.text().await.unwrap();

    // Assert
    assert_eq!(refused_status, 400);
    let line = rule.lines().position(|l| l.contains("let rate = score(statement);")).unwrap() + 1;
    assert!(refused_page.contains(&format!("Not saved: line {line}")), "the error names line {line}: {refused_page}");
    assert!(refused_page.contains("<mark>"), "the line is marked");
    let installed = app.api_json("rules/kpi-triggered-assignment").await;
    assert!(!installed["source"].as_str().unwrap().contains("score(statement;"), "the broken text was not installed");
    assert_eq!(dry_status, 200);
    assert!(dry_page.contains("matched 1, would have made 1 intents"), "{dry_page}");
    let interventions = app.api_json("interventions").await;
    assert_eq!(interventions["interventions"], serde_json::json!([]), "a dry run sends and records nothing");
}

#[tokio::test]
async fn the_deliveries_and_audit_pages_are_for_administrators_and_refuse_forged_redrives() {
    let app = TestApp::spawn().await;
    fluency::auth::create_credential(
        app.statements.store(),
        vec![fluency::auth::Scope::Analytics],
        "analyst",
        Some(("analyst".into(), "analyst-secret".into())),
    )
    .await
    .unwrap();
    let mut admin = Browser::new(&app);
    let csrf = admin.sign_in(ADMIN_KEY, ADMIN_SECRET).await;
    let mut analyst = Browser::new(&app);
    analyst.sign_in("analyst", "analyst-secret").await;

    let audit = admin.get("/console/audit?verify=1").await.text().await.unwrap();
    let deliveries = admin.get("/console/deliveries").await;
    let unknown = admin.post("/console/deliveries/no-such-key/redrive", &[("csrf", &csrf)]).await;
    let forged = admin.post("/console/deliveries/no-such-key/redrive", &[("csrf", "forged")]).await;

    assert!(audit.contains("console:local:test-admin") && audit.contains("is intact"), "{audit}");
    assert_eq!(deliveries.status(), 200);
    assert_eq!(unknown.status(), 404);
    assert_eq!(forged.status(), 403);
    assert_eq!(analyst.get("/console/audit").await.status(), 403);
    assert_eq!(analyst.get("/console/deliveries").await.status(), 403);
}

#[tokio::test]
async fn an_initiative_launched_for_a_team_nudges_only_its_members_and_links_to_its_impact() {
    // Arrange: two people in Support, one elsewhere, a KPI the console has seen.
    let app = TestApp::spawn().await;
    let kpi = "https://helpdesk.example.com/kpi/average-handling-time";
    let course = "https://lms.example.com/courses/de-escalation";
    let person = |mbox: &str, team: &str| fluency::storage::PersonRecord {
        person: format!("mbox:{mbox}"),
        team: Some(team.into()),
        ..Default::default()
    };
    app.statements
        .store()
        .upsert_people(vec![
            person("mailto:ann@example.com", "Support"),
            person("mailto:bob@example.com", "Support"),
            person("mailto:cy@example.com", "Sales"),
        ])
        .await
        .unwrap();
    let observation = |mbox: &str, seconds: f64| {
        serde_json::json!({"actor": {"mbox": mbox}, "verb": {"id": "https://w3id.org/fluency/xapi/verbs/measured"},
            "object": {"id": kpi}, "result": {"score": {"raw": seconds}}})
    };
    let course_seen = serde_json::json!({"actor": {"mbox": "mailto:cy@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/launched"}, "object": {"id": course}});
    app.post_statements(&serde_json::json!([observation("mailto:ann@example.com", 300.0), course_seen])).await;
    let mut browser = Browser::new(&app);
    let csrf = browser.sign_in(ADMIN_KEY, ADMIN_SECRET).await;
    eventually(10, "the console to see the KPI", || async {
        browser_page(&app, &browser, "/console/initiatives").await.contains(kpi).then_some(())
    })
    .await;
    let launch = |team: &'static str, reason: &'static str| {
        vec![
            ("team", team),
            ("kpi", kpi),
            ("worse", "above"),
            ("threshold", "400"),
            ("activity", course),
            ("reason", reason),
        ]
    };

    // Act
    let mut fields = launch("Support", "Handling time above 400 s");
    fields.push(("csrf", &csrf));
    let launched = browser.post("/console/initiatives", &fields).await;
    let mut empty = launch("Nobody", "x");
    empty.push(("csrf", &csrf));
    let refused = browser.post("/console/initiatives", &empty).await;
    let refused_status = refused.status();
    let refused_page = refused.text().await.unwrap();
    for (mbox, seconds) in
        [("mailto:ann@example.com", 450.0), ("mailto:bob@example.com", 350.0), ("mailto:cy@example.com", 500.0)]
    {
        assert_eq!(app.post_statements(&observation(mbox, seconds)).await.status(), 200);
    }

    // Assert
    assert_eq!(launched.status(), 303);
    assert_eq!(refused_status, 400);
    assert!(refused_page.contains("team: nobody is in this team"), "{refused_page}");
    let rules = app.api_json("rules").await;
    let name = rules["rules"][0]["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("initiative-"), "{rules}");
    let nudged = eventually(10, "the initiative's intervention", || async {
        let list = app.api_json(&format!("interventions?rule={name}")).await["interventions"].as_array().cloned()?;
        (!list.is_empty()).then_some(list)
    })
    .await;
    let actors: Vec<&str> = nudged.iter().map(|i| i["actor_id"].as_str().unwrap()).collect();
    assert_eq!(actors, ["mbox:mailto:ann@example.com"], "only Ann is in Support and above the threshold");
    let listing = browser.get("/console/initiatives").await.text().await.unwrap();
    assert!(listing.contains(&format!("/console/impact?treated_rule={name}")), "{listing}");
    let form = browser.get(&format!("/console/impact?treated_rule={name}")).await.text().await.unwrap();
    assert!(form.contains(&format!("<option value=\"{name}\" selected>")), "the impact form is preset");
}

#[tokio::test]
async fn talent_search_is_for_those_who_see_every_team_and_names_the_bad_skill() {
    let app = TestApp::spawn().await;
    for (key, scope) in [("analyst", fluency::auth::Scope::Analytics), ("reader", fluency::auth::Scope::Skills)] {
        fluency::auth::create_credential(
            app.statements.store(),
            vec![scope],
            key,
            Some((key.into(), format!("{key}-secret"))),
        )
        .await
        .unwrap();
    }
    let mut analyst = Browser::new(&app);
    analyst.sign_in("analyst", "analyst-secret").await;
    let mut reader = Browser::new(&app);
    reader.sign_in("reader", "reader-secret").await;

    let refused = analyst.get("/console/skills/search").await;
    let form = reader.get("/console/skills/search").await;
    let unknown = reader.get("/console/skills/search?skill=https%3A%2F%2Fno.example%2Fskill").await;
    let demand = reader.get("/console/skills/demand?months=13").await;

    assert_eq!(refused.status(), 403, "analytics alone reads no skills, as in the API");
    assert_eq!(form.status(), 200);
    assert_eq!(unknown.status(), 400);
    assert!(unknown.text().await.unwrap().contains("is not a skill of the framework"));
    assert_eq!(demand.status(), 400, "months outside the choices");
}
