//! CLUSTER subcommands, their Redis error replies, nodes.conf and the text renderers, on
//! nodes wired together by a tiny in-test message pump.

use slotkv_cluster::{
    BumpEpoch, Cluster, ClusterConfig, ClusterError, Endpoint, FailoverKind, NodeId, Output,
    SetSlot,
};

const NOW: u64 = 5_000_000;

fn endpoint(i: usize) -> Endpoint {
    Endpoint {
        ip: format!("127.0.0.{}", i + 1),
        port: 7000,
        tls_port: 0,
        bus_port: 17000,
        hostname: String::new(),
    }
}

fn id(fill: u8) -> NodeId {
    NodeId::parse(&[fill; 40]).expect("hex")
}

fn node(i: usize) -> Cluster {
    let fill = b"abcdef"[i];
    Cluster::new(id(fill), ClusterConfig::default(), endpoint(i), NOW)
}

/// Delivers every Send between the nodes (by IP) until nobody sends; returns other outputs.
fn pump(nodes: &mut [Cluster], now: u64) -> Vec<(usize, Output)> {
    let mut others = Vec::new();
    for _ in 0..50 {
        let mut sent = false;
        for i in 0..nodes.len() {
            for out in nodes[i].take_outputs() {
                match out {
                    Output::Send { addr, msg, .. } => {
                        let mut bytes = Vec::new();
                        msg.encode(&mut bytes);
                        let (msg, _) = slotkv_cluster::Message::decode(&bytes).unwrap().unwrap();
                        let to = (0..nodes.len()).find(|&j| endpoint(j).ip == addr.ip);
                        if let Some(to) = to {
                            nodes[to].handle_message(now, &endpoint(i).ip, msg);
                            sent = true;
                        }
                    }
                    other => others.push((i, other)),
                }
            }
        }
        if !sent {
            break;
        }
    }
    others
}

fn pair() -> Vec<Cluster> {
    let mut nodes = vec![node(0), node(1)];
    nodes[0].meet(NOW, "127.0.0.2", 7000, None).unwrap();
    pump(&mut nodes, NOW);
    nodes
}

#[test]
fn meet_joins_two_nodes_under_their_real_ids() {
    let nodes = pair();
    assert!(nodes[0]
        .node(&id(b'b'))
        .is_some_and(|n| !n.handshake && n.ip == "127.0.0.2"));
    assert!(nodes[1]
        .node(&id(b'a'))
        .is_some_and(|n| !n.handshake && n.bus_port == 17000));
    assert_eq!(nodes[0].nodes().count(), 2);
    assert!(nodes[0].info_text().contains("cluster_known_nodes:2\r\n"));
    assert!(nodes[0]
        .info_text()
        .contains("cluster_stats_messages_meet_sent:1\r\n"));
    assert!(nodes[1]
        .info_text()
        .contains("cluster_stats_messages_meet_received:1\r\n"));
}

#[test]
fn error_replies_are_redis_strings() {
    let mut nodes = pair();
    let a = &mut nodes[0];
    let unknown_c = format!("ERR I don't know about node {}", "c".repeat(40));
    let cases: Vec<(Result<(), ClusterError>, &str)> = vec![
        (a.add_slots(NOW, &[16384]), "ERR Invalid or out of range slot"),
        (a.add_slots(NOW, &[1, 1]), "ERR Slot 1 specified multiple times"),
        (a.add_slots(NOW, &[1, 2]), ""),
        (a.add_slots(NOW, &[2]), "ERR Slot 2 is already busy"),
        (a.del_slots(NOW, &[3]), "ERR Slot 3 is already unassigned"),
        (a.forget(NOW, &"a".repeat(40)), "ERR I tried hard but I can't forget myself..."),
        (a.forget(NOW, "nope"), "ERR Unknown node nope"),
        (a.meet(NOW, "300.1.1.1", 7000, None), "ERR Invalid node address specified: 300.1.1.1:7000"),
        (a.meet(NOW, "10.0.0.1", 60000, None), "ERR Invalid node address specified: 10.0.0.1:60000"),
        (a.replicate(NOW, &"a".repeat(40), false), "ERR Can't replicate myself"),
        (
            a.replicate(NOW, &"b".repeat(40), false),
            "ERR To set a master the node must be empty and without assigned slots.",
        ),
        (a.set_config_epoch(NOW, 5), "ERR The user can assign a config epoch only when the node does not know any other node."),
        (a.failover(NOW, FailoverKind::Default), "ERR You should send CLUSTER FAILOVER to a replica"),
        (a.set_slot(NOW, 9, SetSlot::Migrating(id(b'b')), false), "ERR I'm not the owner of hash slot 9"),
        (a.set_slot(NOW, 1, SetSlot::Importing(id(b'b')), false), "ERR I'm already the owner of hash slot 1"),
        (a.set_slot(NOW, 1, SetSlot::Migrating(id(b'c')), false), &unknown_c),
        (
            a.set_slot(NOW, 1, SetSlot::Node(id(b'b')), true),
            "ERR Can't assign hashslot 1 to a different node while I still hold keys for this hash slot.",
        ),
        (a.reset(NOW, false, true), "ERR CLUSTER RESET can't be called with master nodes containing keys"),
        (a.flush_slots(NOW, false), "ERR DB must be empty to perform CLUSTER FLUSHSLOTS."),
    ];
    for (result, expected) in cases {
        match result {
            Ok(()) => assert_eq!(expected, "", "unexpected success"),
            Err(e) => assert_eq!(e.to_string(), expected),
        }
    }
    assert_eq!(
        a.count_failure_reports(NOW, "zz").unwrap_err().to_string(),
        "ERR Unknown node zz"
    );
    let mut b = node(1);
    b.set_config_epoch(NOW, 3).unwrap();
    assert_eq!(
        b.set_config_epoch(NOW, 4).unwrap_err().to_string(),
        "ERR Node config epoch is already non-zero"
    );
}

