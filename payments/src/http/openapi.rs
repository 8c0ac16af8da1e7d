//! `/openapi.json`, generated from the handlers' annotations and the DTO types.

use serde_json::{json, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    attempts, callbacks, cashier, catalog, console, intents, ledger, ops, pay, public,
    receipt_pages, reconciliation, reports, resolutions, status_page, web, webhooks,
};
use crate::app::outbox::EventType;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "API key (opk_...) or, where stated, the citizen's payment link token",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "OWSO Pay", description = "Fee collection for Cambodia's One Window Service Offices. Errors are RFC 9457 problems with a stable `code`."),
    modifiers(&BearerAuth),
    components(schemas(
        crate::app::outbox::PaymentPaid,
        crate::app::outbox::PaymentClosed,
        crate::app::outbox::ReconciliationException,
        crate::app::outbox::ReconciliationExceptionStatus,
        crate::app::outbox::PaymentVoided,
    )),
    paths(
        ops::get_healthz, ops::get_readyz,
        catalog::list_sectors, catalog::list_services, catalog::get_service,
        catalog::quotes::create_quote, catalog::quotes::get_quote,
        catalog::list_fee_schedules, catalog::list_bundles, catalog::get_bundle,
        catalog::admin::import_catalog, catalog::admin::export_catalog, catalog::admin::list_catalog_audit,
        catalog::page::get_services_page,
        intents::create_intent, intents::list_intents, intents::get_intent, intents::cancel_intent,
        attempts::create_attempt, attempts::list_attempts,
        callbacks::receive_callback,
        cashier::open_cashier_session, cashier::list_cashier_sessions, cashier::get_cashier_session,
        cashier::create_cash_receipt, cashier::void_receipt, cashier::close_cashier_session,
        cashier::get_cashier_session_report, cashier::create_cash_deposit, cashier::lookup_counter_intents,
        public::get_public_payment, public::get_public_payment_status, pay::get_pay_page, pay::post_pay_khqr, web::assets::get_asset, web::assets::get_favicon, public::get_attempt_qr_svg, public::get_attempt_qr_png,
        receipt_pages::get_receipt_page, receipt_pages::get_verify_page, status_page::get_status_page,
        console::get_login, console::post_login, console::post_logout,
        console::get_password, console::post_password, console::get_dashboard,
        console::closing::get_void, console::closing::post_void, console::closing::get_voided,
        console::closing::get_my_close, console::closing::get_close, console::closing::post_close,
        console::closing::get_report, console::closing::get_report_csv,
        console::closing::get_deposit, console::closing::post_deposit, console::closing::get_drawers,
        console::counter::get_drawer, console::counter::post_drawer, console::counter::get_take,
        console::counter::get_take_intent, console::counter::post_take_intent,
        console::counter::get_receipts, console::counter::get_console_receipt,
        console::reconciliation::get_reconciliation, console::reconciliation::get_new_statement,
        console::reconciliation::post_new_statement, console::reconciliation::get_statement_page,
        console::reconciliation::get_report_page, console::reconciliation::get_report_csv,
        console::exceptions::get_exceptions, console::exceptions::get_exception, console::exceptions::post_exception,
        console::books::get_books, console::books::get_account_page, console::books::get_statement_csv,
        console::books::get_journal_csv, console::books::get_journal_xlsx,
        console::reports::get_reports,
        console::proofs::get_proofs, console::proofs::post_verify, console::proofs::get_bundle,
        console::periods::get_periods, console::periods::post_close, console::audit::get_audit_page,
        ledger::get_trial_balance, ledger::list_accounts, ledger::list_exceptions,
        ledger::get_account_balance, ledger::get_account_statement,
        ledger::export_entries, ledger::list_periods,
        ledger::close_period, ledger::verify,
        reports::get_intents_report, reports::get_revenue_report, reports::get_online_share_report,
        reports::get_time_to_pay_report, reports::get_exceptions_report,
        ledger::list_digests, ledger::proofs::start_verification, ledger::proofs::get_verification,
        ledger::proofs::get_digest_bundle, ledger::period_close::get_checklist, ledger::audit::get_audit,
        reconciliation::load_statement, reconciliation::list_statements,
        reconciliation::get_statement, reconciliation::get_report, reconciliation::list_days,
        resolutions::get_exception, resolutions::create_resolution,
        webhooks::create_webhook_endpoint, webhooks::list_webhook_endpoints,
        webhooks::list_webhook_deliveries, webhooks::retry_webhook_delivery,
        webhooks::get_webhook_endpoint, webhooks::update_webhook_endpoint, webhooks::rotate_webhook_secret,
        webhooks::retry_dead_webhook_deliveries, webhooks::list_webhook_attempts,
    ),
    tags(
        (name = "catalog", description = "Sectors, services and quotes"),
        (name = "payments", description = "Payment intents and attempts"),
        (name = "callbacks", description = "Messages from banks"),
        (name = "cashier", description = "The cash drawer: open, take cash, void, close, report, deposit"),
        (name = "citizens", description = "What a payment link shows"),
        (name = "ledger", description = "Auditor reads"),
        (name = "reconciliation", description = "Money that did not match"),
        (name = "reports", description = "The dashboard's figures"),
        (name = "webhooks", description = "Events to the workflow system"),
        (name = "operations", description = "Health and metrics"),
        (name = "console", description = "The staff console: HTML pages behind a person's session cookie"),
    )
)]
struct ApiDoc;

