//! Hostile or nonsensical bus messages (extreme epochs, impossible flags, slots claimed by
//! replicas, unknown senders, self-references) never panic the state machine, and its
//! nodes.conf stays loadable.

use proptest::prelude::*;
use slotkv_cluster::{
    Body, Cluster, ClusterConfig, Endpoint, GossipEntry, Header, HeartbeatKind, Message, NodeId,
    SlotSet,
};

const NOW: u64 = 9_000_000;

fn id(fill: u8) -> NodeId {
    NodeId::parse(&[fill; 40]).expect("hex")
}

fn endpoint() -> Endpoint {
    Endpoint {
        ip: "10.0.0.1".into(),
        port: 7000,
        tls_port: 0,
        bus_port: 17000,
        hostname: "me".into(),
    }
}

/// A node that knows primaries b, c (with slots) and replica d of b.
fn cluster() -> Cluster {
    let conf = format!(
        "{a} 10.0.0.1:7000@17000,me,tls-port=0,shard-id={a} myself,master - 0 0 1 connected 0-5000\n\
         {b} 10.0.0.2:7000@17000,,tls-port=0,shard-id={b} master - 0 0 2 connected 5001-10000\n\
         {c} 10.0.0.3:7000@17000,,tls-port=0,shard-id={c} master - 0 0 3 connected 10001-16383\n\
         {d} 10.0.0.4:7000@17000,,tls-port=0,shard-id={b} slave {b} 0 0 2 connected\n\
         vars currentEpoch 3 lastVoteEpoch 0\n",
        a = "a".repeat(40),
        b = "b".repeat(40),
        c = "c".repeat(40),
        d = "d".repeat(40),
    );
    Cluster::load(
        &conf,
        ClusterConfig {
            node_timeout_ms: 1000,
            ..ClusterConfig::default()
        },
        endpoint(),
        NOW,
    )
    .expect("valid nodes.conf")
}

fn pick_id() -> impl Strategy<Value = NodeId> {
    prop_oneof![
        Just(id(b'a')),
        Just(id(b'b')),
        Just(id(b'c')),
        Just(id(b'd')),
        Just(id(b'e')),
    ]
}

fn epoch() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(4),
        Just(u64::MAX - 1),
        Just(u64::MAX),
        any::<u64>()
    ]
}

fn slots() -> impl Strategy<Value = SlotSet> {
    proptest::collection::vec((0u16..16384, 0u16..2000), 0..4).prop_map(|ranges| {
        let ranges: Vec<(u16, u16)> = ranges
            .into_iter()
            .map(|(s, len)| (s, s.saturating_add(len).min(16383)))
            .collect();
        SlotSet::from_ranges(&ranges)
    })
}

fn message() -> impl Strategy<Value = Message> {
    let header = (
        pick_id(),
        epoch(),
        epoch(),
        any::<(u64, u16, u8, bool)>(),
        proptest::option::of(pick_id()),
        slots(),
        prop_oneof![Just(String::new()), Just("10.0.0.9".to_string())],
        any::<(u16, u16)>(),
    )
        .prop_map(
            |(sender, current_epoch, config_epoch, misc, primary, slots, ip, ports)| Header {
                sender,
                current_epoch,
                config_epoch,
                repl_offset: misc.0,
                flags: misc.1,
                mflags: misc.2,
                state_ok: misc.3,
                primary,
                slots,
                ip,
                port: ports.0,
                tls_port: 0,
                bus_port: ports.1,
                hostname: String::new(),
                shard_id: id(b'f'),
            },
        );
    let gossip = (pick_id(), any::<(u16, u32)>()).prop_map(|(id, (flags, age))| GossipEntry {
        id,
        flags,
        pong_age_ms: age,
        ip: "10.0.0.5".into(),
        port: 7000,
        tls_port: 0,
        bus_port: 17000,
    });
    let body = prop_oneof![
        (
            0u8..3,
            pick_id(),
            proptest::collection::vec(gossip, 0..6),
            proptest::option::of(pick_id())
        )
            .prop_map(|(k, alias, gossip, forget)| {
                let kind = [
                    HeartbeatKind::Ping,
                    HeartbeatKind::Pong,
                    HeartbeatKind::Meet,
                ][usize::from(k)];
                Body::Heartbeat {
                    kind,
                    alias,
                    gossip,
                    forgotten: forget.map(|id| (id, 60_000)).into_iter().collect(),
                }
            }),
        pick_id().prop_map(|node| Body::Fail { node }),
        Just(Body::FailoverAuthRequest),
        Just(Body::FailoverAuthAck),
        Just(Body::MfStart),
        (pick_id(), epoch(), slots()).prop_map(|(node, config_epoch, slots)| Body::Update {
            node,
            config_epoch,
            slots
        }),
        any::<bool>().prop_map(|sharded| Body::Publish {
            sharded,
            channel: b"c".to_vec(),
            message: vec![]
        }),
    ];
    (header, body).prop_map(|(header, body)| Message { header, body })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]
    #[test]
    fn hostile_messages_never_panic(msgs in proptest::collection::vec((message(), 0u64..3000), 1..40)) {
        let mut c = cluster();
        let mut now = NOW;
        for (msg, dt) in msgs {
            now += dt;
            c.handle_message(now, "10.0.0.7", msg);
            c.tick(now);
            let _ = c.take_outputs();
        }
        let routing = c.routing();
        prop_assert!(usize::from(routing.myself) < routing.nodes.len());
        let _ = c.nodes_text();
        let _ = c.info_text();
        let _ = c.slots_info();
        let _ = c.shards_info();
        let reloaded = Cluster::load(&c.nodes_conf(), ClusterConfig::default(), endpoint(), now);
        prop_assert!(reloaded.is_ok(), "{:?}\n{}", reloaded.err(), c.nodes_conf());
    }
}
