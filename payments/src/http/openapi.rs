//! `/openapi.json`, generated from the handlers' annotations and the DTO types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{attempts, callbacks, catalog, intents, ledger, ops, public, webhooks};

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
    )),
    paths(
        ops::get_healthz, ops::get_readyz,
        catalog::list_sectors, catalog::list_services, catalog::get_service,
        catalog::create_quote, catalog::get_quote,
        catalog::list_fee_schedules, catalog::list_bundles, catalog::get_bundle,
        catalog::import_catalog, catalog::export_catalog, catalog::list_catalog_audit,
        intents::create_intent, intents::list_intents, intents::get_intent, intents::cancel_intent,
        attempts::create_attempt, attempts::list_attempts,
        callbacks::receive_callback,
        public::get_public_payment, public::get_pay_page, public::get_attempt_qr_svg, public::get_attempt_qr_png,
        ledger::get_trial_balance, ledger::list_accounts, ledger::list_exceptions,
        ledger::get_account_balance, ledger::get_account_statement,
        ledger::export_entries, ledger::list_periods,
        ledger::close_period, ledger::verify,
        ledger::list_digests,
        webhooks::create_webhook_endpoint, webhooks::list_webhook_endpoints,
        webhooks::list_webhook_deliveries, webhooks::retry_webhook_delivery,
        webhooks::get_webhook_endpoint, webhooks::update_webhook_endpoint, webhooks::rotate_webhook_secret,
        webhooks::retry_dead_webhook_deliveries, webhooks::list_webhook_attempts,
    ),
    tags(
        (name = "catalog", description = "Sectors, services and quotes"),
        (name = "payments", description = "Payment intents and attempts"),
        (name = "callbacks", description = "Messages from banks"),
        (name = "citizens", description = "What a payment link shows"),
        (name = "ledger", description = "Auditor reads"),
        (name = "reconciliation", description = "Money that did not match"),
        (name = "webhooks", description = "Events to the workflow system"),
        (name = "operations", description = "Health and metrics"),
    )
)]
struct ApiDoc;

/// The events we send to the workflow system (OpenAPI 3.1 `webhooks`), each with the `data`
/// type the outbox serializes.
const WEBHOOK_EVENTS: [(&str, &str, &str); 4] = [
    (
        "payment.paid",
        "PaymentPaid",
        "The cashier step is done: the case is paid.",
    ),
    (
        "payment.cancelled",
        "PaymentClosed",
        "The payment intent was cancelled before payment.",
    ),
    (
        "payment.expired",
        "PaymentClosed",
        "The payment intent expired unpaid.",
    ),
    (
        "reconciliation.exception",
        "ReconciliationException",
        "Money arrived that did not match; it is in suspense.",
    ),
];

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
    for (event, schema, summary) in WEBHOOK_EVENTS {
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
                            "data": {"$ref": format!("#/components/schemas/{schema}")}
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
    document
}
