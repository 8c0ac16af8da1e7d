//! Webhook endpoints of the workflow system, and their deliveries.

pub mod deliveries;
pub mod endpoints;
pub mod targets;

pub use deliveries::{
    delivery_attempts, list_deliveries, retry_dead, retry_delivery, DeliveriesQuery,
};
pub use endpoints::{
    create_endpoint, get_endpoint, list_endpoints, rotate_secret, update_endpoint, CreateEndpoint,
    CreatedEndpoint, UpdateEndpoint,
};
pub use targets::{refused_address, refused_name, validate_url};
