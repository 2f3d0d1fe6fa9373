//! Selecting series from an inverted index (label pair → sorted series references), shared by
//! the head and the blocks.

use super::matcher::Matcher;

/// An inverted index over interned label pairs.
pub(crate) trait LabelIndex {
    /// The id of an interned string, if it occurs.
    fn symbol_id(&self, s: &str) -> Option<u32>;
    /// The string of an id.
    fn symbol(&self, id: u32) -> &str;
    /// Value ids that occur with label name `name`.
    fn values_of(&self, name: u32) -> &[u32];
    /// Series carrying `name=value`, ascending.
    fn postings(&self, name: u32, value: u32) -> &[u32];
    /// Every series, ascending.
    fn all_series(&self) -> Vec<u32>;
}

/// Series matching every matcher, ascending. As Prometheus' `PostingsForMatchers`: a matcher that
/// matches the empty string also matches series without the label, so it subtracts the series
/// whose value fails it instead of selecting the ones whose value passes.
pub(crate) fn select<I: LabelIndex + ?Sized>(index: &I, matchers: &[Matcher]) -> Vec<u32> {
    let mut positive: Option<Vec<u32>> = None;
    let mut negative: Vec<u32> = Vec::new();
    for m in matchers {
        let name = index.symbol_id(&m.name);
        let values = name.map(|n| index.values_of(n)).unwrap_or(&[]);
        let union_where = |keep: &dyn Fn(&str) -> bool| -> Vec<u32> {
            let mut refs: Vec<u32> = Vec::new();
            let mut lists = 0;
            for &v in values {
                if keep(index.symbol(v)) {
                    if let Some(n) = name {
                        refs.extend_from_slice(index.postings(n, v));
                        lists += 1;
                    }
                }
            }
            if lists > 1 {
                refs.sort_unstable();
                refs.dedup();
            }
            refs
        };
        if m.matches("") {
            negative.extend(union_where(&|v| !m.matches(v)));
        } else {
            let refs = union_where(&|v| m.matches(v));
            positive = Some(match positive {
                None => refs,
                Some(acc) => intersect(&acc, &refs),
            });
        }
        if positive.as_ref().is_some_and(Vec::is_empty) {
            return Vec::new();
        }
    }
    let base = positive.unwrap_or_else(|| index.all_series());
    if negative.is_empty() {
        return base;
    }
    negative.sort_unstable();
    negative.dedup();
    subtract(&base, &negative)
}

/// Sorted intersection.
pub fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j, mut out) = (0, 0, Vec::with_capacity(a.len().min(b.len())));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Sorted difference `a - b`.
pub fn subtract(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut j = 0;
    a.iter()
        .copied()
        .filter(|x| {
            while j < b.len() && b[j] < *x {
                j += 1;
            }
            !(j < b.len() && b[j] == *x)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[3, 4, 5]), vec![3, 5]);
        assert_eq!(subtract(&[1, 3, 5, 7], &[3, 7, 9]), vec![1, 5]);
        assert_eq!(intersect(&[], &[1]), Vec::<u32>::new());
    }
}

// Pharos — storage/src/tsdb/postings.rs
