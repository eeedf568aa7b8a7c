//! Cluster mode end to end with six real servers on loopback: formed with the CLUSTER commands
//! `redis-cli --cluster create` sends, used through redirects by the `redis` crate's cluster
//! client, then healed without a command typed: a killed primary's replica takes over, the old
//! primary comes back (on another port, as a restarted pod does) and rejoins as a replica,
//! every node learns its new address from its ID, and a spare replica moves to a primary that
//! lost its own (replica migration).

mod common;

use std::time::{Duration, Instant};

use common::{free_port, wait_until, TestServer};
use redis::Commands;

/// A cluster node: its server, its directory (nodes.conf) and its bus port.
struct Node {
    server: TestServer,
    dir: tempfile::TempDir,
}

impl Node {
    fn start() -> Node {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = start_in(&dir);
        Node { server, dir }
    }

    fn restart(self) -> Node {
        let Node { server, dir } = self;
        drop(server);
        let server = start_in(&dir);
        Node { server, dir }
    }

    fn cmd(&self, line: &str) -> String {
        self.server.raw().cmd(line)
    }

    fn id(&self) -> String {
        self.cmd("CLUSTER MYID")
            .lines()
            .nth(1)
            .unwrap_or("")
            .to_owned()
    }

    fn info_field(&self, field: &str) -> String {
        let info = self.cmd("CLUSTER INFO");
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or("")
            .trim()
            .to_owned()
    }

    fn role(&self) -> String {
        self.cmd("ROLE").lines().nth(2).unwrap_or("").to_owned()
    }
}

fn start_in(dir: &tempfile::TempDir) -> TestServer {
    let bus = free_port().to_string();
    let dir = dir.path().to_str().expect("utf-8 path").to_owned();
    TestServer::start(&[
        "--cluster-enabled",
        "yes",
        "--cluster-node-timeout",
        "1000",
        "--cluster-port",
        &bus,
        "--dir",
        &dir,
        "--appendonly",
        "no",
    ])
}

/// Three primaries with a third of the slots each, then a replica for each, as
/// `redis-cli --cluster create --cluster-replicas 1` does it.
fn form_cluster() -> Vec<Node> {
    form_cluster_with([0, 1, 2])
}

/// Nodes 0 to 2 become primaries with a third of the slots each; nodes 3 to 5 replicate
/// the primaries `primary_of` names.
fn form_cluster_with(primary_of: [usize; 3]) -> Vec<Node> {
    let nodes: Vec<Node> = (0..6).map(|_| Node::start()).collect();
    let ranges = [(0, 5460), (5461, 10922), (10923, 16383)];
    for (node, (start, end)) in nodes.iter().zip(ranges) {
        assert_eq!(
            node.cmd(&format!("CLUSTER ADDSLOTSRANGE {start} {end}")),
            "+OK"
        );
    }
    for (epoch, node) in nodes.iter().enumerate() {
        let set = node.cmd(&format!("CLUSTER SET-CONFIG-EPOCH {}", epoch + 1));
        assert_eq!(set, "+OK");
    }
    for node in &nodes[1..] {
        let port = node.server.port;
        let bus = node.cmd("CONFIG GET cluster-port");
        let bus = bus.lines().nth(4).unwrap_or("0").to_owned();
        let meet = nodes[0].cmd(&format!("CLUSTER MEET 127.0.0.1 {port} {bus}"));
        assert_eq!(meet, "+OK");
    }
    wait_until(
        "all nodes to know each other",
        Duration::from_secs(20),
        || {
            nodes.iter().all(|n| {
                n.info_field("cluster_known_nodes") == "6"
                    && !n.cmd("CLUSTER NODES").contains("handshake")
            })
        },
    );
    for (replica, primary) in nodes[3..].iter().zip(primary_of) {
        let replicate = replica.cmd(&format!("CLUSTER REPLICATE {}", nodes[primary].id()));
        assert_eq!(replicate, "+OK");
    }
    wait_until(
        "cluster_state:ok everywhere",
        Duration::from_secs(20),
        || nodes.iter().all(|n| n.info_field("cluster_state") == "ok"),
    );
    wait_until("replicas to sync", Duration::from_secs(20), || {
        nodes[3..].iter().all(|n| n.role() == "slave")
    });
    nodes
}

