//! The `zset` value type (skeleton: its family's helper replaces this file).

/// A zset value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SortedSetValue {
    len: usize,
}

impl SortedSetValue {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no element (a key never holds an empty collection).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// OBJECT ENCODING's name for the current representation.
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }
}
