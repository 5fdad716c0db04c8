// The console in a real browser: headless Chromium (Debian's chromium-driver) signs in
// through a real OpenID provider (oidc-provider from npm), on a Fluency server holding
// the demo data. One browser session walks every page: roles limit what a leader sees, an
// impact analysis shows its chart, a disabled rule stops matching, and axe-core finds no
// serious accessibility violation. Screenshots for the README go to docs/screenshots.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

import Provider from "oidc-provider";
import axe from "axe-core";
import { Builder, By, until } from "selenium-webdriver";
import chrome from "selenium-webdriver/chrome.js";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const targetDir = process.env.CARGO_TARGET_DIR || join(repo, "target");
const fluencyBin = process.env.FLUENCY_BIN || join(targetDir, "debug", "fluency");
const screenshots = join(repo, "docs", "screenshots");
const ADMIN = { key: "e2e-admin", secret: "e2e-admin-secret" };
const CLIENT = { id: "fluency-console", secret: "e2e-client-secret" };
// The provider's people, and the groups Fluency maps to roles.
const ACCOUNTS = {
  "ada.admin": { name: "Ada Admin", groups: ["fluency-admins"] },
  "lee.leader": { name: "Lee Leader", groups: ["staff", "leader:Team 1"] },
};
const RULE = "kpi-triggered-assignment";
const FCR_KPI = "https://crm.example.com/kpi/first-call-resolution";
const DEMO_KPI = "https://helpdesk.example.com/kpi/average-handling-time";
const DEMO_COURSE = "https://lms.example.com/courses/de-escalation";

let work, fluency, fluencyUrl, provider, providerServer, issuer, driver;

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function waitFor(what, check, seconds = 20) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const found = await check().catch(() => undefined);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function api(path, options = {}) {
  const auth = "Basic " + Buffer.from(`${ADMIN.key}:${ADMIN.secret}`).toString("base64");
  const headers = { Authorization: auth, ...(options.headers || {}) };
  return fetch(`${fluencyUrl}${path}`, { ...options, headers });
}

async function postStatement(statement) {
  const answer = await api("/xapi/statements", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Experience-API-Version": "1.0.3" },
    body: JSON.stringify(statement),
  });
  assert.equal(answer.status, 200, await answer.text());
}

function lowKpi(mbox) {
  return {
    actor: { objectType: "Agent", mbox },
    verb: { id: "http://adlnet.gov/expapi/verbs/scored", display: { "en-US": "scored" } },
    object: { objectType: "Activity", id: FCR_KPI },
    result: { score: { scaled: 0.2 } },
  };
}

async function interventionsFor(rule, mbox) {
  const query = new URLSearchParams({ rule, agent: JSON.stringify({ mbox }) });
  const answer = await api(`/api/interventions?${query}`);
  assert.equal(answer.status, 200);
  return (await answer.json()).interventions;
}

async function startProvider() {
  const port = await freePort();
  issuer = `http://localhost:${port}`;
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        redirect_uris: [`${fluencyUrl}/console/sso/callback`],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    claims: { openid: ["sub"], profile: ["name"], groups: ["groups"] },
    scopes: ["openid", "profile", "groups"],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    async findAccount(ctx, id) {
      const account = ACCOUNTS[id];
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...account }) };
    },
  });
  await new Promise((done) => {
    providerServer = provider.listen(port, "127.0.0.1", done);
  });
}

async function startFluency() {
  const port = await freePort();
  fluencyUrl = `http://127.0.0.1:${port}`;
  const data = join(work, "data");
  const env = { ...process.env, FLUENCY_ADMIN_KEY: ADMIN.key, FLUENCY_ADMIN_SECRET: ADMIN.secret, FLUENCY_LOG: "warn" };
  execFileSync(fluencyBin, ["--data-dir", data, "demo", "load", "--agents", "120"], { env, stdio: "ignore" });
  // The provider's port is known only once Fluency's is (its redirect URI names it).
  await startProvider();
  const config = join(work, "fluency.toml");
  writeFileSync(
    config,
    `bind = "127.0.0.1:${port}"
public_url = "${fluencyUrl}"

[console.oidc]
issuer = "${issuer}"
client_id = "${CLIENT.id}"
scopes = ["openid", "profile", "groups"]
roles_claim = "groups"
admin_values = ["fluency-admins"]
display_name = "the test provider"
`,
  );
  const serveEnv = { ...env, FLUENCY_CONSOLE_OIDC_CLIENT_SECRET: CLIENT.secret };
  fluency = spawn(fluencyBin, ["--config", config, "--data-dir", data, "serve"], { env: serveEnv, stdio: ["ignore", "ignore", "inherit"] });
  await waitFor("Fluency to answer", async () => (await fetch(`${fluencyUrl}/xapi/about`)).ok);
}

