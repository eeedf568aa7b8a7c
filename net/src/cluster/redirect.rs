//! Whether this node serves a command, and if not, what it answers: Redis Cluster's rules
//! (Redis's getNodeByQuery), as a pure function of the routing, the client's flags and which
//! keys exist here, so every rule is unit-tested with hand-built routings.
//!
//! In order:
//! 1. A command without keys (channels, for sharded pub/sub) is served.
//! 2. Every key of the command (of every queued command, for EXEC) must hash to one slot:
//!    `CROSSSLOT`. The slot must have an owner: `CLUSTERDOWN Hash slot not served`.
//! 3. Cluster state `fail`: `CLUSTERDOWN The cluster is down`, unless reads are allowed when
//!    down (`cluster-allow-reads-when-down`; writes then get `... and only accepts read
//!    commands`) or the command is sharded pub/sub and `cluster-allow-pubsubshard-when-down`.
//! 4. MIGRATE of a slot being migrated or imported runs here.
//! 5. Owned here but being migrated, and some keys missing: `ASK` to the target when all are
//!    missing, `TRYAGAIN` when only some are.
//! 6. Being imported, after ASKING (or RESTORE-ASKING): served, except a multi-key command
//!    with keys missing: `TRYAGAIN`.
//! 7. On a replica of the slot's primary, a read after READONLY (or sharded pub/sub): served.
//! 8. Owned elsewhere: `MOVED` to the owner.

use bytes::Bytes;
use slotkv_cluster::Routing;
use slotkv_engine::command::{CommandSpec, Flags};
use slotkv_engine::slot::key_slot;

use super::EndpointType;

/// The settings the check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub allow_reads_when_down: bool,
    pub allow_pubsubshard_when_down: bool,
    pub preferred_endpoint: EndpointType,
    /// Name nodes' TLS ports (a TLS client of a `tls-cluster yes` node, as Redis does).
    pub tls_ports: bool,
}

/// The client's cluster flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Client {
    /// ASKING was sent.
    pub asking: bool,
    /// READONLY was sent.
    pub readonly: bool,
}

/// What is checked: one command, or the queue an EXEC runs.
#[derive(Debug, Clone, Copy)]
pub enum Request<'a> {
    Single(&'static CommandSpec, &'a [Bytes]),
    Exec(&'a [(&'static CommandSpec, &'a [Bytes])]),
}

/// Why a command is not served here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    CrossSlot,
    /// Keys of a slot in migration are partly here, partly at the other node.
    TryAgain,
    /// The slot has no owner.
    SlotUnbound,
    /// The cluster state is `fail`.
    Down,
    /// The cluster state is `fail` and only reads are served.
    DownReadOnly,
    /// The slot's owner is another node (index in [`Routing::nodes`]).
    Moved {
        slot: u16,
        node: u16,
    },
    /// The slot is migrating to another node and the keys are not here.
    Ask {
        slot: u16,
        node: u16,
    },
}

impl Refusal {
    /// The error reply, as Redis words it.
    pub fn message(self, routing: &Routing, policy: Policy) -> String {
        match self {
            Refusal::CrossSlot => "CROSSSLOT Keys in request don't hash to the same slot".into(),
            Refusal::TryAgain => "TRYAGAIN Multiple keys request during rehashing of slot".into(),
            Refusal::SlotUnbound => "CLUSTERDOWN Hash slot not served".into(),
            Refusal::Down => "CLUSTERDOWN The cluster is down".into(),
            Refusal::DownReadOnly => {
                "CLUSTERDOWN The cluster is down and only accepts read commands".into()
            }
            Refusal::Moved { slot, node } => {
                format!("MOVED {slot} {}", endpoint(routing, node, policy))
            }
            Refusal::Ask { slot, node } => {
                format!("ASK {slot} {}", endpoint(routing, node, policy))
            }
        }
    }
}

/// `<endpoint>:<port>` of node `index`, the endpoint chosen by `cluster-preferred-endpoint-type`.
fn endpoint(routing: &Routing, index: u16, policy: Policy) -> String {
    let Some(node) = routing.nodes.get(usize::from(index)) else {
        return "?:0".to_owned();
    };
    let host = match policy.preferred_endpoint {
        EndpointType::Ip => node.ip.as_str(),
        EndpointType::Hostname if node.hostname.is_empty() => "?",
        EndpointType::Hostname => node.hostname.as_str(),
        EndpointType::UnknownEndpoint => "",
    };
    let port = match (policy.tls_ports, node.tls_port) {
        (true, tls_port) if tls_port != 0 => tls_port,
        _ => node.port,
    };
    format!("{host}:{port}")
}