fn webhooks() -> serde_json::Value {
    let signature_headers = serde_json::json!([
        {"name": "webhook-id", "in": "header", "required": true, "schema": {"type": "string"},
         "description": "The event id; the same on every retry and redelivery."},
        {"name": "webhook-timestamp", "in": "header", "required": true, "schema": {"type": "string"},
         "description": "Unix seconds when this attempt was signed."},
        {"name": "webhook-signature", "in": "header", "required": true, "schema": {"type": "string"},
         "description": "Space-separated `v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>`; two during a secret rotation."}
    ]);
    let mut hooks = serde_json::Map::new();
    // The events we send to the workflow system (OpenAPI 3.1 `webhooks`), each with the `data`
    // type the outbox serializes: named by app::outbox::EventType, nowhere else.
    for kind in EventType::ALL {
        let Some((schemas, summary)) = kind.documentation() else {
            continue;
        };
        let event = kind.name();
        let refs: Vec<serde_json::Value> = schemas
            .iter()
            .map(|schema| serde_json::json!({"$ref": format!("#/components/schemas/{schema}")}))
            .collect();
        let data = match refs.as_slice() {
            [one] => one.clone(),
            _ => serde_json::json!({"oneOf": refs}),
        };
        hooks.insert(
            event.to_owned(),
            serde_json::json!({
                "post": {
                    "summary": summary,
                    "parameters": signature_headers,
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object",
                        "required": ["type", "timestamp", "data"],
                        "properties": {
                            "type": {"type": "string", "const": event},
                            "timestamp": {"type": "string", "format": "date-time"},
                            "data": data
                        }
                    }}}},
                    "responses": {"2XX": {"description": "Received. Anything else is retried with backoff for 3 days."}}
                }
            }),
        );
    }
    serde_json::Value::Object(hooks)
}

/// The OpenAPI document as JSON, with the webhooks we send.
pub fn document() -> serde_json::Value {
    let mut document =
        serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(object) = document.as_object_mut() {
        object.insert("webhooks".to_owned(), webhooks());
    }
    complete(&mut document);
    document
}

/// Routes limited per client address or pay token (`rate_limit`): they may answer 429.
fn is_rate_limited(path: &str) -> bool {
    path.starts_with("/pay/")
        || path == "/services"
        || path.starts_with("/v1/public/")
        || path.starts_with("/v1/callbacks/")
}