fn cluster_client(nodes: &[Node]) -> redis::cluster::ClusterConnection {
    let seeds: Vec<String> = nodes
        .iter()
        .map(|n| format!("redis://127.0.0.1:{}/", n.server.port))
        .collect();
    redis::cluster::ClusterClientBuilder::new(seeds)
        .retries(30)
        .build()
        .expect("cluster client")
        .get_connection()
        .expect("cluster connection")
}

/// The index of the node serving `slot` as a primary.
fn owner_of(nodes: &[Node], slot: u16) -> usize {
    let moved = nodes[0].cmd(&format!("CLUSTER COUNTKEYSINSLOT {slot}"));
    assert!(moved.starts_with(':'), "{moved}");
    let slots = nodes[0].cmd("CLUSTER NODES");
    let text = slots.lines().skip(1).collect::<Vec<_>>().join("\n");
    let id = text
        .lines()
        .find(|line| {
            line.contains("master")
                && line.split(' ').skip(8).any(|range| {
                    let (start, end) = range.split_once('-').unwrap_or((range, range));
                    let (Ok(start), Ok(end)) = (start.parse::<u16>(), end.parse::<u16>()) else {
                        return false;
                    };
                    (start..=end).contains(&slot)
                })
        })
        .and_then(|line| line.split(' ').next())
        .expect("an owner")
        .to_owned();
    nodes
        .iter()
        .position(|n| n.id() == id)
        .expect("owner among nodes")
}

#[test]
fn cluster_forms_redirects_fails_over_and_heals() {
    let mut nodes = form_cluster();
    // Without cluster-announce-ip each node learned its own IP from its peers' connections.
    for node in &nodes {
        let me = format!("127.0.0.1:{}@", node.server.port);
        let listing = node.cmd("CLUSTER NODES");
        assert!(
            listing
                .lines()
                .any(|l| l.contains("myself") && l.contains(&me)),
            "{listing}"
        );
    }
    // PUBLISH on one node reaches subscribers on every node, over the bus.
    let mut subscriber = nodes[4].server.raw();
    subscriber.cmd("SUBSCRIBE news");
    assert_eq!(nodes[0].cmd("PUBLISH news hello"), ":0");
    assert_eq!(
        subscriber.reply().trim_end(),
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello"
    );
    let mut client = cluster_client(&nodes);
    for (key, value) in [("a", 737), ("b", 767), ("c", 777), ("d", 787)] {
        let _: () = client.set(key, value).expect("SET through redirects");
    }
    assert_eq!(client.get::<_, i64>("c").expect("GET c"), 777);
    assert_eq!(client.incr::<_, _, i64>("d", 1).expect("INCR d"), 788);
    // Without the cluster client the owner of another slot answers MOVED.
    let c_owner = owner_of(&nodes, 7365);
    let other = (c_owner + 1) % 3;
    let moved = nodes[other].cmd("GET c");
    let c_port = nodes[c_owner].server.port;
    assert_eq!(moved, format!("-MOVED 7365 127.0.0.1:{c_port}"));

    // Kill the primary of slot 7365: its replica takes over.
    let replica = c_owner + 3;
    let old_primary_id = nodes[c_owner].id();
    let killed = nodes.remove(c_owner);
    let killed_dir = killed.dir;
    drop(killed.server);
    let replica = if replica > c_owner {
        replica - 1
    } else {
        replica
    };
    let started = Instant::now();
    wait_until("the replica's promotion", Duration::from_secs(15), || {
        nodes[replica].role() == "master"
    });
    let promotion = started.elapsed();
    assert!(
        promotion < Duration::from_secs(10),
        "promotion took {promotion:?}"
    );
    wait_until(
        "cluster_state:ok after failover",
        Duration::from_secs(15),
        || nodes.iter().all(|n| n.info_field("cluster_state") == "ok"),
    );
    let mut client = cluster_client(&nodes);
    assert_eq!(
        client.get::<_, i64>("c").expect("GET c after failover"),
        777
    );
    let _: () = client.set("c", 778).expect("write on the new primary");

    // The old primary comes back with its nodes.conf, on another port: it rejoins as a
    // replica of the new primary, and the others learn its new address from its ID.
    let back = Node {
        server: start_in(&killed_dir),
        dir: killed_dir,
    };
    assert_eq!(back.id(), old_primary_id);
    wait_until(
        "the old primary to become a replica",
        Duration::from_secs(15),
        || back.role() == "slave",
    );
    let new_port = back.server.port;
    wait_until(
        "every node to learn the new port",
        Duration::from_secs(15),
        || {
            nodes.iter().all(|n| {
                n.cmd("CLUSTER NODES")
                    .lines()
                    .any(|l| l.starts_with(&old_primary_id) && l.contains(&format!(":{new_port}@")))
            })
        },
    );
    let mut raw = back.server.raw();
    assert_eq!(raw.cmd("READONLY"), "+OK");
    wait_until(
        "the rejoined replica to hold the data",
        Duration::from_secs(15),
        || raw.cmd("GET c") == "$3\r\n778",
    );
    nodes.push(back);

    // A replica restarted on another port is recognised too.
    let moved_replica = nodes.remove(0).restart();
    let id = moved_replica.id();
    let port = moved_replica.server.port;
    wait_until(
        "the address update of a restarted node",
        Duration::from_secs(15),
        || {
            nodes.iter().all(|n| {
                n.cmd("CLUSTER NODES")
                    .lines()
                    .any(|l| l.starts_with(&id) && l.contains(&format!(":{port}@")))
            })
        },
    );
    nodes.push(moved_replica);
    wait_until(
        "cluster_state:ok at the end",
        Duration::from_secs(15),
        || nodes.iter().all(|n| n.info_field("cluster_state") == "ok"),
    );
}

