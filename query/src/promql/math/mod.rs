//! The numeric core of PromQL's functions and aggregations.
pub mod aggregate;
pub mod date;
pub mod histogram;
pub mod instant;
pub mod kahan;
pub mod range;
#[cfg(test)]
pub(crate) mod testutil;