/// The errors every operation of a kind can answer, with what they mean. They come from layers
/// and extractors shared by all routes, so they are added here rather than repeated on each
/// handler's annotation.
fn common_errors(path: &str, operation: &Value) -> Vec<(&'static str, &'static str)> {
    let mut errors = vec![(
        "503",
        "database_unavailable: the database is unreachable or busy; retry after `Retry-After`",
    )];
    let has_path = path.contains('{');
    let has_query = operation["parameters"]
        .as_array()
        .is_some_and(|parameters| {
            parameters
                .iter()
                .any(|parameter| parameter["in"] == "query")
        });
    if operation.get("security").is_some() {
        errors.push(("401", "unauthorized: no key, or an unknown or revoked one"));
        errors.push(("403", "forbidden: the key's role may not do this"));
    }
    if has_path {
        errors.push((
            "404",
            "not_found: nothing by that name (or not visible to this key)",
        ));
    }
    if has_path || has_query {
        errors.push((
            "400",
            "invalid_path or invalid_query: a value that cannot be read, named in `parameter`",
        ));
    }
    if has_query {
        errors.push((
            "422",
            "validation_failed: a query value out of range, or a cursor this API did not return; named in `parameter`",
        ));
    }
    if operation.get("requestBody").is_some() {
        errors.push(("400", "malformed_json: the body is not JSON"));
        errors.push(("413", "payload_too_large: the body is over the limit"));
        errors.push((
            "415",
            "unsupported_media_type: the body is not declared as its media type",
        ));
        errors.push((
            "422",
            "validation_failed: a field is missing, unknown, of the wrong type or out of range; named in `parameter`",
        ));
    }
    if is_rate_limited(path) {
        errors.push(("429", "rate_limited: come back after `Retry-After`"));
    }
    errors
}

/// Free text of a path, query or header value: what the edge checks (`extract`) refuse is out
/// of the schema too: control characters (NUL cannot be stored), over-long values, and for
/// `Idempotency-Key` anything but 1 to 255 visible ASCII characters, for a cursor anything but
/// base64url.
fn constrain_text(parameter: &mut Value) {
    let Some(schema) = parameter.get_mut("schema").and_then(Value::as_object_mut) else {
        return;
    };
    let is_text = schema.get("type").is_some_and(|kind| {
        kind == "string"
            || kind
                .as_array()
                .is_some_and(|kinds| kinds.contains(&json!("string")))
    });
    let free = ["format", "enum", "pattern", "oneOf"]
        .iter()
        .all(|key| !schema.contains_key(*key));
    if !is_text || !free {
        return;
    }
    let name = parameter["name"].as_str().unwrap_or_default().to_owned();
    let place = parameter["in"].as_str().unwrap_or_default().to_owned();
    let Some(schema) = parameter.get_mut("schema").and_then(Value::as_object_mut) else {
        return;
    };
    if name.eq_ignore_ascii_case("idempotency-key") {
        schema.insert("pattern".to_owned(), json!("^[!-~]{1,255}$"));
        return;
    }
    // Cursors are base64url text the API returned (`app::pagination::cursor`).
    if name == "cursor" && place == "query" {
        schema.insert("pattern".to_owned(), json!("^[A-Za-z0-9_-]+$"));
        schema.insert(
            "maxLength".to_owned(),
            json!(super::extract::MAX_QUERY_VALUE_CHARS),
        );
        return;
    }
    let most = if place == "path" {
        super::extract::MAX_PATH_VALUE_CHARS
    } else {
        super::extract::MAX_QUERY_VALUE_CHARS
    };
    schema.insert(
        "pattern".to_owned(),
        json!("^[^\\u0000-\\u001F\\u007F-\\u009F]*$"),
    );
    schema.entry("maxLength").or_insert(json!(most));
}

