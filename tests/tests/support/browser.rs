//! A browser for the end-to-end tests: Debian's chromium, headless, driven through its
//! chromedriver with fantoccini, at a phone's or a desk's width. Each [`Browser`] has its own
//! chromedriver on a free port (it starts in well under a second), so browser tests run in
//! parallel with everything else.
//!
//! Besides opening, finding, clicking and waiting, it measures what the budgets of
//! `../shared/UI.md` speak of, inside the page itself: axe-core's serious and critical
//! violations, the bytes transferred (Resource Timing), the origins fetched, and horizontal
//! overflow.
//!
//! The tools come from `scripts/browser-up.sh` (`make test` runs it): `CHROMEDRIVER`,
//! `CHROMIUM` and `AXE_CORE_JS` name them, else Debian's paths and the npm prefix
//! `target/web-tools`. When they are missing a browser test fails under CI (`CI` set) and is
//! skipped with a message on the real stderr elsewhere.

use std::collections::BTreeSet;
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use super::{free_port, log_path_for, tail_of, wait_until, workspace_dir};

/// How long an element or a condition is waited for before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// The page's viewport in CSS pixels (device scale factor 1), emulated through the DevTools
/// protocol: headless chromium will not make a window narrower than 500 px.
#[derive(Clone, Copy, Debug)]
pub struct Viewport {
    pub width: u32,
    pub height: u32,
    /// A phone's browser: the page's `<meta name="viewport">` decides its layout width, and a
    /// page without one is laid out 980 px wide and shrunk, as on a real phone.
    pub mobile: bool,
}

/// A small phone: the width the citizen pages must fit without horizontal scrolling.
pub const PHONE: Viewport = Viewport {
    width: 360,
    height: 800,
    mobile: true,
};
/// A counter or office PC.
pub const DESK: Viewport = Viewport {
    width: 1280,
    height: 900,
    mobile: false,
};

/// Where the browser tools are.
#[derive(Clone, Debug)]
struct Tools {
    chromedriver: PathBuf,
    chromium: PathBuf,
    axe_core_js: PathBuf,
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

fn find_tools() -> Result<Tools, String> {
    let tools = Tools {
        chromedriver: env_path("CHROMEDRIVER").unwrap_or_else(|| "/usr/bin/chromedriver".into()),
        chromium: env_path("CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into()),
        axe_core_js: env_path("AXE_CORE_JS").unwrap_or_else(|| {
            workspace_dir().join("target/web-tools/node_modules/axe-core/axe.min.js")
        }),
    };
    let missing: Vec<String> = [
        ("chromedriver", &tools.chromedriver),
        ("chromium", &tools.chromium),
        ("axe-core", &tools.axe_core_js),
    ]
    .into_iter()
    .filter(|(_, path)| !path.is_file())
    .map(|(what, path)| format!("{what} ({})", path.display()))
    .collect();
    if missing.is_empty() {
        Ok(tools)
    } else {
        Err(format!("missing {}", missing.join(", ")))
    }
}

/// CI sets `CI` (to `true`); there a missing browser is a failure, never a skip.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false" && value != "0")
}

/// A started browser at `viewport`, or `None` (after saying so loudly) when the tools are
/// missing outside CI. Under CI a missing tool fails the test.
///
/// ```ignore
/// let Some(browser) = browser(PHONE).await else { return };
/// ```
pub async fn browser(viewport: Viewport) -> Option<Browser> {
    match find_tools() {
        Ok(tools) => Some(Browser::start(tools, viewport).await),
        Err(why) => {
            let message = format!(
                "browser test {} needs chromium, chromedriver and axe-core: {why}. \
                 scripts/browser-up.sh finds or installs them (make test runs it; it prints \
                 the CHROMEDRIVER path, and AXE_CORE_JS is \
                 target/web-tools/node_modules/axe-core/axe.min.js)",
                super::test_label()
            );
            if in_ci() {
                panic!("{message}");
            }
            // libtest captures eprintln! of passing tests; a skip must be seen, so this goes to
            // the process's real stderr.
            let _ = writeln!(std::io::stderr(), "\n!!! SKIPPED (not in CI): {message}\n");
            None
        }
    }
}

/// A chromedriver child in its own process group. Dropping it kills the group, so that a test
/// that panics leaves no browser behind.
struct Driver {
    url: String,
    log_path: PathBuf,
    child: Child,
}

impl Driver {
    async fn start(path: &Path) -> Driver {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("an HTTP client");
        let mut last_failure = String::new();
        // A free port can be taken by another test before chromedriver binds it: try again.
        for _ in 0..3 {
            let port = free_port();
            let log_path = log_path_for("chromedriver");
            let log = std::fs::File::create(&log_path)
                .unwrap_or_else(|e| panic!("creating {}: {e}", log_path.display()));
            let err_log = log.try_clone().expect("a second handle on the log");
            let mut child = Command::new(path)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::from(log))
                .stderr(Stdio::from(err_log))
                .process_group(0)
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", path.display()));
            let url = format!("http://127.0.0.1:{port}");
            let status = format!("{url}/status");
            let mut exited = false;
            let ready = wait_until(WAIT, || {
                exited = exited || !matches!(child.try_wait(), Ok(None));
                let request = http.get(&status).send();
                let stop = exited;
                async move {
                    if stop {
                        return true;
                    }
                    match request.await {
                        Ok(response) => response
                            .json::<Value>()
                            .await
                            .is_ok_and(|body| body["value"]["ready"] == true),
                        Err(_) => false,
                    }
                }
            })
            .await;
            let driver = Driver {
                url,
                log_path,
                child,
            };
            if ready && !exited {
                return driver;
            }
            last_failure = format!(
                "chromedriver {} did not become ready on port {port} within {} s; its log {}:\n{}",
                path.display(),
                WAIT.as_secs(),
                driver.log_path.display(),
                tail_of(&driver.log_path, 20)
            );
        }
        panic!("{last_failure}");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver's browsers are its children in its process group: kill them all.
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A violation axe-core reports, with the elements it concerns.
#[derive(Debug, Clone)]
pub struct AxeViolation {
    pub id: String,
    pub impact: String,
    pub help: String,
    /// CSS selectors of the offending elements.
    pub targets: Vec<String>,
}

impl std::fmt::Display for AxeViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {} at {}",
            self.id,
            self.impact,
            self.help,
            self.targets.join(", ")
        )
    }
}