/// Whether a command is sharded pub/sub, whose channels are routed like keys.
fn is_pubsubshard(spec: &CommandSpec) -> bool {
    matches!(spec.name, "ssubscribe" | "sunsubscribe" | "spublish")
}

/// The slot of a request's keys and what the check learned walking them.
#[derive(Debug, Default)]
struct KeyWalk {
    slot: Option<u16>,
    /// More than one distinct key.
    multiple_keys: bool,
    /// Keys present and missing here, counted only for a slot in migration.
    existing: usize,
    missing: usize,
}

/// Decides whether this node serves `request`. `exists` says whether a key is present in
/// database 0 here; it is asked only for slots being migrated or imported.
pub fn redirect(
    routing: &Routing,
    policy: &Policy,
    client: Client,
    request: Request<'_>,
    exists: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<(), Refusal> {
    let single = match request {
        Request::Single(spec, _) => Some(spec),
        Request::Exec(_) => None,
    };
    let pubsubshard = single.is_some_and(is_pubsubshard);
    let walk = walk_keys(routing, request, pubsubshard, exists)?;
    let Some(slot) = walk.slot else {
        return Ok(());
    };
    let is_write = match request {
        Request::Single(spec, _) => spec.flags.contains(Flags::WRITE),
        Request::Exec(queued) => queued
            .iter()
            .any(|(spec, _)| spec.flags.contains(Flags::WRITE)),
    };
    if !routing.ok {
        if pubsubshard {
            if !policy.allow_pubsubshard_when_down {
                return Err(Refusal::Down);
            }
        } else if !policy.allow_reads_when_down {
            return Err(Refusal::Down);
        } else if is_write {
            return Err(Refusal::DownReadOnly);
        }
    }
    let migrating_to = routing
        .migrating
        .binary_search_by_key(&slot, |&(s, _)| s)
        .ok()
        .and_then(|at| routing.migrating.get(at))
        .map(|&(_, node)| node)
        .filter(|_| routing.owned_by_me(slot));
    let importing = routing.importing_from(slot).is_some();
    if (migrating_to.is_some() || importing) && single.is_some_and(|spec| spec.name == "migrate") {
        return Ok(());
    }
    if let Some(target) = migrating_to.filter(|_| walk.missing > 0) {
        return Err(if walk.existing > 0 {
            Refusal::TryAgain
        } else {
            Refusal::Ask { slot, node: target }
        });
    }
    let asking_command = single.is_some_and(|spec| spec.flags.contains(Flags::ASKING));
    if importing && (client.asking || asking_command) {
        return if walk.multiple_keys && walk.missing > 0 {
            Err(Refusal::TryAgain)
        } else {
            Ok(())
        };
    }
    let owner = routing
        .slot_owner
        .get(usize::from(slot))
        .copied()
        .ok_or(Refusal::SlotUnbound)?;
    let myself = routing.myself();
    if (client.readonly || pubsubshard) && !is_write && myself.primary == Some(owner) {
        return Ok(());
    }
    if owner != routing.myself {
        return Err(Refusal::Moved { slot, node: owner });
    }
    Ok(())
}

/// Whether a client blocked on `keys` (all of one slot, checked when it blocked) must stop
/// waiting after a routing change, as Redis checks its blocked clients: the cluster failed,
/// or the slot lost its owner, or it is served elsewhere and not imported here.
pub fn blocked_refusal(routing: &Routing, keys: &[Bytes]) -> Option<Refusal> {
    if !routing.ok {
        return Some(Refusal::Down);
    }
    let slot = key_slot(keys.first()?);
    let owner = routing.slot_owner.get(usize::from(slot)).copied()?;
    if routing.owner(slot).is_none() {
        return Some(Refusal::SlotUnbound);
    }
    let elsewhere = owner != routing.myself && routing.importing_from(slot).is_none();
    elsewhere.then_some(Refusal::Moved { slot, node: owner })
}

/// Walks every key of the request: one slot for all (CROSSSLOT otherwise), an owner for it
/// (else the slot is unbound), and, for a slot in migration, which keys are here.
fn walk_keys(
    routing: &Routing,
    request: Request<'_>,
    pubsubshard: bool,
    exists: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<KeyWalk, Refusal> {
    let single;
    let commands = match request {
        Request::Single(spec, args) => {
            single = [(spec, args)];
            &single[..]
        }
        Request::Exec(queued) => queued,
    };
    let mut walk = KeyWalk::default();
    let mut first_key: Option<&[u8]> = None;
    let mut in_migration = false;
    for (spec, args) in commands {
        for key in spec
            .key_positions(args)
            .into_iter()
            .filter_map(|at| args.get(at))
        {
            let slot = key_slot(key);
            match (walk.slot, first_key) {
                (Some(first_slot), _) if first_slot != slot => return Err(Refusal::CrossSlot),
                (Some(_), Some(first)) => walk.multiple_keys |= first != key.as_ref(),
                _ => {
                    if routing.owner(slot).is_none() {
                        return Err(Refusal::SlotUnbound);
                    }
                    walk.slot = Some(slot);
                    first_key = Some(key);
                    in_migration = (routing.owned_by_me(slot)
                        && routing.migrating_to(slot).is_some())
                        || routing.importing_from(slot).is_some();
                }
            }
            if in_migration && !pubsubshard {
                if exists(key) {
                    walk.existing += 1;
                } else {
                    walk.missing += 1;
                }
            }
        }
    }
    Ok(walk)
}

#[cfg(test)]
mod tests {
    use slotkv_cluster::routing::{NO_OWNER, SLOT_COUNT};
    use slotkv_cluster::{NodeId, RouteNode};
    use slotkv_engine::command::CommandTable;

    use super::*;

    /// Nodes: 0 = myself (a primary unless `replica_of` is set), 1 = a primary at
    /// 10.0.0.2:7001 (hostname b.example), 2 = a primary at 10.0.0.3:7002 (no hostname).
    fn routing(replica_of: Option<u16>) -> Routing {
        let node = |fill: u8, ip: &str, port: u16, hostname: &str, primary| RouteNode {
            id: NodeId::parse(&[fill; 40]).expect("hex"),
            ip: ip.into(),
            port,
            tls_port: 0,
            hostname: hostname.into(),
            primary,
        };
        Routing {
            myself: 0,
            nodes: vec![
                node(b'a', "10.0.0.1", 7000, "a.example", replica_of),
                node(b'b', "10.0.0.2", 7001, "b.example", None),
                node(b'c', "10.0.0.3", 7002, "", None),
            ],
            slot_owner: vec![NO_OWNER; SLOT_COUNT].into_boxed_slice(),
            migrating: Vec::new(),
            importing: Vec::new(),
            ok: true,
        }
    }

    fn own(routing: &mut Routing, key: &str, node: u16) -> u16 {
        let slot = key_slot(key.as_bytes());
        routing.slot_owner[usize::from(slot)] = node;
        slot
    }

    const POLICY: Policy = Policy {
        allow_reads_when_down: false,
        allow_pubsubshard_when_down: true,
        preferred_endpoint: EndpointType::Ip,
        tls_ports: false,
    };

    fn args(line: &str) -> Vec<Bytes> {
        line.split(' ')
            .map(|word| Bytes::copy_from_slice(word.as_bytes()))
            .collect()
    }

    fn spec(args: &[Bytes]) -> &'static CommandSpec {
        CommandTable::global().resolve(args).expect("known command")
    }

    /// The check of one command line, with `present` the keys that exist here; the error
    /// text or "served".
    fn check_with(
        routing: &Routing,
        policy: Policy,
        client: Client,
        line: &str,
        present: &[&str],
    ) -> String {
        let args = args(line);
        let mut exists = |key: &[u8]| present.iter().any(|p| p.as_bytes() == key);
        match redirect(
            routing,
            &policy,
            client,
            Request::Single(spec(&args), &args),
            &mut exists,
        ) {
            Ok(()) => "served".into(),
            Err(refusal) => refusal.message(routing, policy),
        }
    }

    fn check(routing: &Routing, line: &str) -> String {
        check_with(routing, POLICY, Client::default(), line, &[])
    }

    #[test]
    fn commands_without_keys_are_always_served() {
        let mut down = routing(None);
        down.ok = false;
        assert_eq!(check(&down, "PING"), "served");
        assert_eq!(check(&down, "DBSIZE"), "served");
        assert_eq!(check(&down, "SUNSUBSCRIBE"), "served");
    }

    #[test]
    fn own_slots_are_served_and_others_moved() {
        let mut r = routing(None);
        own(&mut r, "mine", 0);
        let theirs = own(&mut r, "theirs", 1);
        assert_eq!(check(&r, "GET mine"), "served");
        assert_eq!(
            check(&r, "SET theirs v"),
            format!("MOVED {theirs} 10.0.0.2:7001")
        );
    }

    #[test]
    fn unowned_slots_are_not_served() {
        let r = routing(None);
        assert_eq!(check(&r, "GET k"), "CLUSTERDOWN Hash slot not served");
    }

    #[test]
    fn keys_of_several_slots_are_refused() {
        let mut r = routing(None);
        own(&mut r, "a", 0);
        own(&mut r, "b", 0);
        assert_eq!(
            check(&r, "MGET a b"),
            "CROSSSLOT Keys in request don't hash to the same slot"
        );
        assert_eq!(check(&r, "MGET {a}1 {a}2 a"), "served");
        // The first key's slot decides, even when a later key's slot has no owner.
        let unowned = "c";
        assert_eq!(
            check(&r, &format!("MSET a 1 {unowned} 2")),
            "CROSSSLOT Keys in request don't hash to the same slot"
        );
    }

    #[test]
    fn a_transaction_is_checked_as_a_whole() {
        let mut r = routing(None);
        own(&mut r, "a", 0);
        own(&mut r, "b", 0);
        let first = args("SET a 1");
        let second = args("GET {a}x");
        let third = args("GET b");
        let mut none = |_: &[u8]| false;
        let mut run = |queued: &[(&'static CommandSpec, &[Bytes])]| {
            redirect(
                &r,
                &POLICY,
                Client::default(),
                Request::Exec(queued),
                &mut none,
            )
        };
        assert_eq!(
            run(&[(spec(&first), &first), (spec(&second), &second)]),
            Ok(())
        );
        assert_eq!(
            run(&[(spec(&first), &first), (spec(&third), &third)]),
            Err(Refusal::CrossSlot)
        );
        assert_eq!(run(&[]), Ok(()));
    }

    #[test]
    fn a_failed_cluster_refuses_keys_unless_reads_are_allowed() {
        let mut r = routing(None);
        own(&mut r, "k", 0);
        r.ok = false;
        assert_eq!(check(&r, "GET k"), "CLUSTERDOWN The cluster is down");
        let reads = Policy {
            allow_reads_when_down: true,
            ..POLICY
        };
        let client = Client::default();
        assert_eq!(check_with(&r, reads, client, "GET k", &[]), "served");
        assert_eq!(
            check_with(&r, reads, client, "SET k v", &[]),
            "CLUSTERDOWN The cluster is down and only accepts read commands"
        );
        // Sharded pub/sub follows its own setting.
        assert_eq!(check(&r, "SPUBLISH k m"), "served");
        let no_pubsub = Policy {
            allow_pubsubshard_when_down: false,
            ..POLICY
        };
        assert_eq!(
            check_with(&r, no_pubsub, client, "SPUBLISH k m", &[]),
            "CLUSTERDOWN The cluster is down"
        );
    }

    #[test]
    fn a_migrating_slot_asks_for_missing_keys() {
        let mut r = routing(None);
        let slot = own(&mut r, "{m}a", 0);
        r.migrating = vec![(slot, 2)];
        let client = Client::default();
        assert_eq!(
            check_with(&r, POLICY, client, "GET {m}a", &["{m}a"]),
            "served"
        );
        assert_eq!(
            check_with(&r, POLICY, client, "GET {m}a", &[]),
            format!("ASK {slot} 10.0.0.3:7002")
        );
        assert_eq!(
            check_with(&r, POLICY, client, "MGET {m}a {m}b", &[]),
            format!("ASK {slot} 10.0.0.3:7002")
        );
        assert_eq!(
            check_with(&r, POLICY, client, "MGET {m}a {m}b", &["{m}a"]),
            "TRYAGAIN Multiple keys request during rehashing of slot"
        );
        assert_eq!(
            check_with(&r, POLICY, client, "MGET {m}a {m}b", &["{m}a", "{m}b"]),
            "served"
        );
        // MIGRATE moves keys of an open slot from here, whatever is missing.
        assert_eq!(
            check_with(&r, POLICY, client, "MIGRATE h 1 {m}a 0 10", &[]),
            "served"
        );
    }

    #[test]
    fn an_importing_slot_serves_only_after_asking() {
        let mut r = routing(None);
        let slot = own(&mut r, "{i}a", 1);
        r.importing = vec![(slot, 1)];
        let plain = Client::default();
        let asking = Client {
            asking: true,
            ..plain
        };
        assert_eq!(
            check_with(&r, POLICY, plain, "SET {i}a v", &[]),
            format!("MOVED {slot} 10.0.0.2:7001")
        );
        assert_eq!(check_with(&r, POLICY, asking, "SET {i}a v", &[]), "served");
        assert_eq!(
            check_with(&r, POLICY, plain, "RESTORE-ASKING {i}a 0 payload", &[]),
            "served"
        );
        assert_eq!(
            check_with(&r, POLICY, asking, "MGET {i}a {i}b", &["{i}a"]),
            "TRYAGAIN Multiple keys request during rehashing of slot"
        );
        assert_eq!(
            check_with(&r, POLICY, asking, "MGET {i}a {i}a", &[]),
            "served"
        );
        assert_eq!(
            check_with(&r, POLICY, asking, "MGET {i}a {i}b", &["{i}a", "{i}b"]),
            "served"
        );
    }

    #[test]
    fn a_replica_serves_reads_after_readonly() {
        let mut r = routing(Some(1));
        let slot = own(&mut r, "k", 1);
        let readonly = Client {
            readonly: true,
            ..Client::default()
        };
        let moved = format!("MOVED {slot} 10.0.0.2:7001");
        assert_eq!(check(&r, "GET k"), moved);
        assert_eq!(check_with(&r, POLICY, readonly, "GET k", &[]), "served");
        assert_eq!(check_with(&r, POLICY, readonly, "SET k v", &[]), moved);
        // Sharded pub/sub is served by the replica without READONLY.
        assert_eq!(check(&r, "SSUBSCRIBE k"), "served");
        // Only for the primary this node replicates.
        let other = own(&mut r, "other", 2);
        assert_eq!(
            check_with(&r, POLICY, readonly, "GET other", &[]),
            format!("MOVED {other} 10.0.0.3:7002")
        );
    }

    #[test]
    fn sharded_channels_route_by_their_slot() {
        let mut r = routing(None);
        let slot = own(&mut r, "news", 1);
        own(&mut r, "mine", 0);
        assert_eq!(
            check(&r, "SPUBLISH news m"),
            format!("MOVED {slot} 10.0.0.2:7001")
        );
        assert_eq!(check(&r, "SSUBSCRIBE mine"), "served");
        assert_eq!(
            check(&r, "SSUBSCRIBE mine news"),
            "CROSSSLOT Keys in request don't hash to the same slot"
        );
    }

    #[test]
    fn blocked_clients_stop_waiting_when_their_slot_leaves() {
        let mut r = routing(None);
        let slot = own(&mut r, "list", 0);
        let keys = [Bytes::from_static(b"list")];
        assert_eq!(blocked_refusal(&r, &keys), None);
        assert_eq!(blocked_refusal(&r, &[]), None);
        r.importing = vec![(slot, 1)];
        r.slot_owner[usize::from(slot)] = 1;
        assert_eq!(blocked_refusal(&r, &keys), None);
        r.importing.clear();
        assert_eq!(
            blocked_refusal(&r, &keys),
            Some(Refusal::Moved { slot, node: 1 })
        );
        r.slot_owner[usize::from(slot)] = NO_OWNER;
        assert_eq!(blocked_refusal(&r, &keys), Some(Refusal::SlotUnbound));
        r.ok = false;
        assert_eq!(blocked_refusal(&r, &keys), Some(Refusal::Down));
    }

    #[test]
    fn the_endpoint_follows_the_preferred_type() {
        let mut r = routing(None);
        let b = own(&mut r, "b", 1);
        let c = own(&mut r, "c", 2);
        let with = |kind| Policy {
            preferred_endpoint: kind,
            ..POLICY
        };
        let client = Client::default();
        let hostname = with(EndpointType::Hostname);
        assert_eq!(
            check_with(&r, hostname, client, "GET b", &[]),
            format!("MOVED {b} b.example:7001")
        );
        assert_eq!(
            check_with(&r, hostname, client, "GET c", &[]),
            format!("MOVED {c} ?:7002")
        );
        assert_eq!(
            check_with(
                &r,
                with(EndpointType::UnknownEndpoint),
                client,
                "GET b",
                &[]
            ),
            format!("MOVED {b} :7001")
        );
    }

    #[test]
    fn tls_clients_are_sent_to_tls_ports_when_known() {
        let mut r = routing(None);
        let b = own(&mut r, "b", 1);
        let c = own(&mut r, "c", 2);
        r.nodes[1].tls_port = 8001;
        let tls = Policy {
            tls_ports: true,
            ..POLICY
        };
        let client = Client::default();
        assert_eq!(
            check_with(&r, tls, client, "GET b", &[]),
            format!("MOVED {b} 10.0.0.2:8001")
        );
        assert_eq!(check(&r, "GET b"), format!("MOVED {b} 10.0.0.2:7001"));
        // A node that announced no TLS port is named by its plain port.
        assert_eq!(
            check_with(&r, tls, client, "GET c", &[]),
            format!("MOVED {c} 10.0.0.3:7002")
        );
    }
}