#[test]
fn replicate_forget_and_replica_errors() {
    let mut nodes = pair();
    nodes[0]
        .add_slots(NOW, &(0..16384).collect::<Vec<_>>())
        .unwrap();
    pump(&mut nodes, NOW);
    nodes[1].replicate(NOW, &"a".repeat(40), false).unwrap();
    let outs = pump(&mut nodes, NOW);
    assert!(outs.iter().any(|(i, o)| *i == 1
        && *o
            == Output::Replicate {
                primary: id(b'a'),
                ip: "127.0.0.1".into(),
                port: 7000
            }));
    let b = &mut nodes[1];
    assert_eq!(
        b.forget(NOW, &"a".repeat(40)).unwrap_err().to_string(),
        "ERR Can't forget my master!"
    );
    assert_eq!(
        b.set_slot(NOW, 1, SetSlot::Stable, false)
            .unwrap_err()
            .to_string(),
        "ERR Please use SETSLOT only with masters."
    );
    assert_eq!(nodes[0].replicas(&"a".repeat(40)).unwrap().len(), 1);
    assert!(nodes[0].replicas(&"a".repeat(40)).unwrap()[0].contains(" slave aaaa"));
    assert_eq!(
        nodes[0].replicas(&"b".repeat(40)).unwrap_err().to_string(),
        "ERR The specified node is not a master"
    );
    assert_eq!(
        nodes[0]
            .replicate(NOW, &"b".repeat(40), false)
            .unwrap_err()
            .to_string(),
        "ERR I can only replicate a master, not a replica."
    );
    assert_eq!(nodes[1].myshardid(), nodes[0].myshardid());
    // A replica whose primary is healthy may fail over; FORCE works too.
    nodes[1].failover(NOW, FailoverKind::Force).unwrap();
    // Forget bans the node: gossip cannot bring it back for 60 s.
    let mut c = node(2);
    c.meet(NOW, "127.0.0.1", 7000, None).unwrap();
    let mut trio = vec![nodes.remove(0), nodes.remove(0), c];
    pump(&mut trio, NOW);
    trio[2].forget(NOW, &"b".repeat(40)).unwrap();
    assert!(trio[2].node(&id(b'b')).is_none());
    assert!(trio[0].node(&id(b'b')).is_some());
    // Heartbeats carry the ban: the primary forgets b too, and gossip does not bring it back.
    for now in [NOW + 8000, NOW + 16_000] {
        trio.iter_mut().for_each(|n| n.tick(now));
        pump(&mut trio, now);
    }
    assert!(trio[2].node(&id(b'b')).is_none());
    assert!(trio[0].node(&id(b'b')).is_none());
}

