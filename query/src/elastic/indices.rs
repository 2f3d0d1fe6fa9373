//! Index expressions (`logs-*,-logs-debug,app`, `_all`, `*`) resolved against the `_index` values
//! present in the partitions: the terms of the `_index` field, enumerated per segment.

use std::collections::BTreeSet;

use tantivy::{Searcher, SegmentReader};

use super::error::EsError;
use super::{LogSchema, LogSnapshots, PartitionSnapshot};

/// A parsed index expression.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IndexExpr {
    /// No include term, `_all` or `*`: every index (minus exclusions).
    pub all: bool,
    pub includes: Vec<String>,
    pub excludes: Vec<String>,
}

/// How unknown concrete names are treated (`ignore_unavailable`, `allow_no_indices`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexOptions {
    pub ignore_unavailable: bool,
    pub allow_no_indices: bool,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions { ignore_unavailable: false, allow_no_indices: true }
    }
}

impl IndexExpr {
    pub fn parse(expr: &str) -> IndexExpr {
        let mut out = IndexExpr::default();
        for part in expr.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Some(excluded) = part.strip_prefix('-') {
                out.excludes.push(excluded.to_string());
            } else if part == "_all" || part == "*" {
                out.all = true;
            } else {
                out.includes.push(part.to_string());
            }
        }
        if out.includes.is_empty() {
            out.all = true;
        }
        out
    }

    pub fn matches(&self, name: &str) -> bool {
        (self.all || self.includes.iter().any(|p| glob(p, name))) && !self.excludes.iter().any(|p| glob(p, name))
    }

    /// Included names without wildcards: these must exist unless `ignore_unavailable`.
    pub fn concrete(&self) -> impl Iterator<Item = &str> {
        self.includes.iter().filter(|p| !p.contains('*')).map(String::as_str)
    }
}

/// `*` matches any run of characters.
pub fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(pos) => rest = &rest[pos + part.len()..],
            None => return false,
        }
    }
    true
}

/// `_index` values present in one segment.
pub fn segment_indices(schema: &LogSchema, segment: &SegmentReader) -> Result<Vec<String>, EsError> {
    let inverted = segment.inverted_index(schema.index)?;
    let mut stream = inverted.terms().stream()?;
    let mut out = Vec::new();
    while stream.advance() {
        out.push(String::from_utf8_lossy(stream.key()).into_owned());
    }
    Ok(out)
}

/// `_index` values present in a partition.
pub fn searcher_indices(schema: &LogSchema, searcher: &Searcher) -> Result<BTreeSet<String>, EsError> {
    let mut out = BTreeSet::new();
    for segment in searcher.segment_readers() {
        out.extend(segment_indices(schema, segment)?);
    }
    Ok(out)
}

/// A partition to search, with the index names to keep (`None`: all of the partition's).
pub struct Target {
    pub partition: PartitionSnapshot,
    pub keep: Option<Vec<String>>,
}

/// Resolves `expr` over `partitions`: the partitions holding selected indices, each with its
/// filter. Concrete names absent from `partitions` are looked up over all time before answering
/// 404 `index_not_found_exception`.
pub fn resolve_targets(
    schema: &LogSchema,
    snapshots: &dyn LogSnapshots,
    partitions: Vec<PartitionSnapshot>,
    expr: &IndexExpr,
    options: IndexOptions,
) -> Result<Vec<Target>, EsError> {
    let mut present = BTreeSet::new();
    let mut targets = Vec::new();
    for partition in partitions {
        let names = searcher_indices(schema, &partition.searcher)?;
        let selected: Vec<String> = names.iter().filter(|n| expr.matches(n)).cloned().collect();
        present.extend(names.iter().cloned());
        if selected.is_empty() {
            continue;
        }
        let keep = (selected.len() != names.len()).then_some(selected);
        targets.push(Target { partition, keep });
    }
    check_concrete(schema, snapshots, &present, expr, options)?;
    Ok(targets)
}

/// Fails with 404 for a concrete name that exists nowhere (unless `ignore_unavailable`), or for an
/// expression matching nothing when `allow_no_indices` is false.
pub fn check_concrete(
    schema: &LogSchema,
    snapshots: &dyn LogSnapshots,
    present: &BTreeSet<String>,
    expr: &IndexExpr,
    options: IndexOptions,
) -> Result<(), EsError> {
    let missing: Vec<&str> = expr.concrete().filter(|c| !present.contains(*c)).collect();
    let mut everywhere: Option<BTreeSet<String>> = None;
    let mut all_names = || -> Result<BTreeSet<String>, EsError> {
        if everywhere.is_none() {
            let mut names = snapshots.written_indexes();
            for p in snapshots.snapshot(i64::MIN, i64::MAX) {
                names.extend(searcher_indices(schema, &p.searcher)?);
            }
            everywhere = Some(names);
        }
        Ok(everywhere.clone().unwrap_or_default())
    };
    if !options.ignore_unavailable {
        for name in &missing {
            if !all_names()?.contains(*name) {
                return Err(EsError::IndexNotFound(name.to_string()));
            }
        }
    }
    if !options.allow_no_indices
        && !present.iter().any(|n| expr.matches(n))
        && !all_names()?.iter().any(|n| expr.matches(n))
    {
        let shown = if expr.all { "_all".to_string() } else { expr.includes.join(",") };
        return Err(EsError::IndexNotFound(shown));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("logs-*", "logs-app"));
        assert!(glob("*-app", "logs-app"));
        assert!(glob("l*s-*p", "logs-app"));
        assert!(!glob("logs-*", "metrics"));
        assert!(glob("*", "x"));
        assert!(!glob("a*a", "a"));
    }

    #[test]
    fn expressions() {
        let e = IndexExpr::parse("logs-*,-logs-debug");
        assert!(e.matches("logs-app") && !e.matches("logs-debug") && !e.matches("other"));
        let e = IndexExpr::parse("_all");
        assert!(e.all && e.matches("x"));
        let e = IndexExpr::parse("a,b*");
        assert_eq!(e.concrete().collect::<Vec<_>>(), vec!["a"]);
        assert!(IndexExpr::parse("").all);
        assert!(IndexExpr::parse("-x").matches("y"));
    }
}

// Pharos — query/src/elastic/indices.rs
