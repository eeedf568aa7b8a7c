//! The `hash` value type (skeleton: its family's helper replaces this file).

/// A hash value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HashValue {
    len: usize,
}

impl HashValue {
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
