//! `/openapi.json`, generated from the handlers' annotations and the DTO types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::handlers;

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
    paths(
        handlers::get_healthz, handlers::get_readyz, handlers::get_metrics,
        handlers::list_sectors, handlers::list_services, handlers::get_service,
        handlers::create_quote, handlers::get_quote,
        handlers::create_intent, handlers::list_intents, handlers::get_intent, handlers::cancel_intent,
        handlers::create_attempt, handlers::list_attempts,
        handlers::receive_callback,
        handlers::get_public_payment, handlers::get_pay_page, handlers::get_attempt_qr_svg, handlers::get_attempt_qr_png,
        handlers::get_trial_balance, handlers::list_accounts, handlers::list_exceptions,
        handlers::create_webhook_endpoint, handlers::list_webhook_endpoints,
        handlers::list_webhook_deliveries, handlers::retry_webhook_delivery,
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

/// The OpenAPI document as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| serde_json::json!({}))
}
