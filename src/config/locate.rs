//! Maps between byte offsets, key paths and line numbers, from toml's span-keeping document tree.
//! Validation works on plain structs and names keys by path; this puts the line back.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::path;

/// One key (or array element) of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Debug)]
struct Entry {
    path: String,
    segs: Vec<Seg>,
    /// Span of the key (or, for an array element, of the element).
    key: Range<usize>,
    /// Span of the key and its value together.
    whole: Range<usize>,
}

/// Every key of a document with where it is.
#[derive(Debug)]
pub struct Locator {
    line_starts: Vec<usize>,
    entries: Vec<Entry>,
}

impl Locator {
    /// Indexes `root`, a tree parsed from `text`.
    pub fn new(text: &str, root: &DeTable<'_>) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut locator = Locator {
            line_starts,
            entries: Vec::new(),
        };
        locator.walk_table(root, "", &[]);
        locator
    }

    fn walk_table(&mut self, table: &DeTable<'_>, at: &str, segs: &[Seg]) {
        for (key, value) in table.iter() {
            let path = path::join(at, key.get_ref());
            let segs = [segs, &[Seg::Key(key.get_ref().to_string())]].concat();
            let (k, v) = (key.span(), value.span());
            let whole = k.start.min(v.start)..k.end.max(v.end);
            self.entries.push(Entry {
                path: path.clone(),
                segs: segs.clone(),
                key: k,
                whole,
            });
            self.walk_value(value.get_ref(), &path, &segs);
        }
    }

    fn walk_value(&mut self, value: &DeValue<'_>, at: &str, segs: &[Seg]) {
        match value {
            DeValue::Table(table) => self.walk_table(table, at, segs),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("{at}[{i}]");
                    let segs = [segs, &[Seg::Index(i)]].concat();
                    let span = item.span();
                    self.entries.push(Entry {
                        path: path.clone(),
                        segs: segs.clone(),
                        key: span.clone(),
                        whole: span,
                    });
                    self.walk_value(item.get_ref(), &path, &segs);
                }
            }
            _ => {}
        }
    }

    /// 1-based line of a byte offset.
    pub fn line_of_offset(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset)
    }

    /// Line of the key at `key_path`, else of the nearest enclosing key that is in the file.
    pub fn line_of(&self, key_path: &str) -> Option<usize> {
        let mut at = Some(key_path);
        while let Some(p) = at {
            if let Some(e) = self.entries.iter().find(|e| e.path == p) {
                return Some(self.line_of_offset(e.key.start));
            }
            at = path::parent(p);
        }
        None
    }

    /// The innermost key whose key or value covers `offset`, as (path, segments).
    pub fn key_at(&self, offset: usize) -> Option<(&str, &[Seg])> {
        self.entries
            .iter()
            .filter(|e| e.whole.contains(&offset) || e.key.contains(&offset))
            .max_by_key(|e| e.segs.len())
            .map(|e| (e.path.as_str(), e.segs.as_slice()))
    }
}

/// Removes the key at `segs` from the tree (used to skip an unknown key and keep checking).
pub fn remove(root: &mut DeTable<'_>, segs: &[Seg]) -> bool {
    let Some((last, init)) = segs.split_last() else {
        return false;
    };
    let mut value: Option<&mut DeValue<'_>> = None;
    let mut table: Option<&mut DeTable<'_>> = Some(root);
    for seg in init {
        let next = match (seg, table.take(), value.take()) {
            (Seg::Key(k), Some(t), _) => t.get_mut(k.as_str()).map(|v| v.get_mut()),
            (Seg::Index(i), _, Some(DeValue::Array(a))) => a.get_mut(*i).map(|v| v.get_mut()),
            _ => None,
        };
        match next {
            Some(DeValue::Table(t)) => table = Some(t),
            Some(v) => value = Some(v),
            None => return false,
        }
    }
    match (last, table) {
        (Seg::Key(k), Some(t)) => t.remove(k.as_str()).is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "[a]\nx = 1\n\n[a.b]\ny = [1, 2]\n\n[[c]]\nz = 1\n[[c]]\nz = 2\n";

    #[test]
    fn finds_lines_by_path() {
        let root = DeTable::parse(DOC).unwrap();
        let loc = Locator::new(DOC, root.get_ref());
        assert_eq!(loc.line_of("a.x"), Some(2));
        assert_eq!(loc.line_of("a.b.y"), Some(5));
        assert_eq!(loc.line_of("c[1].z"), Some(10));
        assert_eq!(loc.line_of("a.b.missing"), Some(4));
    }

    #[test]
    fn finds_key_at_offset_and_removes_it() {
        let mut root = DeTable::parse(DOC).unwrap().into_inner();
        let loc = Locator::new(DOC, &root);
        let offset = DOC.find("y =").unwrap();
        let (path, segs) = loc.key_at(offset).unwrap();
        assert_eq!(path, "a.b.y");
        let segs = segs.to_vec();
        assert!(remove(&mut root, &segs));
        assert!(!remove(&mut root, &segs));
    }
}
