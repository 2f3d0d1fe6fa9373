//! Configuration files in YAML as Pharos reads them all (its own configuration, Prometheus rule
//! files, `alertmanager.yml`): strict schemas whose errors carry the line, the column and the
//! full key path, and [`YamlText`], a scalar read as text the way Go's YAML decoder reads string
//! fields.

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Where and why a YAML document did not parse or did not fit its schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    /// `key.path: reason`, or the reason alone for the document root.
    pub message: String,
}

/// Parse `text` into `T`; `None` for an empty document (nothing but comments). A first pass into a
/// generic value catches malformed YAML and duplicate keys; the second names the key path.
pub fn from_yaml<T: DeserializeOwned>(text: &str) -> Result<Option<T>, YamlError> {
    let located = |e: &serde_yaml_ng::Error| e.location().map_or((1, 1), |l| (l.line(), l.column()));
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| {
        let (line, column) = located(&e);
        YamlError { line, column, message: strip_location(&e.to_string()) }
    })?;
    if value.is_null() {
        return Ok(None);
    }
    serde_path_to_error::deserialize(serde_yaml_ng::Deserializer::from_str(text)).map(Some).map_err(|e| {
        let (line, column) = located(e.inner());
        // serde_yaml names only the enclosing map; serde_path_to_error knows the full key path.
        let inner = strip_location(&e.inner().to_string());
        let reason = inner.split_once(": ").filter(|(p, _)| !p.contains(' ')).map_or(inner.as_str(), |(_, r)| r);
        let key = e.path().to_string();
        let message = if key == "." { reason.to_string() } else { format!("{key}: {reason}") };
        YamlError { line, column, message }
    })
}

/// serde_yaml appends " at line L column C" to its messages; Pharos puts the location first.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// A YAML scalar read as text, as Go's YAML decoder does for string fields (`expr: 5` is "5",
/// `~` is ""). Sequences and mappings are refused.
#[derive(Debug, Default, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YamlText(pub String);

impl<'de> Deserialize<'de> for YamlText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde_yaml_ng::Value;
        match Value::deserialize(deserializer)? {
            Value::String(s) => Ok(YamlText(s)),
            Value::Number(n) => Ok(YamlText(n.to_string())),
            Value::Bool(b) => Ok(YamlText(b.to_string())),
            Value::Null => Ok(YamlText(String::new())),
            _ => Err(serde::de::Error::custom("expected a string, found a sequence or mapping")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        outer: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        name: YamlText,
    }

    #[test]
    fn errors_are_located_with_the_key_path() {
        let err = from_yaml::<Doc>("outer:\n  nme: x\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 3));
        assert!(err.message.starts_with("outer.nme: unknown field `nme`"), "{}", err.message);
        let err = from_yaml::<Doc>("outer: [\n").unwrap_err();
        assert!(err.line >= 1 && !err.message.contains(" at line "), "{err:?}");
        assert!(from_yaml::<Doc>("# only a comment\n").unwrap().is_none());
    }

    #[test]
    fn scalars_are_text() {
        let doc = from_yaml::<Doc>("outer: {name: 5}").unwrap().unwrap();
        assert_eq!(doc.outer.name, YamlText("5".into()));
        let doc = from_yaml::<Doc>("outer: {name: true}").unwrap().unwrap();
        assert_eq!(doc.outer.name.0, "true");
        assert!(from_yaml::<Doc>("outer: {name: [a]}").unwrap_err().message.contains("expected a string"));
    }
}

// Pharos — proto/src/yaml_file.rs