#[test]
fn bump_epoch_and_setslot_migration() {
    let mut alone = node(2);
    assert_eq!(alone.bump_epoch(NOW), BumpEpoch::Bumped(1));
    assert_eq!(alone.bump_epoch(NOW).to_string(), "STILL 1");
    // Two primaries with the same config epoch: the lower ID takes a new one.
    let mut nodes = pair();
    assert_eq!(nodes[0].config_epoch(), 1);
    assert_eq!(nodes[1].config_epoch(), 0);
    nodes[0].add_slots(NOW, &[100, 101]).unwrap();
    // Heartbeats (due after node_timeout/2) spread the epochs and slots.
    for n in nodes.iter_mut() {
        n.tick(NOW + 8000);
    }
    pump(&mut nodes, NOW + 8000);
    assert_eq!(nodes[1].current_epoch(), 1);
    assert_eq!(nodes[1].slot_owner(101), Some(id(b'a')));
    nodes[0]
        .set_slot(NOW, 100, SetSlot::Migrating(id(b'b')), true)
        .unwrap();
    nodes[1]
        .set_slot(NOW, 100, SetSlot::Importing(id(b'a')), false)
        .unwrap();
    let text = nodes[0].nodes_text();
    let me = text.lines().find(|l| l.contains("myself")).unwrap();
    assert_eq!(
        me,
        format!(
            "{} 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 100-101 [100->-{}]",
            "a".repeat(40),
            "b".repeat(40)
        )
    );
    assert!(nodes[1]
        .nodes_conf()
        .contains(&format!("[100-<-{}]", "a".repeat(40))));
    assert_eq!(nodes[1].config_epoch(), 0);
    let routing = nodes[0].routing();
    assert_eq!(routing.migrating_to(100).map(|n| n.id), Some(id(b'b')));
    // The importing node takes the slot: it wins with a new epoch, the old owner follows.
    nodes[1]
        .set_slot(NOW, 100, SetSlot::Node(id(b'b')), false)
        .unwrap();
    assert!(nodes[1].config_epoch() > nodes[0].config_epoch());
    nodes[0]
        .set_slot(NOW, 100, SetSlot::Node(id(b'b')), false)
        .unwrap();
    pump(&mut nodes, NOW);
    assert_eq!(nodes[0].slot_owner(100), Some(id(b'b')));
    assert_eq!(nodes[0].slot_owner(101), Some(id(b'a')));
    assert!(nodes[0].routing().migrating.is_empty());
    // Giving away its last slot turns the primary into a replica of the receiver.
    nodes[1]
        .set_slot(NOW, 101, SetSlot::Node(id(b'b')), false)
        .unwrap();
    nodes[0]
        .set_slot(NOW, 101, SetSlot::Node(id(b'b')), false)
        .unwrap();
    let outs = pump(&mut nodes, NOW);
    assert!(outs
        .iter()
        .any(|(i, o)| *i == 0
            && matches!(o, Output::Replicate { primary, .. } if *primary == id(b'b'))));
    assert_eq!(nodes[0].primary(), Some(id(b'b')));
    assert_eq!(nodes[1].node(&id(b'a')).map(|n| n.is_replica()), Some(true));
}

