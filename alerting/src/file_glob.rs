//! File globs as Go's `filepath.Glob` reads them (`*`, `?`, `[…]` within one path component),
//! for the `rule_files` of Pharos' configuration and the `templates` of `alertmanager.yml`.

use std::path::{Path, PathBuf};

/// Go's `filepath.Match` of one path component.
fn component_matches(pattern: &[char], name: &[char]) -> bool {
    match pattern.first() {
        None => name.is_empty(),
        Some('*') => (0..=name.len()).any(|skip| component_matches(&pattern[1..], &name[skip..])),
        Some('?') => !name.is_empty() && component_matches(&pattern[1..], &name[1..]),
        Some('[') => {
            let Some(c) = name.first() else { return false };
            let Some(close) = pattern.iter().skip(2).position(|&p| p == ']').map(|p| p + 2) else { return false };
            let mut class = &pattern[1..close];
            let negate = class.first() == Some(&'^');
            if negate {
                class = &class[1..];
            }
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= (class[i]..=class[i + 2]).contains(c);
                    i += 3;
                } else {
                    hit |= class[i] == *c;
                    i += 1;
                }
            }
            hit != negate && component_matches(&pattern[close + 1..], &name[1..])
        }
        Some('\\') if pattern.len() > 1 => {
            name.first() == Some(&pattern[1]) && component_matches(&pattern[2..], &name[1..])
        }
        Some(p) => name.first() == Some(p) && component_matches(&pattern[1..], &name[1..]),
    }
}

/// The files matching a glob pattern, sorted.
pub fn expand_glob(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let wild = |s: &str| s.contains(['*', '?', '[']);
    let absolute = pattern.starts_with('/');
    let mut paths = vec![PathBuf::from(if absolute { "/" } else { "" })];
    let components: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    for (i, component) in components.iter().enumerate() {
        let last = i + 1 == components.len();
        let mut next = Vec::new();
        for base in &paths {
            if !wild(component) {
                let candidate = base.join(component);
                if candidate.exists() {
                    next.push(candidate);
                }
                continue;
            }
            let dir = if base.as_os_str().is_empty() { Path::new(".") } else { base.as_path() };
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let pattern: Vec<char> = component.chars().collect();
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| component_matches(&pattern, &n.chars().collect::<Vec<_>>()))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        paths = next;
        if last {
            paths.retain(|p| p.is_file());
        }
    }
    if components.is_empty() {
        return Err(format!("empty file pattern {pattern:?}"));
    }
    Ok(paths)
}

// Pharos — alerting/src/file_glob.rs
