//! Node IDs: 40 lowercase hexadecimal characters (160 random bits), as Redis Cluster names
//! its nodes in nodes.conf, CLUSTER NODES and redirections.

use std::fmt;

/// Length of a node ID in characters.
pub const NODE_ID_LEN: usize = 40;

/// A node's name, fixed for its lifetime (a node keeps it across restarts and address changes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId([u8; NODE_ID_LEN]);

impl NodeId {
    /// A fresh random ID.
    pub fn random(rng: &mut impl rand::Rng) -> NodeId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = [0u8; NODE_ID_LEN];
        for byte in &mut id {
            *byte = HEX[rng.gen_range(0..16)];
        }
        NodeId(id)
    }

    /// Parses an ID; `None` unless `text` is exactly 40 hexadecimal characters (either case,
    /// stored lowercase).
    pub fn parse(text: &[u8]) -> Option<NodeId> {
        let id: [u8; NODE_ID_LEN] = text.try_into().ok()?;
        if !id.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        Some(NodeId(id.map(|b| b.to_ascii_lowercase())))
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The ID's bytes.
    pub fn as_bytes(&self) -> &[u8; NODE_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn random_ids_parse_back() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let id = NodeId::random(&mut rng);
        assert_eq!(NodeId::parse(id.as_str().as_bytes()), Some(id));
        assert_eq!(id.as_str().len(), NODE_ID_LEN);
    }

    #[test]
    fn parse_rejects_wrong_length_and_non_hex() {
        assert_eq!(NodeId::parse(b"abc"), None);
        assert_eq!(NodeId::parse(&[b'g'; NODE_ID_LEN]), None);
        let upper = NodeId::parse(&[b'A'; NODE_ID_LEN]).map(|id| id.to_string());
        assert_eq!(upper.as_deref(), Some("a".repeat(NODE_ID_LEN).as_str()));
    }
}