#[test]
fn nodes_conf_round_trip_and_redis_format() {
    let conf = format!(
        "{a} 10.0.0.1:6379@16379,host-a,tls-port=0,shard-id={s} myself,master - 0 0 3 connected 0-99 200 [150->-{b}] [300-<-{b}]\n\
         {b} 10.0.0.2:6379@16379,,tls-port=6380,shard-id={t} master - 0 1700000000000 4 connected 100-199\n\
         {c} 10.0.0.3:6379@16379,,tls-port=0,shard-id={s} slave {a} 0 1700000000000 3 disconnected\n\
         vars currentEpoch 7 lastVoteEpoch 5\n",
        a = "a".repeat(40),
        b = "b".repeat(40),
        c = "c".repeat(40),
        s = "1".repeat(40),
        t = "2".repeat(40),
    );
    let me = Endpoint {
        ip: String::new(),
        port: 6379,
        tls_port: 0,
        bus_port: 16379,
        hostname: String::new(),
    };
    let cluster = Cluster::load(&conf, ClusterConfig::default(), me.clone(), NOW).unwrap();
    assert_eq!(cluster.myid(), id(b'a'));
    assert_eq!(cluster.current_epoch(), 7);
    assert_eq!(cluster.config_epoch(), 3);
    assert_eq!(cluster.slot_owner(200), Some(id(b'a')));
    assert_eq!(cluster.slot_owner(150), Some(id(b'b')));
    assert_eq!(cluster.node(&id(b'b')).unwrap().tls_port, 6380);
    assert_eq!(cluster.node(&id(b'a')).unwrap().hostname, "host-a");
    assert_eq!(cluster.node(&id(b'c')).unwrap().primary, Some(id(b'a')));
    assert_eq!(
        cluster.myshardid(),
        NodeId::parse("1".repeat(40).as_bytes()).unwrap()
    );
    let saved = cluster.nodes_conf();
    assert!(saved.ends_with("vars currentEpoch 7 lastVoteEpoch 5\n"));
    assert!(saved.contains(&format!(
        "[150->-{}] [300-<-{}]",
        "b".repeat(40),
        "b".repeat(40)
    )));
    let again = Cluster::load(&saved, ClusterConfig::default(), me.clone(), NOW).unwrap();
    assert_eq!(again.nodes_conf(), saved);
    // A replica restarted from its nodes.conf resumes replication at once.
    let replica_conf = saved
        .replace("myself,master", "master")
        .replace(" slave ", " myself,slave ");
    let mut replica =
        Cluster::load(&replica_conf, ClusterConfig::default(), me.clone(), NOW).unwrap();
    assert_eq!(replica.myid(), id(b'c'));
    assert!(replica.take_outputs().contains(&Output::Replicate {
        primary: id(b'a'),
        ip: "10.0.0.1".into(),
        port: 6379
    }));
    // CLUSTER NODES shows the hostname but not the aux fields.
    assert!(cluster
        .nodes_text()
        .contains("10.0.0.1:6379@16379,host-a myself,master - 0 0 3 connected 0-99 200"));
    assert!(cluster
        .nodes_text()
        .contains(&format!("slave {} 0 {NOW} 3 disconnected", "a".repeat(40))));
    for bad in [
        "garbage",
        "vars currentEpoch x",
        &conf.replace("myself,", ""),
    ] {
        assert!(
            Cluster::load(bad, ClusterConfig::default(), me.clone(), NOW).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn publish_reaches_every_node_and_sharded_only_the_shard() {
    let mut nodes = vec![node(0), node(1), node(2)];
    nodes[0].meet(NOW, "127.0.0.2", 7000, None).unwrap();
    nodes[0].meet(NOW, "127.0.0.3", 7000, None).unwrap();
    pump(&mut nodes, NOW);
    nodes[0].add_slots(NOW, &[1]).unwrap();
    nodes[2].replicate(NOW, &"a".repeat(40), false).unwrap();
    pump(&mut nodes, NOW);
    assert!(nodes[0].publish(b"news", b"hello", false));
    let huge = vec![0u8; slotkv_cluster::message::MAX_PUBLISH_PAYLOAD];
    assert!(!nodes[0].publish(b"x", &huge, false));
    let outs = pump(&mut nodes, NOW);
    let got: Vec<usize> = outs
        .iter()
        .filter(|(_, o)| matches!(o, Output::Publish { sharded: false, channel, .. } if channel == b"news"))
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(got, vec![1, 2]);
    assert!(nodes[0].publish(b"shard", b"hi", true));
    let outs = pump(&mut nodes, NOW);
    let got: Vec<usize> = outs
        .iter()
        .filter(|(_, o)| matches!(o, Output::Publish { sharded: true, .. }))
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(got, vec![2]);
}

#[test]
fn reset_hard_forgets_everything_and_takes_a_new_id() {
    let mut nodes = pair();
    nodes[0].add_slots(NOW, &[5]).unwrap();
    nodes[0].reset(NOW, true, false).unwrap();
    let a = &nodes[0];
    assert_ne!(a.myid(), id(b'a'));
    assert_eq!(a.nodes().count(), 1);
    assert_eq!(a.slot_owner(5), None);
    assert_eq!(a.current_epoch(), 0);
    assert!(a.info_text().starts_with("cluster_state:fail\r\n"));
}

#[test]
fn the_local_address_of_bus_links_teaches_this_node_its_ip() {
    let unannounced = Endpoint {
        ip: String::new(),
        ..endpoint(0)
    };
    let mut solo = Cluster::new(id(b'a'), ClusterConfig::default(), unannounced, NOW);
    let mine = |c: &Cluster| c.node(&id(b'a')).expect("myself").ip.clone();
    solo.learn_my_ip("127.0.0.1");
    assert_eq!(mine(&solo), "127.0.0.1");
    solo.learn_my_ip("");
    assert_eq!(
        mine(&solo),
        "127.0.0.1",
        "an unreadable address teaches nothing"
    );
    solo.learn_my_ip("10.0.0.7");
    assert_eq!(mine(&solo), "10.0.0.7");
}

#[test]
fn forget_of_a_node_a_peer_already_forgot_answers_ok() {
    let mut nodes = vec![node(0), node(1), node(2)];
    nodes[0].meet(NOW, "127.0.0.2", 7000, None).unwrap();
    nodes[0].meet(NOW, "127.0.0.3", 7000, None).unwrap();
    nodes[1].meet(NOW, "127.0.0.3", 7000, None).unwrap();
    pump(&mut nodes, NOW);
    assert!(nodes[1].node(&id(b'c')).is_some());
    let gone = "c".repeat(40);
    nodes[0].forget(NOW, &gone).unwrap();
    // a's pings carry the ban until b has it.
    for step in 1..=50 {
        let now = NOW + step * 100;
        nodes[0].tick(now);
        pump(&mut nodes, now);
        if nodes[1].node(&id(b'c')).is_none() {
            break;
        }
    }
    // Node b heard of the FORGET from a; redis-cli's own FORGET to b still succeeds.
    assert!(nodes[1].node(&id(b'c')).is_none());
    nodes[1].forget(NOW + 200, &gone).unwrap();
    assert_eq!(
        nodes[1]
            .forget(NOW + 200, &"d".repeat(40))
            .unwrap_err()
            .to_string(),
        format!("ERR Unknown node {}", "d".repeat(40))
    );
}
