//! The routing view: an immutable picture of who serves which slot, built by the cluster state
//! machine after every change and read by the data path (one `Arc` load per command), so a
//! command is served, redirected (MOVED/ASK) or refused without touching the state machine.

use crate::NodeId;

/// Number of hash slots in Redis Cluster.
pub const SLOT_COUNT: usize = 16384;

/// `Routing::slot_owner` value of a slot no node serves.
pub const NO_OWNER: u16 = u16::MAX;

/// What the data path needs to know about one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteNode {
    pub id: NodeId,
    /// Announced IP (what clients are redirected to).
    pub ip: String,
    /// Client port (plain TCP); 0 when unknown.
    pub port: u16,
    /// Client TLS port; 0 when none.
    pub tls_port: u16,
    /// Announced hostname; empty when none.
    pub hostname: String,
    /// Index in [`Routing::nodes`] of the primary this node replicates, if it is a replica.
    pub primary: Option<u16>,
}

/// Who serves each slot, seen from one node.
#[derive(Clone, Debug)]
pub struct Routing {
    /// Index of this node in `nodes`.
    pub myself: u16,
    /// Every known node, this one included.
    pub nodes: Vec<RouteNode>,
    /// [`SLOT_COUNT`] entries: index in `nodes` of the slot's primary, or [`NO_OWNER`].
    pub slot_owner: Box<[u16]>,
    /// Slots this node is migrating away: (slot, index of the target node), sorted by slot.
    pub migrating: Vec<(u16, u16)>,
    /// Slots this node is importing: (slot, index of the source node), sorted by slot.
    pub importing: Vec<(u16, u16)>,
    /// `cluster_state:ok` (every slot served, or full coverage not required, and this node
    /// in the majority partition).
    pub ok: bool,
}

impl Routing {
    /// The node this view belongs to.
    pub fn myself(&self) -> &RouteNode {
        &self.nodes[usize::from(self.myself)]
    }

    /// The primary serving `slot`, if any.
    pub fn owner(&self, slot: u16) -> Option<&RouteNode> {
        let owner = *self.slot_owner.get(usize::from(slot))?;
        self.nodes.get(usize::from(owner))
    }

    /// Whether this node is the primary serving `slot`.
    pub fn owned_by_me(&self, slot: u16) -> bool {
        self.slot_owner.get(usize::from(slot)) == Some(&self.myself)
    }

    /// The node `slot` is being migrated to, when this node is migrating it.
    pub fn migrating_to(&self, slot: u16) -> Option<&RouteNode> {
        self.lookup(&self.migrating, slot)
    }

    /// The node `slot` is being imported from, when this node is importing it.
    pub fn importing_from(&self, slot: u16) -> Option<&RouteNode> {
        self.lookup(&self.importing, slot)
    }

    fn lookup(&self, pairs: &[(u16, u16)], slot: u16) -> Option<&RouteNode> {
        let at = pairs.binary_search_by_key(&slot, |&(s, _)| s).ok()?;
        self.nodes.get(usize::from(pairs[at].1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(fill: u8, port: u16, primary: Option<u16>) -> RouteNode {
        RouteNode {
            id: NodeId::parse(&[fill; 40]).expect("hex"),
            ip: "127.0.0.1".into(),
            port,
            tls_port: 0,
            hostname: String::new(),
            primary,
        }
    }

    #[test]
    fn lookups_follow_indexes() {
        let mut slot_owner = vec![NO_OWNER; SLOT_COUNT].into_boxed_slice();
        slot_owner[5] = 0;
        slot_owner[6] = 1;
        let routing = Routing {
            myself: 0,
            nodes: vec![node(b'a', 7000, None), node(b'b', 7001, None)],
            slot_owner,
            migrating: vec![(5, 1)],
            importing: vec![],
            ok: true,
        };
        assert!(routing.owned_by_me(5));
        assert_eq!(routing.owner(6).map(|n| n.port), Some(7001));
        assert_eq!(routing.owner(7), None);
        assert_eq!(routing.migrating_to(5).map(|n| n.port), Some(7001));
        assert_eq!(routing.migrating_to(6), None);
        assert_eq!(routing.importing_from(5), None);
        assert_eq!(routing.myself().port, 7000);
    }
}