async function startBrowser() {
  const options = new chrome.Options();
  options.setChromeBinaryPath(process.env.CHROMIUM_BIN || "/usr/bin/chromium");
  // Quiet flags: the machine's network is closed, and Chromium's own connections would be refused.
  options.addArguments(
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
    `--user-data-dir=${join(work, "chromium")}`,
  );
  const service = new chrome.ServiceBuilder(process.env.CHROMEDRIVER_BIN || "/usr/bin/chromedriver");
  driver = await new Builder().forBrowser("chrome").setChromeOptions(options).setChromeService(service).build();
}

before(async () => {
  assert.ok(existsSync(fluencyBin), `build Fluency first (cargo build): ${fluencyBin}`);
  work = mkdtempSync(join(tmpdir(), "fluency-console-"));
  mkdirSync(screenshots, { recursive: true });
  await startFluency();
  await startBrowser();
});

after(async () => {
  await driver?.quit();
  fluency?.kill("SIGTERM");
  providerServer?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/// axe-core on the current page: no serious or critical violation of WCAG 2.1 A/AA.
async function checkAccessibility(page) {
  await driver.executeScript(axe.source);
  const violations = await driver.executeAsyncScript(`
    const done = arguments[arguments.length - 1];
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
      .then((results) => done(results.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")) }))));
  `);
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(serious, [], `${page}: ${JSON.stringify(serious, null, 1)}`);
}

async function screenshot(name) {
  writeFileSync(join(screenshots, `${name}.png`), await driver.takeScreenshot(), "base64");
}

async function open(path) {
  await driver.get(`${fluencyUrl}${path}`);
  return driver.findElement(By.css("body")).getText();
}

async function signInWithProvider(login) {
  // Fresh sessions at the provider and here, so the previous person is not signed in again.
  // (Under /console, where the console's cookies are visible.)
  for (const page of [`${issuer}/.well-known/openid-configuration`, `${fluencyUrl}/console/none`]) {
    await driver.get(page);
    await driver.manage().deleteAllCookies();
  }
  await driver.get(`${fluencyUrl}/console/sign-in`);
  await checkAccessibility("sign-in");
  await driver.findElement(By.linkText("Sign in with the test provider")).click();
  await driver.wait(until.elementLocated(By.name("login")), 10000);
  await driver.findElement(By.name("login")).sendKeys(login);
  await driver.findElement(By.name("password")).sendKeys("any password");
  await driver.findElement(By.css("button[type=submit]")).click();
  // The provider asks for consent the first time each person signs in to this client.
  const consent = await waitFor("the consent page or the console", async () => {
    if ((await driver.getCurrentUrl()) === `${fluencyUrl}/console`) return "signed in";
    const prompts = await driver.findElements(By.css("input[name='prompt'][value='consent']"));
    return prompts.length > 0 && "consent";
  });
  if (consent === "consent") await driver.findElement(By.css("button[type=submit]")).click();
  await driver.wait(until.urlIs(`${fluencyUrl}/console`), 10000);
}

async function signOut() {
  await driver.findElement(By.xpath("//button[text()='Sign out']")).click();
  await driver.wait(until.urlContains("/console/sign-in"), 5000);
}

test("a leader signs in through the provider and sees only their team", async () => {
  await signInWithProvider("lee.leader");
  const header = await driver.findElement(By.css("header")).getText();
  assert.match(header, /Lee Leader/);
  assert.match(header, /leader of Team 1/);
  assert.doesNotMatch(header, /Rules/, "no rules link for a leader");

  const skills = await open("/console/skills");
  assert.match(skills, /Team 1/);
  assert.doesNotMatch(skills, /Team 2/);
  await checkAccessibility("skills (leader)");
  const other = await open("/console/skills/teams/Team%202");
  assert.match(other, /only the teams you lead/);
  assert.match(await open("/console/skills/search"), /for those who see them all/);
  const own = await open("/console/skills/teams/Team%201");
  assert.match(own, /Skills of Team 1/);
  await checkAccessibility("team (leader)");
  const rules = await open("/console/rules");
  assert.match(rules, /does not include this page/);

  // The leader launches an initiative for their team; another team is not theirs to nudge.
  await open("/console/initiatives");
  const offered = await driver.findElements(By.css("#team option"));
  assert.deepEqual(await Promise.all(offered.map((o) => o.getAttribute("value"))), ["Team 1"]);
  await checkAccessibility("initiatives");
  const fill = async () => {
    await driver.findElement(By.css(`#kpi option[value='${DEMO_KPI}']`)).click();
    await driver.findElement(By.css("#worse option[value='above']")).click();
    await driver.findElement(By.id("threshold")).sendKeys("400");
    await driver.findElement(By.css(`#activity option[value='${DEMO_COURSE}']`)).click();
    await driver.findElement(By.id("reason")).sendKeys("Your handling time is above 400 s");
  };
  await fill();
  await driver.executeScript(`
    const forged = document.createElement("option");
    forged.value = forged.textContent = "Team 2";
    document.getElementById("team").append(forged);
    forged.selected = true;`);
  await driver.findElement(By.xpath("//button[text()='Launch the initiative']")).click();
  await waitFor("the forged team to be refused", async () => /only for the teams you lead/.test(await driver.findElement(By.css("body")).getText()));
  await open("/console/initiatives");
  await fill();
  await driver.findElement(By.xpath("//button[text()='Launch the initiative']")).click();
  await waitFor("the initiative to be listed", async () => /Initiative for Team 1/.test(await driver.findElement(By.css("main")).getText()));
  await screenshot("initiatives");
  // A member of Team 1 (every sixth demo agent from the first) who never took the course:
  // the rule leaves alone those who took it in the last 30 days.
  const member = await waitFor("a member of Team 1 without the course", async () => {
    for (let index = 1; index <= 120; index += 6) {
      const mbox = `mailto:agent${String(index).padStart(3, "0")}@helpdesk.example.com`;
      const query = new URLSearchParams({ agent: JSON.stringify({ mbox }), verb: "http://adlnet.gov/expapi/verbs/completed", activity: DEMO_COURSE });
      const answer = await api(`/xapi/statements?${query}`, { headers: { "X-Experience-API-Version": "1.0.3" } });
      if ((await answer.json()).statements.length === 0) return mbox;
    }
  });
  await postStatement({
    actor: { objectType: "Agent", mbox: member },
    verb: { id: "https://w3id.org/fluency/xapi/verbs/measured", display: { "en-US": "measured" } },
    object: { objectType: "Activity", id: DEMO_KPI },
    result: { score: { raw: 520 } },
  });
  const query = new URLSearchParams({ agent: JSON.stringify({ mbox: member }) });
  const nudged = await waitFor("the initiative to nudge the member", async () => {
    const answer = await (await api(`/api/interventions?${query}`)).json();
    return answer.interventions.find((i) => i.rule.startsWith("initiative-"));
  }).catch(async (error) => {
    const rules = await (await api("/api/rules")).json();
    const name = rules.rules.find((r) => r.name.startsWith("initiative-"))?.name;
    const detail = name && (await (await api(`/api/rules/${name}`)).json());
    throw new Error(`${error.message}: ${JSON.stringify(detail?.recent_runs ?? rules)}`);
  });
  assert.equal(nudged.activity, DEMO_COURSE);
  await driver.findElement(By.linkText("See its impact")).click();
  await driver.wait(until.urlContains("/console/impact?treated_rule="), 5000);
  assert.equal(await driver.findElement(By.css("#treated_rule")).getAttribute("value"), nudged.rule);
  await signOut();
});

test("an administrator sees the overview and creates an impact analysis with its chart", async () => {
  await signInWithProvider("ada.admin");
  const overview = await waitFor("the demo statements to be counted", async () => {
    const text = await open("/console");
    return /Statements per day/.test(text) && !/Still counting/.test(text) && text;
  });
  assert.match(overview, /Rule activity/);
  await driver.wait(until.elementLocated(By.css("svg.bars rect")), 5000);
  await checkAccessibility("overview");
  await screenshot("overview");
  await driver.manage().window().setRect({ width: 390, height: 844 });
  await checkAccessibility("overview (phone width)");
  await screenshot("overview-phone");
  await driver.manage().window().setRect({ width: 1280, height: 1000 });

  await open("/console/impact");
  await checkAccessibility("impact form");
  await driver.findElement(By.id("title")).sendKeys("De-escalation course and handling time");
  await driver.findElement(By.css("#kpi option:not([value=''])")).click();
  await driver.findElement(By.css("#direction option[value='lower_is_better']")).click();
  await driver.findElement(By.css("#treated_verb option[value='http://adlnet.gov/expapi/verbs/completed']")).click();
  await driver.findElement(By.xpath("//select[@id='treated_activity']/option[@value='https://lms.example.com/courses/de-escalation']")).click();
  await screenshot("impact-form");
  await driver.findElement(By.xpath("//button[text()='Run the analysis']")).click();

  const outcome = await waitFor("the analysis or an error", async () => {
    if (/\/console\/impact\/[A-Za-z0-9]+$/.test(await driver.getCurrentUrl())) return "analysis";
    const errors = await driver.findElements(By.css(".error"));
    return errors.length > 0 && (await errors[0].getText());
  }, 60);
  assert.equal(outcome, "analysis");
  const chart = await driver.findElement(By.css("svg.trend"));
  assert.ok(await chart.isDisplayed(), "the trend chart is shown");
  assert.match(await driver.findElement(By.css("h1")).getText(), /De-escalation course and handling time/);
  await checkAccessibility("analysis");
  await screenshot("impact-analysis");
});

test("an administrator disables a rule in the console and it stops matching", async () => {
  // Arrange: the rule and a sentinel copy under another name, which stays enabled and tells
  // when the runner has evaluated a statement.
  const source = readFileSync(join(repo, "rules", `${RULE}.rhai`), "utf8");
  for (const [name, text] of [[RULE, source], ["sentinel", source.replace(`name = "${RULE}"`, 'name = "sentinel"')]]) {
    const answer = await api(`/api/rules/${name}`, { method: "PUT", body: text });
    assert.ok([200, 201].includes(answer.status), await answer.text());
  }
  const before = "mailto:before-disabling@example.com";
  await postStatement(lowKpi(before));
  await waitFor("the rule to match", async () => (await interventionsFor(RULE, before)).length === 1);

  // Act: disable it in the console.
  await open("/console/rules");
  await checkAccessibility("rules");
  await screenshot("rules");
  await driver.findElement(By.css(`form[action='/console/rules/${RULE}/enabled'] button`)).click();
  await driver.wait(until.alertIsPresent(), 5000);
  await driver.switchTo().alert().accept();
  // Found again each time: the form's answer replaces the page.
  await waitFor("the rule to show as disabled", async () => {
    return (await driver.findElement(By.css(`#rule-${RULE} td.state`)).getText()) === "disabled";
  });
  const after = "mailto:after-disabling@example.com";
  await postStatement(lowKpi(after));

  // Assert: the sentinel matched the new statement, the disabled rule did not.
  await waitFor("the runner to pass the statement", async () => (await interventionsFor("sentinel", after)).length === 1);
  assert.deepEqual(await interventionsFor(RULE, after), []);
  const detail = await open(`/console/rules/${RULE}`);
  assert.match(detail, /Recent runs/);
  await checkAccessibility("rule");

  // A dry run of the rule's text on the recent statements, then the other administrator pages.
  await open(`/console/rules/${RULE}/edit`);
  await checkAccessibility("rule edit");
  await driver.findElement(By.xpath("//button[text()='Dry run on recent statements']")).click();
  const dry = await driver.wait(until.elementLocated(By.id("dry-run")), 10000);
  assert.ok(await dry.isDisplayed());
  assert.match(await driver.findElement(By.css("body")).getText(), /would have made \d+ intents/);
  await checkAccessibility("dry run");
  await screenshot("rule-dry-run");
  for (const path of ["/console/deliveries", "/console/deliveries?status=pending", "/console/audit?verify=1"]) {
    await open(path);
    await checkAccessibility(path);
  }
  assert.match(await driver.findElement(By.css("main")).getText(), /is intact/);
});

test("the administrator sees every team's heat map, on a phone too", async () => {
  const skills = await open("/console/skills");
  assert.match(skills, /Team 1/);
  assert.match(skills, /Team 2/);
  await open("/console/skills/teams/Team%202");
  await driver.wait(until.elementLocated(By.css("table.heat")), 5000);
  await checkAccessibility("team (administrator)");
  await screenshot("skills-team");
  await open("/console/skills/search");
  await driver.findElement(By.css("#skill option[value='https://helpdesk.example.com/skills/de-escalation']")).click();
  await driver.findElement(By.xpath("//button[text()='Search']")).click();
  await driver.wait(until.elementLocated(By.css("table tbody tr")), 5000);
  assert.match(await driver.findElement(By.css("main")).getText(), /Strongest in De-escalation/);
  await checkAccessibility("talent search");
  await open("/console/skills/demand");
  assert.match(await driver.findElement(By.css("main")).getText(), /Evidence per skill/);
  await checkAccessibility("skill demand");
  await driver.manage().window().setRect({ width: 390, height: 844 });
  await open("/console/skills/teams/Team%202");
  await checkAccessibility("team (phone width)");
  await screenshot("skills-team-phone");
  await driver.manage().window().setRect({ width: 1280, height: 1000 });
});