/// One fetch of the page (the document itself or a resource), from Resource Timing.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub url: String,
    /// `transferSize` (headers and body as they came over the wire), or `encodedBodySize`
    /// when that is 0 (served from cache, or a cross-origin resource without
    /// Timing-Allow-Origin).
    pub bytes: u64,
    pub font: bool,
}

/// What loading the page cost: every fetch, their bytes and their origins.
#[derive(Debug, Clone)]
pub struct PageWeight {
    pub fetched: Vec<Fetched>,
    /// Every origin fetched from (`scheme://host:port`), the page's own included.
    pub origins: BTreeSet<String>,
}

impl PageWeight {
    pub fn total_bytes(&self) -> u64 {
        self.fetched.iter().map(|f| f.bytes).sum()
    }

    /// The same without web fonts (UI.md budgets the page both with and without its font).
    pub fn bytes_without_fonts(&self) -> u64 {
        self.fetched
            .iter()
            .filter(|f| !f.font)
            .map(|f| f.bytes)
            .sum()
    }
}

impl std::fmt::Display for PageWeight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} bytes ({} without fonts) in {} fetches:",
            self.total_bytes(),
            self.bytes_without_fonts(),
            self.fetched.len()
        )?;
        for fetched in &self.fetched {
            write!(f, "\n  {:>8}  {}", fetched.bytes, fetched.url)?;
        }
        Ok(())
    }
}

fn is_font_url(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    [".woff2", ".woff", ".ttf", ".otf"]
        .iter()
        .any(|ext| path.to_ascii_lowercase().ends_with(ext))
}

/// The origin of `url` as the browser writes it, or the URL itself when it has none.
fn origin_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => parsed.origin().ascii_serialization(),
        Err(_) => url.to_owned(),
    }
}

