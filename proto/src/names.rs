//! Prometheus' classic name rules, as every API and file format that checks names uses them
//! (rule files, `alertmanager.yml`, posted alerts, Loki labels, Pharos' configuration, and the
//! PromQL printer deciding whether a name needs quotes).

/// `[a-zA-Z_][a-zA-Z0-9_]*`: a label name as Prometheus and Alertmanager validate it classically.
pub fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`: a metric name (recording rules, bare selectors).
pub fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_names() {
        assert!(is_label_name("_a1") && is_label_name("job") && is_label_name("A"));
        assert!(!is_label_name("") && !is_label_name("1a") && !is_label_name("a:b") && !is_label_name("é"));
        assert!(is_metric_name("job:up:sum") && is_metric_name(":a") && is_metric_name("up"));
        assert!(!is_metric_name("") && !is_metric_name("1a") && !is_metric_name("a-b") && !is_metric_name("é"));
    }
}

// Pharos — proto/src/names.rs