#[test]
fn cluster_commands_answer_like_redis() {
    let node = Node::start();
    assert_eq!(node.info_field("cluster_state"), "fail");
    assert_eq!(node.info_field("cluster_known_nodes"), "1");
    assert_eq!(node.cmd("CLUSTER ADDSLOTS 0 1 2"), "+OK");
    assert_eq!(
        node.cmd("CLUSTER ADDSLOTS 1"),
        "-ERR Slot 1 is already busy"
    );
    assert_eq!(
        node.cmd("CLUSTER ADDSLOTS 16384"),
        "-ERR Invalid or out of range slot"
    );
    assert_eq!(
        node.cmd("CLUSTER ADDSLOTSRANGE 10 5"),
        "-ERR start slot number 10 is greater than end slot number 5"
    );
    assert_eq!(node.cmd("CLUSTER DELSLOTS 2"), "+OK");
    assert_eq!(
        node.cmd("CLUSTER DELSLOTS 2"),
        "-ERR Slot 2 is already unassigned"
    );
    assert_eq!(
        node.cmd("CLUSTER FORGET 0000000000000000000000000000000000000000"),
        "-ERR Unknown node 0000000000000000000000000000000000000000"
    );
    let id = node.id();
    assert_eq!(id.len(), 40);
    assert_eq!(
        node.cmd(&format!("CLUSTER FORGET {id}")),
        "-ERR I tried hard but I can't forget myself..."
    );
    assert_eq!(
        node.cmd("CLUSTER MEET 300.1.1.1 7000"),
        "-ERR Invalid node address specified: 300.1.1.1:7000"
    );
    let nodes = node.cmd("CLUSTER NODES");
    assert!(nodes.contains(&format!("{id} ")), "{nodes}");
    assert!(
        nodes.contains("myself,master - 0 0 0 connected 0-1"),
        "{nodes}"
    );
    assert!(node.cmd("CLUSTER BUMPEPOCH").starts_with("+BUMPED 1"));
    assert_eq!(node.cmd("CLUSTER SAVECONFIG"), "+OK");
    let conf = std::fs::read_to_string(node.dir.path().join("nodes.conf")).expect("nodes.conf");
    assert!(
        conf.contains(&id) && conf.contains("vars currentEpoch 1"),
        "{conf}"
    );
    assert_eq!(node.cmd("CLUSTER KEYSLOT somekey"), ":11058");
    // Keys of unserved slots are refused.
    assert_eq!(node.cmd("GET somekey"), "-CLUSTERDOWN Hash slot not served");
    assert_eq!(
        node.cmd("SELECT 1"),
        "-ERR SELECT is not allowed in cluster mode"
    );
    assert!(node.cmd("INFO cluster").contains("cluster_enabled:1"));
}

