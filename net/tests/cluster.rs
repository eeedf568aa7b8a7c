//! Cluster mode's data path end to end: in-process servers (`Server::bind`) with
//! `cluster-enabled yes`, whose routing the test installs through `ClusterView::set_routing`
//! as the cluster driver will, driven over TCP with raw RESP: MOVED, ASK and ASKING, TRYAGAIN,
//! CROSSSLOT, CLUSTERDOWN, READONLY on a replica, transactions, the slot-key commands, a key
//! migrated between two nodes with MIGRATE, and the refusals outside cluster mode.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{RawClient, TestServer};
use slotkv_cluster::routing::{NO_OWNER, SLOT_COUNT};
use slotkv_cluster::{NodeId, RouteNode, Routing};
use slotkv_engine::slot::key_slot;
use slotkv_net::config::{ClusterSettings, Settings};
use slotkv_net::server::{Server, Shared};

/// A cluster-enabled server running in this process on its own runtime.
struct Node {
    shared: Arc<Shared>,
    port: u16,
    runtime: Option<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start() -> Node {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temporary directory");
        for _ in 0..5 {
            let port = common::free_port();
            let settings = Settings {
                port,
                bind: vec!["127.0.0.1".into()],
                dir: dir.path().to_path_buf(),
                save_points: Vec::new(),
                cluster: ClusterSettings {
                    enabled: true,
                    ..ClusterSettings::default()
                },
                ..Settings::default()
            };
            // Another test may take the probed port first: try another.
            let Ok(server) = runtime.block_on(Server::bind(settings, None)) else {
                continue;
            };
            let shared = server.shared().clone();
            runtime.spawn(server.run());
            return Node {
                shared,
                port,
                runtime: Some(runtime),
                _dir: dir,
            };
        }
        panic!("no free port");
    }

    fn client(&self) -> RawClient {
        RawClient::connect(self.port)
    }