/// Flags for a quiet, reproducible headless chromium that never reaches beyond this machine:
/// the background services are off, and every request to a host other than loopback goes to a
/// proxy on the discard port that refuses it (chromium never proxies loopback), so a page that
/// asks for a CDN fails to load it here instead of fetching it.
pub fn chromium_flags() -> Vec<String> {
    [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-sync",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--no-pings",
        "--mute-audio",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--proxy-server=http://127.0.0.1:9",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// A headless chromium session. Dropping it ends the session (chromium quits) and its
/// chromedriver.
pub struct Browser {
    pub client: Client,
    viewport: Viewport,
    axe_core_js: PathBuf,
    session_id: Option<String>,
    /// For chromedriver's DevTools endpoint, which fantoccini does not wrap.
    http: reqwest::Client,
    driver: Driver,
}

impl Browser {
    async fn start(tools: Tools, viewport: Viewport) -> Browser {
        let driver = Driver::start(&tools.chromedriver).await;
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        // The window is as large as the largest viewport; the viewport itself is emulated.
        let mut args = chromium_flags();
        args.push(format!("--window-size={},{}", DESK.width, DESK.height));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": tools.chromium, "args": args}),
        );
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let client = builder.connect(&driver.url).await.unwrap_or_else(|e| {
            panic!(
                "starting chromium {} through chromedriver failed: {e}\nchromedriver log {}:\n{}",
                tools.chromium.display(),
                driver.log_path.display(),
                tail_of(&driver.log_path, 20)
            )
        });
        let session_id = client.session_id().await.ok().flatten();
        let mut browser = Browser {
            client,
            viewport,
            axe_core_js: tools.axe_core_js,
            session_id,
            http: reqwest::Client::new(),
            driver,
        };
        browser.set_viewport(viewport).await;
        browser
    }

    /// Emulates `viewport` from now on (it lasts across navigations).
    pub async fn set_viewport(&mut self, viewport: Viewport) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({
                "width": viewport.width,
                "height": viewport.height,
                "deviceScaleFactor": 1,
                "mobile": viewport.mobile,
            }),
        )
        .await;
        self.viewport = viewport;
    }

    /// A DevTools protocol command through chromedriver (`goog/cdp/execute`); its result.
    pub async fn cdp(&self, command: &str, params: Value) -> Value {
        let session = self.session_id.as_deref().expect("an open session");
        let url = format!("{}/session/{session}/goog/cdp/execute", self.driver.url);
        let body: Value = self
            .http
            .post(&url)
            .json(&json!({"cmd": command, "params": params}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{command} through chromedriver: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("{command} through chromedriver: {e}"));
        if body["value"]["error"].is_string() {
            panic!("{command} failed: {}", body["value"]);
        }
        body["value"].clone()
    }

    pub fn viewport(&self) -> Viewport {
        self.viewport
    }

    /// Opens `url` and waits until it has loaded (WebDriver's "normal" page load strategy).
    pub async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// Runs `script` in the page (`arguments` holds `args`) and returns what it returned.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("running script in the page: {e}\nscript: {script:.200}"))
    }

    /// The element matching `css`, which must be there now.
    pub async fn find(&self, css: &str) -> Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element matches {css:?}: {e}"))
    }

    /// The element matching `css`, waited for up to [`WAIT`].
    pub async fn wait_for_element(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(WAIT)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element matched {css:?} within {WAIT:?}: {e}"))
    }

    /// Whether an element matches `css` now.
    pub async fn exists(&self, css: &str) -> bool {
        self.client
            .find_all(Locator::Css(css))
            .await
            .is_ok_and(|found| !found.is_empty())
    }

    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css:?}: {e}"));
    }

    /// The rendered text of the element matching `css` (as a person sees it).
    pub async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("reading the text of {css:?}: {e}"))
    }

    /// Attribute `name` of the element matching `css`.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css)
            .await
            .attr(name)
            .await
            .unwrap_or_else(|e| panic!("reading {name} of {css:?}: {e}"))
    }

    /// Waits up to `timeout` for `condition` (polled, no fixed sleep); panics naming `what`.
    pub async fn wait_for<F, Fut>(&self, what: &str, timeout: Duration, condition: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        assert!(
            wait_until(timeout, condition).await,
            "waited {timeout:?} for {what}"
        );
    }

    /// Waits up to [`WAIT`] until the text of `css` contains `needle`.
    pub async fn wait_for_text(&self, css: &str, needle: &str) {
        let locator = css.to_owned();
        let found = wait_until(WAIT, || {
            let client = self.client.clone();
            let locator = locator.clone();
            async move {
                match client.find(Locator::Css(&locator)).await {
                    Ok(element) => element.text().await.is_ok_and(|t| t.contains(needle)),
                    Err(_) => false,
                }
            }
        })
        .await;
        if !found {
            let shown = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => "(no such element)".to_owned(),
            };
            panic!("{css:?} did not show {needle:?} within {WAIT:?}; it shows {shown:?}");
        }
    }

    /// A PNG of the whole page (the window grows to the page's height for the shot, then
    /// returns to the viewport) written to `path`, its directories made.
    pub async fn screenshot(&mut self, path: &Path) {
        let viewport = self.viewport;
        let height = self
            .js("return document.documentElement.scrollHeight;", vec![])
            .await
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(viewport.height);
        if height > viewport.height {
            self.set_viewport(Viewport { height, ..viewport }).await;
        }
        let png = self.client.screenshot().await.expect("taking a screenshot");
        if height > viewport.height {
            self.set_viewport(viewport).await;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// axe-core's violations of impact serious or critical on the current page (axe is
    /// injected from disk first: the page need not, and must not, load it).
    pub async fn axe_serious_violations(&self) -> Vec<AxeViolation> {
        static SOURCE: OnceLock<String> = OnceLock::new();
        let source = SOURCE.get_or_init(|| {
            std::fs::read_to_string(&self.axe_core_js).unwrap_or_else(|e| {
                panic!(
                    "reading axe-core at {}: {e} (scripts/browser-up.sh fetches it)",
                    self.axe_core_js.display()
                )
            })
        });
        let loaded = self
            .js("return typeof window.axe === 'object';", vec![])
            .await;
        if loaded != true {
            // Run as a script body, axe-core's UMD wrapper finds no module system and sets
            // window.axe. WebDriver scripts are not subject to the page's CSP.
            self.js(&format!("{source}\n;return typeof window.axe;"), vec![])
                .await;
        }
        let result = self
            .client
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(
  (results) => done({ok: results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                  targets: v.nodes.map((n) => n.target.join(' '))}))}),
  (error) => done({error: String(error)}));"#,
                vec![],
            )
            .await
            .expect("running axe-core");
        if let Some(error) = result.get("error") {
            panic!("axe-core failed: {error}");
        }
        result["ok"]
            .as_array()
            .expect("axe's violations")
            .iter()
            .map(|v| AxeViolation {
                id: v["id"].as_str().unwrap_or_default().to_owned(),
                impact: v["impact"].as_str().unwrap_or_default().to_owned(),
                help: v["help"].as_str().unwrap_or_default().to_owned(),
                targets: v["targets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect(),
            })
            .collect()
    }

    /// Every fetch of the current page so far (the document and its resources, from Resource
    /// Timing), their bytes and their origins. Call it before injecting anything.
    pub async fn page_weight(&self) -> PageWeight {
        let entries = self
            .js(
                r#"return performance.getEntriesByType('navigation')
  .concat(performance.getEntriesByType('resource'))
  .map((e) => ({url: e.name, transfer: e.transferSize, encoded: e.encodedBodySize}));"#,
                vec![],
            )
            .await;
        let fetched: Vec<Fetched> = entries
            .as_array()
            .expect("timing entries")
            .iter()
            .map(|entry| {
                let url = entry["url"].as_str().unwrap_or_default().to_owned();
                let transfer = entry["transfer"].as_u64().unwrap_or(0);
                let bytes = if transfer > 0 {
                    transfer
                } else {
                    entry["encoded"].as_u64().unwrap_or(0)
                };
                Fetched {
                    font: is_font_url(&url),
                    bytes,
                    url,
                }
            })
            .collect();
        let origins = fetched.iter().map(|f| origin_of(&f.url)).collect();
        PageWeight { fetched, origins }
    }

    /// `Some((page width, viewport width))` when a person would have to scroll sideways or
    /// zoom: the document is wider than the window (`scrollWidth > innerWidth`), or the page is
    /// laid out wider than the emulated screen (a phone page without
    /// `<meta name="viewport" content="width=device-width">` is laid out 980 px wide).
    pub async fn horizontal_overflow(&self) -> Option<(u64, u64)> {
        let value = self
            .js(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await;
        let scroll = value[0].as_u64().unwrap_or(0);
        let inner = value[1].as_u64().unwrap_or(0);
        let screen = u64::from(self.viewport.width);
        (scroll > inner || inner > screen).then_some((scroll.max(inner), screen))
    }

    /// Ends the session now (chromium quits); dropping the browser does the same.
    pub async fn close(mut self) {
        self.session_id = None;
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A test that panicked never awaited close(): end the session with a plain DELETE
        // (chromedriver then quits chromium and removes its profile), from a thread with its
        // own runtime since this one cannot block on itself. The driver's process group is
        // killed after this in any case.
        let Some(session) = self.session_id.take() else {
            return;
        };
        let url = format!("{}/session/{session}", self.driver.url);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|runtime| {
                    runtime.block_on(async {
                        let _ = reqwest::Client::new()
                            .delete(&url)
                            .timeout(Duration::from_secs(10))
                            .send()
                            .await;
                    })
                });
            let _ = done_tx.send(());
        });
        let _ = done_rx.recv_timeout(Duration::from_secs(15));
    }
}