/// Makes every operation say what it takes and answers, beyond what its annotation states:
/// each path parameter declared (`id` is a UUID, the others text), the shared errors listed,
/// and every error's body an `application/problem+json` [`Problem`](super::error::Problem).
fn complete(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let template: Vec<String> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut() {
            if operation.as_object().is_none() {
                continue;
            }
            // Only the API's values pass the edge checks (`extract::AppQuery`, `AppPath`); a
            // page reads its query leniently (an unknown `lang` is Khmer, odd search text finds
            // nothing), so its parameters are documented as the free text they are.
            declare_path_parameters(operation, &template, path.starts_with("/v1/"));
            // A form post without its form is refused (415 before the form is read), so a
            // form body is required, whatever its fields.
            if let Some(body) = operation.get_mut("requestBody") {
                if body["content"]
                    .get("application/x-www-form-urlencoded")
                    .is_some()
                {
                    body["required"] = json!(true);
                }
            }
            document_errors(path, operation);
        }
    }
}

/// Declares each of the path's `template` parameters the operation leaves out, constrains its
/// text parameters where the edge checks them, and drops an empty parameter list.
fn declare_path_parameters(operation: &mut Value, template: &[String], edge_checked: bool) {
    let Some(object) = operation.as_object_mut() else {
        return;
    };
    let parameters = object
        .entry("parameters")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(parameters) = parameters.as_array_mut() {
        for name in template {
            let declared = parameters
                .iter()
                .any(|parameter| parameter["in"] == "path" && parameter["name"] == name.as_str());
            if !declared {
                let schema = if name == "id" {
                    json!({"type": "string", "format": "uuid"})
                } else {
                    json!({"type": "string", "minLength": 1, "maxLength": super::extract::MAX_PATH_VALUE_CHARS})
                };
                parameters
                    .push(json!({"name": name, "in": "path", "required": true, "schema": schema}));
            }
        }
    }
    if let Some(parameters) = object["parameters"].as_array_mut() {
        if edge_checked {
            parameters.iter_mut().for_each(constrain_text);
        }
    }
    if object["parameters"].as_array().is_some_and(Vec::is_empty) {
        object.remove("parameters");
    }
}

/// Lists the shared errors among the operation's responses and gives every 4xx and 5xx a
/// `Problem` body.
fn document_errors(path: &str, operation: &mut Value) {
    let problem =
        json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
    let errors = common_errors(path, operation);
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (status, description) in errors {
        let response = responses
            .entry(status)
            .or_insert_with(|| json!({"description": ""}));
        if let Some(text) = response["description"].as_str() {
            if text.is_empty() {
                response["description"] = json!(description);
            } else if !text.contains(description) && text != description {
                response["description"] = json!(format!("{text}; or {description}"));
            }
        }
    }
    // The reports answer CSV too (`Accept: text/csv` or `format=csv`), as their descriptions say.
    if path.starts_with("/v1/reports/") {
        if let Some(content) = responses
            .get_mut("200")
            .and_then(|ok| ok.get_mut("content"))
            .and_then(Value::as_object_mut)
        {
            content.insert("text/csv".to_owned(), json!({"schema": {"type": "string"}}));
        }
    }
    // Every console route but the login page sends a visitor without a session to the login
    // page first, whatever else the request says.
    if path.starts_with("/console") && !path.starts_with("/console/login") {
        responses.entry("303").or_insert_with(|| {
            json!({"description": "No session (or an ended one): to /console/login?next=..., the page asked for"})
        });
    }
    let html = json!({"text/html": {"schema": {"type": "string"}}});
    for (status, response) in responses.iter_mut() {
        // Pages answer their errors as HTML pages in the person's language (web::error_page),
        // a lost database included; only the shared layers in front of them (the rate limit,
        // body checks) still answer problem documents.
        let from_layers = matches!(status.as_str(), "413" | "415" | "429");
        let is_page =
            response["content"].get("text/html").is_some() || (is_page_path(path) && !from_layers);
        if !(status.starts_with('4') || status.starts_with('5')) {
            continue;
        }
        response["content"] = if is_page {
            html.clone()
        } else {
            problem.clone()
        };
    }
}

/// The citizens' pages and the staff console's (HTML, never problem+json).
pub fn is_page_path(path: &str) -> bool {
    path.starts_with("/pay/")
        || path.starts_with("/receipts/")
        || path.starts_with("/verify/")
        || path == "/status"
        || path == "/services"
        || path == "/console"
        || path.starts_with("/console/")
}