    fn install(&self, routing: Routing) {
        self.shared
            .cluster
            .as_ref()
            .expect("cluster mode")
            .set_routing(Arc::new(routing));
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.shared.request_shutdown();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

fn node(fill: u8, ip: &str, port: u16, primary: Option<u16>) -> RouteNode {
    RouteNode {
        id: NodeId::parse(&[fill; 40]).expect("hex"),
        ip: ip.into(),
        port,
        tls_port: 0,
        hostname: String::new(),
        primary,
    }
}

/// Node 0 is the server under test (on `port`), node 1 a primary at 10.0.0.2:7001, node 2 a
/// primary at 10.0.0.3:7002; slots are assigned by `owners` (key, node index).
fn routing(port: u16, primary: Option<u16>, owners: &[(&str, u16)]) -> Routing {
    let mut slot_owner = vec![NO_OWNER; SLOT_COUNT].into_boxed_slice();
    for (key, owner) in owners {
        slot_owner[usize::from(key_slot(key.as_bytes()))] = *owner;
    }
    Routing {
        myself: 0,
        nodes: vec![
            node(b'a', "127.0.0.1", port, primary),
            node(b'b', "10.0.0.2", 7001, None),
            node(b'c', "10.0.0.3", 7002, None),
        ],
        slot_owner,
        migrating: Vec::new(),
        importing: Vec::new(),
        ok: true,
    }
}

/// DUMP's payload, read as bytes.
fn dump(c: &mut RawClient, key: &str) -> Vec<u8> {
    c.send(format!("*2\r\n$4\r\nDUMP\r\n${}\r\n{key}\r\n", key.len()).as_bytes());
    let header = c.line();
    let len: usize = header.trim_end()[1..].parse().expect("bulk length");
    let mut payload = c.exact(len + 2);
    payload.truncate(len);
    payload
}

fn slot(key: &str) -> u16 {
    key_slot(key.as_bytes())
}

#[test]
fn a_fresh_node_serves_no_slot_and_has_one_database() {
    let node = Node::start();
    let mut c = node.client();
    assert!(c.cmd("INFO cluster").contains("cluster_enabled:1"));
    assert_eq!(c.cmd("GET k"), "-CLUSTERDOWN Hash slot not served");
    assert_eq!(c.cmd("PING"), "+PONG");
    assert_eq!(c.cmd("CLUSTER KEYSLOT foo"), ":12182");
    assert_eq!(
        c.cmd("SELECT 1"),
        "-ERR SELECT is not allowed in cluster mode"
    );
    assert_eq!(c.cmd("SELECT 0"), "+OK");
    assert_eq!(
        c.cmd("SWAPDB 0 1"),
        "-ERR SWAPDB is not allowed in cluster mode"
    );
    node.install(routing(node.port, None, &[("{k}", 0)]));
    assert_eq!(
        c.cmd("COPY {k}a {k}b DB 1"),
        "-ERR Copying to another database is not allowed in cluster mode"
    );
    assert_eq!(
        c.cmd("CONFIG GET cluster-enabled"),
        "*2\r\n$15\r\ncluster-enabled\r\n$3\r\nyes"
    );
}

#[test]
fn keys_are_served_moved_or_refused_by_their_slot() {
    let node = Node::start();
    node.install(routing(
        node.port,
        None,
        &[("mine", 0), ("alsomine", 0), ("theirs", 1)],
    ));
    let mut c = node.client();
    assert_eq!(c.cmd("SET mine 1"), "+OK");
    assert_eq!(c.cmd("GET mine"), "$1\r\n1");
    let theirs = slot("theirs");
    assert_eq!(
        c.cmd("GET theirs"),
        format!("-MOVED {theirs} 10.0.0.2:7001")
    );
    assert_eq!(
        c.cmd("MGET mine alsomine"),
        "-CROSSSLOT Keys in request don't hash to the same slot"
    );
    assert_eq!(c.cmd("GET nobody"), "-CLUSTERDOWN Hash slot not served");
    // The endpoint follows cluster-preferred-endpoint-type.
    assert_eq!(
        c.cmd("CONFIG SET cluster-preferred-endpoint-type unknown-endpoint"),
        "+OK"
    );
    assert_eq!(c.cmd("GET theirs"), format!("-MOVED {theirs} :7001"));
    // A failed cluster refuses keys, or only writes when reads are allowed.
    let mut down = routing(node.port, None, &[("mine", 0)]);
    down.ok = false;
    node.install(down);
    assert_eq!(c.cmd("GET mine"), "-CLUSTERDOWN The cluster is down");
    assert_eq!(c.cmd("CONFIG SET cluster-allow-reads-when-down yes"), "+OK");
    assert_eq!(c.cmd("GET mine"), "$1\r\n1");
    assert_eq!(
        c.cmd("SET mine 2"),
        "-CLUSTERDOWN The cluster is down and only accepts read commands"
    );
}

#[test]
fn migrating_and_importing_slots_answer_ask_asking_and_tryagain() {
    let node = Node::start();
    let mut stable = routing(node.port, None, &[("{out}", 0), ("mine", 0)]);
    node.install(stable.clone());
    let mut c = node.client();
    assert_eq!(c.cmd("SET {out}here v"), "+OK");
    let out = slot("{out}");
    let incoming = slot("{in}");
    stable.migrating = vec![(out, 2)];
    stable.slot_owner[usize::from(incoming)] = 1;
    stable.importing = vec![(incoming, 1)];
    node.install(stable);
    // Migrating away: served while the keys are here, ASK when none is, TRYAGAIN when some are.
    assert_eq!(c.cmd("GET {out}here"), "$1\r\nv");
    assert_eq!(c.cmd("GET {out}gone"), format!("-ASK {out} 10.0.0.3:7002"));
    assert_eq!(
        c.cmd("MGET {out}here {out}gone"),
        "-TRYAGAIN Multiple keys request during rehashing of slot"
    );
    // Importing: MOVED, unless ASKING came just before.
    let moved = format!("-MOVED {incoming} 10.0.0.2:7001");
    assert_eq!(c.cmd("GET {in}k"), moved);
    assert_eq!(c.cmd("ASKING"), "+OK");
    assert_eq!(c.cmd("SET {in}k v"), "+OK");
    assert_eq!(c.cmd("GET {in}k"), moved);
    assert_eq!(c.cmd("ASKING"), "+OK");
    assert_eq!(
        c.cmd("MGET {in}k {in}missing"),
        "-TRYAGAIN Multiple keys request during rehashing of slot"
    );
    // ASKING lasts through a transaction, until EXEC.
    assert_eq!(c.cmd("ASKING"), "+OK");
    assert_eq!(c.cmd("MULTI"), "+OK");
    assert_eq!(c.cmd("GET {in}k"), "+QUEUED");
    assert_eq!(c.cmd("EXEC"), "*1\r\n$1\r\nv");
    assert_eq!(c.cmd("GET {in}k"), moved);
    // RESTORE-ASKING needs no ASKING.
    let payload = dump(&mut c, "{out}here");
    assert_eq!(
        c.call(&[b"RESTORE-ASKING", b"{in}r", b"0", &payload]),
        "+OK"
    );
    assert_eq!(c.call(&[b"RESTORE", b"{in}s", b"0", &payload]), moved);
}

#[test]
fn transactions_are_checked_when_queued_and_at_exec() {
    let node = Node::start();
    node.install(routing(
        node.port,
        None,
        &[("mine", 0), ("alsomine", 0), ("theirs", 1)],
    ));
    let mut c = node.client();
    assert_eq!(c.cmd("MULTI"), "+OK");
    assert_eq!(c.cmd("SET mine 1"), "+QUEUED");
    assert_eq!(
        c.cmd("GET theirs"),
        format!("-MOVED {} 10.0.0.2:7001", slot("theirs"))
    );
    assert_eq!(
        c.cmd("EXEC"),
        "-EXECABORT Transaction discarded because of previous errors."
    );
    assert_eq!(c.cmd("MULTI"), "+OK");
    assert_eq!(c.cmd("SET mine 1"), "+QUEUED");
    assert_eq!(c.cmd("SET alsomine 2"), "+QUEUED");
    assert_eq!(
        c.cmd("EXEC"),
        "-CROSSSLOT Keys in request don't hash to the same slot"
    );
    assert_eq!(c.cmd("EXEC"), "-ERR EXEC without MULTI");
    assert_eq!(c.cmd("EXISTS mine"), ":0");
}

#[test]
fn a_replica_serves_reads_after_readonly() {
    let node = Node::start();
    node.install(routing(node.port, Some(1), &[("k", 1)]));
    let mut c = node.client();
    let moved = format!("-MOVED {} 10.0.0.2:7001", slot("k"));
    assert_eq!(c.cmd("GET k"), moved);
    assert_eq!(c.cmd("READONLY"), "+OK");
    assert!(c.cmd("CLIENT INFO").contains(" flags=r "));
    assert_eq!(c.cmd("GET k"), "$-1");
    assert_eq!(c.cmd("SET k v"), moved);
    assert_eq!(c.cmd("READWRITE"), "+OK");
    assert!(c.cmd("CLIENT INFO").contains(" flags=N "));
    assert_eq!(c.cmd("GET k"), moved);
}

#[test]
fn a_blocked_client_is_redirected_when_its_slot_moves() {
    let node = Node::start();
    node.install(routing(node.port, None, &[("list", 0)]));
    let mut blocked = node.client();
    blocked.send(b"*3\r\n$5\r\nBLPOP\r\n$4\r\nlist\r\n$1\r\n0\r\n");
    std::thread::sleep(Duration::from_millis(100));
    // Unrelated routing changes leave it waiting.
    node.install(routing(node.port, None, &[("list", 0), ("other", 1)]));
    std::thread::sleep(Duration::from_millis(100));
    node.install(routing(node.port, None, &[("list", 1)]));
    assert_eq!(
        blocked.reply().trim_end(),
        format!("-MOVED {} 10.0.0.2:7001", slot("list"))
    );
    assert_eq!(blocked.cmd("PING"), "+PONG");
}

#[test]
fn slot_keys_are_counted_and_listed() {
    let node = Node::start();
    node.install(routing(node.port, None, &[("{t}", 0)]));
    let mut c = node.client();
    c.cmd("MSET {t}a 1 {t}b 2 {t}c 3");
    let tag = slot("{t}");
    assert_eq!(c.cmd(&format!("CLUSTER COUNTKEYSINSLOT {tag}")), ":3");
    assert_eq!(c.cmd("CLUSTER COUNTKEYSINSLOT 0"), ":0");
    let listed = c.cmd(&format!("CLUSTER GETKEYSINSLOT {tag} 2"));
    assert!(listed.starts_with("*2\r\n"), "{listed}");
    assert_eq!(c.cmd("CLUSTER COUNTKEYSINSLOT 16384"), "-ERR Invalid slot");
    assert_eq!(c.cmd("CLUSTER COUNTKEYSINSLOT -1"), "-ERR Invalid slot");
    assert_eq!(
        c.cmd("CLUSTER COUNTKEYSINSLOT x"),
        "-ERR value is not an integer or out of range"
    );
    assert_eq!(
        c.cmd("CLUSTER GETKEYSINSLOT 1 -1"),
        "-ERR Invalid slot or number of keys"
    );
    assert_eq!(
        c.cmd("CLUSTER GETKEYSINSLOT 16384 1"),
        "-ERR Invalid slot or number of keys"
    );
}

#[test]
fn a_key_migrates_between_two_nodes_with_restore_asking() {
    let (a, b) = (Node::start(), Node::start());
    let moving = slot("{mv}");
    // A owns the slot and migrates it to B, which imports it from A.
    let nodes = vec![
        node(b'a', "127.0.0.1", a.port, None),
        node(b'b', "127.0.0.1", b.port, None),
    ];
    let mut slot_owner = vec![NO_OWNER; SLOT_COUNT].into_boxed_slice();
    slot_owner[usize::from(moving)] = 0;
    let mut seen_by_a = Routing {
        myself: 0,
        nodes: nodes.clone(),
        slot_owner: slot_owner.clone(),
        migrating: Vec::new(),
        importing: Vec::new(),
        ok: true,
    };
    let seen_by_b = Routing {
        myself: 1,
        nodes,
        slot_owner,
        migrating: Vec::new(),
        importing: vec![(moving, 0)],
        ok: true,
    };
    let (mut on_a, mut on_b) = (a.client(), b.client());
    a.install(seen_by_a.clone());
    assert_eq!(on_a.cmd("SET {mv}k v"), "+OK");
    // Once the slot is migrating, a new key of it belongs at B.
    seen_by_a.migrating = vec![(moving, 1)];
    a.install(seen_by_a);
    b.install(seen_by_b);
    assert_eq!(
        on_a.cmd("SET {mv}new v"),
        format!("-ASK {moving} 127.0.0.1:{}", b.port)
    );
    let keys = format!("CLUSTER GETKEYSINSLOT {moving} 10");
    assert_eq!(on_a.cmd(&keys), "*1\r\n$5\r\n{mv}k");
    assert_eq!(
        on_a.cmd(&format!("MIGRATE 127.0.0.1 {} {{mv}}k 0 5000", b.port)),
        "+OK"
    );
    assert_eq!(on_a.cmd(&keys), "*0");
    // The key is at B now: A sends its clients there, B serves them after ASKING.
    assert_eq!(
        on_a.cmd("GET {mv}k"),
        format!("-ASK {moving} 127.0.0.1:{}", b.port)
    );
    assert_eq!(
        on_b.cmd("GET {mv}k"),
        format!("-MOVED {moving} 127.0.0.1:{}", a.port)
    );
    assert_eq!(on_b.cmd("ASKING"), "+OK");
    assert_eq!(on_b.cmd("GET {mv}k"), "$1\r\nv");
}

#[test]
fn cluster_commands_need_cluster_mode() {
    let server = TestServer::start(&[]);
    let mut c = server.raw();
    for command in [
        "READONLY",
        "READWRITE",
        "ASKING",
        "CLUSTER COUNTKEYSINSLOT 1",
    ] {
        assert_eq!(
            c.cmd(command),
            "-ERR This instance has cluster support disabled",
            "{command}"
        );
    }
    assert!(c.cmd("INFO cluster").contains("cluster_enabled:0"));
    assert_eq!(c.cmd("SELECT 1"), "+OK");
}
