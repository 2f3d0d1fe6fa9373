//! Elasticsearch-compatible search API over the log partitions: `_search`, `_msearch`, `_count`,
//! `_mapping`, `_field_caps` (the subset Grafana's Elasticsearch datasource and Kibana-style
//! clients use), answering in Elasticsearch 8's shapes.
//!
//! - [`router`] builds the axum routes, relative to the prefix they are nested under.
//! - [`ElasticState`] holds the partition source ([`LogSnapshots`]) and the schema; its methods are
//!   the API without HTTP (bodies in, JSON out), used by the handlers and the tests.
//! - Query DSL: [`dsl`] (and [`lucene`] for `query_string`); searches: [`search`]; aggregations:
//!   [`aggs`]; index expressions: [`indices`]; mappings: [`mapping`]; dates: [`time`].
//!
//! Every response carries `X-Elastic-Product: Elasticsearch`; errors use Elasticsearch's body
//! (see [`error::EsError`]).

pub mod aggs;
pub mod collect;
pub mod dsl;
pub mod error;
mod handlers;
pub mod indices;
pub mod lucene;
pub mod mapping;
pub mod search;
pub mod time;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub use error::EsError;
pub use handlers::router;

pub use crate::log_source::LogSnapshots;
pub use pharos_storage::logs::{LogSchema, PartitionSnapshot, ResolvedField, lookup};

/// What the API needs: the partitions and the schema.
#[derive(Clone)]
pub struct ElasticState {
    pub snapshots: Arc<dyn LogSnapshots>,
    pub schema: Arc<LogSchema>,
}

impl ElasticState {
    pub fn new(snapshots: Arc<dyn LogSnapshots>, schema: LogSchema) -> ElasticState {
        ElasticState { snapshots, schema: Arc::new(schema) }
    }
}

/// URL query parameters, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses a raw query string (`a=1&b=x`).
    pub fn parse(query: Option<&str>) -> Params {
        Params(
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The last value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A boolean parameter; a bare `?flag` counts as true.
    pub fn flag(&self, name: &str) -> Option<bool> {
        self.get(name).map(|v| v.is_empty() || v.eq_ignore_ascii_case("true"))
    }

    fn index_options(&self) -> indices::IndexOptions {
        indices::IndexOptions {
            ignore_unavailable: self.flag("ignore_unavailable").unwrap_or(false),
            allow_no_indices: self.flag("allow_no_indices").unwrap_or(true),
        }
    }
}

/// A JSON response with Elasticsearch's product header.
pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("x-elastic-product", HeaderValue::from_static("Elasticsearch"));
    response
}

/// The router for an [`ElasticState`] (see [`router`]).
pub fn router_for(state: ElasticState) -> Router {
    handlers::routes(state)
}

// Pharos — query/src/elastic/mod.rs
