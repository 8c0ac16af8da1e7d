//! The fee schedule: rules as data, versions, bundles, the engine that prices a line, the
//! catalog file format, and the audit log of changes.
//!
//! - [`rules`]: the tagged JSON fee rule and its load-time checks;
//! - [`params`]: the public parameter names and how request values are read (exact decimals);
//! - [`engine`]: pricing one line (pure);
//! - [`model`]: what a schedule version holds;
//! - [`csv_format`]: the import/export file (all-or-nothing, canonical export);
//! - [`schedule`]: versions in the database;
//! - [`publish`]: publishing a version;
//! - [`audit`]: who changed what;
//! - [`admin`]: the import, export and audit use cases.

pub mod admin;
pub mod audit;
pub mod csv_format;
pub mod engine;
pub mod model;
pub mod params;
pub mod publish;
pub mod rules;
pub mod schedule;

/// The bundled catalog that `payments seed` publishes (the canonical export of its version).
pub const BUNDLED_CATALOG_CSV: &str = include_str!("../../../data/catalog.csv");
