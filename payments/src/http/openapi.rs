//! `/openapi.json`, generated from the handlers' annotations and the DTO types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::handlers;
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
    )),
    paths(
        handlers::get_healthz, handlers::get_readyz,
        handlers::list_sectors, handlers::list_services, handlers::get_service,
        handlers::create_quote, handlers::get_quote,
        crate::http::catalog::list_fee_schedules, crate::http::catalog::list_bundles, crate::http::catalog::get_bundle,
        crate::http::catalog::import_catalog, crate::http::catalog::export_catalog, crate::http::catalog::list_catalog_audit,
        handlers::create_intent, handlers::list_intents, handlers::get_intent, handlers::cancel_intent,
        handlers::create_attempt, handlers::list_attempts,
        handlers::receive_callback,
        handlers::get_public_payment, handlers::get_pay_page, handlers::get_attempt_qr_svg, handlers::get_attempt_qr_png,
        handlers::get_trial_balance, handlers::list_accounts, handlers::list_exceptions,
        crate::http::ledger_handlers::get_account_balance, crate::http::ledger_handlers::get_account_statement,
        crate::http::ledger_handlers::export_entries, crate::http::ledger_handlers::list_periods,
        crate::http::ledger_handlers::close_period, crate::http::ledger_handlers::verify,
        crate::http::ledger_handlers::list_digests,
        handlers::create_webhook_endpoint, handlers::list_webhook_endpoints,
        handlers::list_webhook_deliveries, handlers::retry_webhook_delivery,
        handlers::get_webhook_endpoint, handlers::update_webhook_endpoint, handlers::rotate_webhook_secret,
        handlers::retry_dead_webhook_deliveries, handlers::list_webhook_attempts,
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
        let Some((schema, summary)) = kind.documentation() else {
            continue;
        };
        let event = kind.name();
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