/// Waits until `nodes[index]` reports the primary role.
fn wait_primary_role(nodes: &[Node], index: usize) {
    wait_until("a promotion", Duration::from_secs(15), || {
        nodes[index].role() == "master"
    });
}

#[test]
fn the_same_shard_fails_over_again_and_again() {
    let mut nodes = form_cluster();
    let mut client = cluster_client(&nodes);
    let _: () = client.set("c", 1).expect("SET c");
    for round in 0..3 {
        // Kill whoever serves slot 7365 now; its replica (the previous victim, back as a
        // replica, after the first round) takes over.
        let owner = owner_of(&nodes, 7365);
        let owner_id = nodes[owner].id();
        let replica = nodes
            .iter()
            .position(|n| {
                n.cmd("ROLE").lines().nth(2) == Some("slave")
                    && n.cmd("CLUSTER NODES")
                        .lines()
                        .any(|l| l.contains("myself") && l.contains(&owner_id))
            })
            .expect("the owner's replica");
        let victim = nodes.remove(owner);
        let replica = if replica > owner {
            replica - 1
        } else {
            replica
        };
        let dir = victim.dir;
        drop(victim.server);
        wait_primary_role(&nodes, replica);
        wait_until("cluster_state:ok", Duration::from_secs(15), || {
            nodes.iter().all(|n| n.info_field("cluster_state") == "ok")
        });
        let mut client = cluster_client(&nodes);
        let value: i64 = client.incr("c", 1).expect("INCR after failover");
        assert_eq!(value, round + 2, "no acknowledged increment lost");
        let back = Node {
            server: start_in(&dir),
            dir,
        };
        wait_until(
            "the victim to rejoin as a replica",
            Duration::from_secs(15),
            || back.role() == "slave",
        );
        wait_until(
            "the rejoined replica to sync",
            Duration::from_secs(15),
            || {
                back.server
                    .raw()
                    .cmd("INFO replication")
                    .contains("master_link_status:up")
            },
        );
        nodes.push(back);
    }
}

#[test]
fn a_spare_replica_moves_to_a_primary_left_without_one() {
    // Node 0 has two replicas (3 and 4), node 2 one (5), node 1 none.
    let mut nodes = form_cluster_with([0, 0, 2]);
    let (well_served_id, orphan_id) = (nodes[0].id(), nodes[2].id());
    drop(nodes.remove(5));
    // Past cluster-migration-barrier (1), one of node 0's replicas moves to node 2, which had
    // a replica and lost it; node 1, which never had one, gets none.
    let follows = |node: &Node, primary_id: &str| {
        node.cmd("CLUSTER NODES")
            .lines()
            .any(|l| l.contains("myself") && l.contains(primary_id))
    };
    wait_until("a replica to migrate", Duration::from_secs(30), || {
        nodes[3..].iter().any(|n| follows(n, &orphan_id))
    });
    let stayed = nodes[3..]
        .iter()
        .filter(|n| follows(n, &well_served_id))
        .count();
    assert_eq!(stayed, 1, "node 0 keeps one replica");
    let migrated = nodes[3..]
        .iter()
        .find(|n| follows(n, &orphan_id))
        .expect("the migrated replica");
    // It replicates its new primary's data: key a (slot 15495) is node 2's.
    assert_eq!(owner_of(&nodes, 15495), 2);
    let mut client = cluster_client(&nodes);
    let _: () = client.set("a", "after-migration").expect("SET a");
    wait_until(
        "the migrated replica to have a",
        Duration::from_secs(15),
        || {
            let mut raw = migrated.server.raw();
            raw.cmd("READONLY");
            raw.cmd("GET a").contains("after-migration")
        },
    );
}
