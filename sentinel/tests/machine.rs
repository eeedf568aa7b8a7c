//! One sentinel driven by hand: each behaviour of the state machine with the events and
//! commands Redis Sentinel would produce, in order.

use std::cell::Cell;
use std::net::IpAddr;

use slotkv_sentinel::config::{MasterConfig, SentinelConfig};
use slotkv_sentinel::{Addr, MasterDownReply, Output, PeerKind, Reply, Request, Sentinel};

const MASTER: &str = "mymaster";
const PEER_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const PEER_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn primary() -> Addr {
    Addr::new("10.0.0.1", 6379)
}

fn replica(n: u16) -> Addr {
    Addr::new("10.0.0.2", 6379 + n)
}

fn peer(n: u16) -> Addr {
    Addr::new("10.0.1.1", 26379 + n)
}

/// A sentinel watching `primary()` with `replicas` known replicas and the two peers.
fn sentinel(quorum: u64, replicas: u16, peers: bool) -> Sentinel {
    let mut master = MasterConfig::new(MASTER, primary(), quorum);
    master.settings.down_after_ms = 1000;
    master.settings.failover_timeout_ms = 5000;
    master.known_replicas = (0..replicas).map(replica).collect();
    if peers {
        master.known_sentinels = vec![(peer(1), PEER_A.into()), (peer(2), PEER_B.into())];
    }
    let config = SentinelConfig {
        masters: vec![master],
        ..SentinelConfig::default()
    };
    let mut s = Sentinel::new(config, 26379, 7, 0);
    s.drain();
    s
}

struct Step {
    events: Vec<String>,
    sends: Vec<(Addr, Request)>,
    rewrite: bool,
    crash: bool,
}

fn drain(s: &mut Sentinel) -> Step {
    let mut step = Step {
        events: Vec::new(),
        sends: Vec::new(),
        rewrite: false,
        crash: false,
    };
    for output in s.drain() {
        match output {
            Output::Publish(e) => step.events.push(format!("{} {}", e.channel, e.message)),
            Output::Send(out) => step.sends.push((out.to, out.request)),
            Output::RewriteConfig => step.rewrite = true,
            Output::Crash => step.crash = true,
        }
    }
    step
}

fn replica_info(master: &Addr, offset: u64, priority: u64, link_up: bool) -> String {
    format!(
        "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\n\
         slave_repl_offset:{offset}\r\nslave_priority:{priority}\r\n",
        master.host,
        master.port,
        if link_up { "up" } else { "down" }
    )
}

/// Answers every replica's PING and INFO (as replicas of `primary()`), at `now`.
fn replicas_answer(s: &mut Sentinel, now: u64, offsets: &[(u16, u64, u64)]) {
    for &(n, offset, priority) in offsets {
        s.on_ping_reply(now, MASTER, &replica(n), PeerKind::Instance, true);
        s.on_info(
            now,
            MASTER,
            &replica(n),
            &replica_info(&primary(), offset, priority, true),
        );
    }
}

fn has(events: &[String], wanted: &str) -> bool {
    events.iter().any(|e| e == wanted)
}

/// Ticks every 100 ms up to `until`, answering the replicas; returns the events.
fn run_until(s: &mut Sentinel, from: u64, until: u64, offsets: &[(u16, u64, u64)]) -> Vec<String> {
    let mut events = Vec::new();
    let mut now = from;
    while now <= until {
        replicas_answer(s, now, offsets);
        s.tick(now);
        events.extend(drain(s).events);
        now += 100;
    }
    events
}

#[test]
fn sdown_after_down_after_milliseconds_without_a_valid_reply() {
    let mut s = sentinel(2, 0, false);
    s.tick(0);
    let step = drain(&mut s);
    assert!(step.sends.contains(&(primary(), Request::Ping)));
    assert!(step.sends.contains(&(primary(), Request::Info)));
    s.tick(1000);
    assert!(
        drain(&mut s).events.is_empty(),
        "1000 ms is not more than down-after"
    );
    s.tick(1100);
    assert_eq!(
        drain(&mut s).events,
        ["+sdown master mymaster 10.0.0.1 6379"]
    );
    // An error that is not LOADING or MASTERDOWN is no sign of life.
    s.on_ping_reply(1200, MASTER, &primary(), PeerKind::Instance, false);
    assert!(drain(&mut s).events.is_empty());
    s.on_ping_reply(1300, MASTER, &primary(), PeerKind::Instance, true);
    assert_eq!(
        drain(&mut s).events,
        ["-sdown master mymaster 10.0.0.1 6379"]
    );
}

#[test]
fn a_closed_link_counts_from_the_last_valid_reply() {
    let mut s = sentinel(2, 0, false);
    s.tick(0);
    s.on_ping_reply(10, MASTER, &primary(), PeerKind::Instance, true);
    s.on_link_down(500, MASTER, &primary(), PeerKind::Instance);
    s.tick(900);
    assert!(drain(&mut s).events.is_empty());
    s.tick(1100);
    assert_eq!(
        drain(&mut s).events,
        ["+sdown master mymaster 10.0.0.1 6379"]
    );
}

#[test]
fn odown_needs_the_quorum_and_starts_a_failover() {
    let mut s = sentinel(3, 1, true);
    s.tick(0);
    drain(&mut s);
    s.tick(1100);
    let step = drain(&mut s);
    assert_eq!(step.events[0], "+sdown master mymaster 10.0.0.1 6379");
    let ask = Request::AskMasterDown {
        master_addr: primary(),
        epoch: 0,
        runid: "*".into(),
    };
    assert!(step.sends.contains(&(peer(1), ask.clone())));
    assert!(step.sends.contains(&(peer(2), ask)));
    let down = |down| MasterDownReply {
        about: primary(),
        down,
        leader: "*".into(),
        leader_epoch: 0,
    };
    s.on_master_down_reply(1150, MASTER, &peer(1), &down(true));
    s.on_master_down_reply(1150, MASTER, &peer(2), &down(false));
    assert!(
        drain(&mut s).events.is_empty(),
        "2 of 3 is short of the quorum"
    );
    // An answer about another address (asked before a switch) does not count.
    let stale = MasterDownReply {
        about: replica(0),
        ..down(true)
    };
    s.on_master_down_reply(1160, MASTER, &peer(2), &stale);
    assert!(drain(&mut s).events.is_empty());
    s.on_master_down_reply(1200, MASTER, &peer(2), &down(true));
    let events = drain(&mut s).events;
    assert_eq!(events, ["+odown master mymaster 10.0.0.1 6379 #quorum 3/3"]);
    // The failover starts once the desync jitter (at most 500 ms) has passed.
    s.tick(1800);
    let step = drain(&mut s);
    assert_eq!(
        &step.events[..2],
        [
            "+new-epoch 1",
            "+try-failover master mymaster 10.0.0.1 6379"
        ]
    );
    let ask = Request::AskMasterDown {
        master_addr: primary(),
        epoch: 1,
        runid: s.myid().to_owned(),
    };
    assert!(
        step.sends.contains(&(peer(1), ask)),
        "votes are asked for at once"
    );
}

#[test]
fn one_vote_per_epoch() {
    let mut s = sentinel(2, 0, true);
    let ask = |s: &mut Sentinel, epoch: &str, runid: &str| {
        s.sentinel_command(
            0,
            &["is-master-down-by-addr", "10.0.0.1", "6379", epoch, runid].map(String::from),
        )
    };
    let answer = |leader: &str, epoch| {
        Reply::Array(vec![
            Reply::Integer(0),
            Reply::bulk(leader),
            Reply::Integer(epoch),
        ])
    };
    assert_eq!(ask(&mut s, "5", PEER_A), answer(PEER_A, 5));
    assert_eq!(
        drain(&mut s).events,
        ["+new-epoch 5", &format!("+vote-for-leader {PEER_A} 5")]
    );
    assert_eq!(
        ask(&mut s, "5", PEER_B),
        answer(PEER_A, 5),
        "already voted in 5"
    );
    assert_eq!(
        ask(&mut s, "4", PEER_B),
        answer(PEER_A, 5),
        "an older epoch gets nothing"
    );
    assert_eq!(ask(&mut s, "6", PEER_B), answer(PEER_B, 6));
    assert_eq!(s.current_epoch(), 6);
    assert_eq!(
        ask(&mut s, "7", "*"),
        answer("*", 0),
        "* only asks about the state"
    );
    let unknown = s.sentinel_command(
        0,
        &["is-master-down-by-addr", "10.9.9.9", "1", "9", PEER_A].map(String::from),
    );
    assert_eq!(unknown, answer("*", 0));
}

/// Brings the master to ODOWN with both peers voting for us; returns the time reached.
fn elect_ourselves(s: &mut Sentinel, offsets: &[(u16, u64, u64)]) -> (u64, Vec<String>) {
    let (now, mut events) = start_failover(s, offsets);
    votes_for_us(s, now);
    events.extend(drain(s).events);
    (now, events)
}

/// Brings the master to ODOWN until our failover starts; returns the time reached and the
/// events so far.
fn start_failover(s: &mut Sentinel, offsets: &[(u16, u64, u64)]) -> (u64, Vec<String>) {
    let mut events = run_until(s, 0, 1100, offsets);
    let mut now = 1100;
    while s.failover_epoch(MASTER).is_none() {
        now += 100;
        for p in [peer(1), peer(2)] {
            let reply = MasterDownReply {
                about: primary(),
                down: true,
                leader: "*".into(),
                leader_epoch: 0,
            };
            s.on_master_down_reply(now, MASTER, &p, &reply);
        }
        events.extend(run_until(s, now, now, offsets));
        assert!(now < 5000, "no failover started: {events:?}");
    }
    (now, events)
}

/// Both peers answer that they voted for us in our failover's epoch.
fn votes_for_us(s: &mut Sentinel, now: u64) {
    let epoch = s.failover_epoch(MASTER).unwrap_or(0);
    for p in [peer(1), peer(2)] {
        let reply = MasterDownReply {
            about: primary(),
            down: true,
            leader: s.myid().to_owned(),
            leader_epoch: epoch,
        };
        s.on_master_down_reply(now, MASTER, &p, &reply);
    }
}

#[test]
fn a_failover_runs_through_redis_states_and_switches_the_master() {
    let mut s = sentinel(2, 2, true);
    let offsets = [(0, 100, 100), (1, 200, 100)];
    let (now, events) = elect_ourselves(&mut s, &offsets);
    let myid = s.myid().to_owned();
    let promoted = "slave 10.0.0.2:6380 10.0.0.2 6380 @ mymaster 10.0.0.1 6379";
    let expected = [
        "+sdown master mymaster 10.0.0.1 6379".to_owned(),
        "+odown master mymaster 10.0.0.1 6379 #quorum 2/2".into(),
        "+new-epoch 1".into(),
        "+try-failover master mymaster 10.0.0.1 6379".into(),
        format!("+vote-for-leader {myid} 1"),
        "+elected-leader master mymaster 10.0.0.1 6379".into(),
        "+failover-state-select-slave master mymaster 10.0.0.1 6379".into(),
        format!("+selected-slave {promoted}"),
        format!("+failover-state-send-slaveof-noone {promoted}"),
        format!("+failover-state-wait-promotion {promoted}"),
    ];
    let relevant: Vec<String> = events
        .into_iter()
        .filter(|e| !e.starts_with("+sdown s") && !e.starts_with("-sdown"))
        .collect();
    assert_eq!(relevant, expected, "the highest offset wins");
    s.on_info(
        now + 50,
        MASTER,
        &replica(1),
        "role:master\r\nmaster_repl_offset:200\r\n",
    );
    let step = drain(&mut s);
    assert_eq!(
        step.events,
        [
            format!("+promoted-slave {promoted}"),
            "+failover-state-reconf-slaves master mymaster 10.0.0.1 6379".into(),
            "+slave-reconf-sent slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379".into(),
        ]
    );
    assert!(step.rewrite, "the new configuration epoch is persisted");
    assert!(step
        .sends
        .contains(&(replica(0), Request::ReplicaOf(Some(replica(1))))));
    assert_eq!(
        s.master_addr(MASTER),
        Some(&replica(1)),
        "clients are sent to the promoted replica"
    );
    assert_eq!(s.master_view(MASTER), Some((1, &replica(1))));
    s.on_info(
        now + 60,
        MASTER,
        &replica(0),
        &replica_info(&replica(1), 100, 100, false),
    );
    assert_eq!(
        drain(&mut s).events,
        ["+slave-reconf-inprog slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379"]
    );
    s.on_info(
        now + 70,
        MASTER,
        &replica(0),
        &replica_info(&replica(1), 200, 100, true),
    );
    assert_eq!(
        drain(&mut s).events,
        [
            "+slave-reconf-done slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379",
            "+failover-end master mymaster 10.0.0.1 6379",
            "+switch-master mymaster 10.0.0.1 6379 10.0.0.2 6380",
        ]
    );
    let config = s.config();
    let master = &config.masters[0];
    assert_eq!(
        (master.settings.addr.clone(), master.settings.config_epoch),
        (replica(1), 1)
    );
    assert!(
        master.known_replicas.contains(&primary()),
        "the old master is remembered as a replica"
    );
    assert!(master.known_replicas.contains(&replica(0)));
}

#[test]
fn replica_choice_skips_priority_zero_and_prefers_offset() {
    let mut s = sentinel(2, 3, false);
    // Replica 2 has the most data but priority 0: never promoted.
    let offsets = [(0, 100, 100), (1, 300, 100), (2, 900, 0)];
    run_until(&mut s, 0, 500, &offsets);
    assert_eq!(
        s.sentinel_command(600, &["failover".into(), MASTER.into()]),
        Reply::Ok
    );
    let mut events = drain(&mut s).events;
    assert!(
        !events.iter().any(|e| e.starts_with("+selected-slave")),
        "the choice waits for offsets reported after the failover started"
    );
    replicas_answer(&mut s, 650, &offsets);
    events.extend(drain(&mut s).events);
    assert!(
        has(
            &events,
            "+selected-slave slave 10.0.0.2:6380 10.0.0.2 6380 @ mymaster 10.0.0.1 6379"
        ),
        "{events:?}"
    );
    assert_eq!(
        s.sentinel_command(700, &["failover".into(), MASTER.into()]),
        Reply::error("INPROG Failover already in progress")
    );
}

#[test]
fn parallel_syncs_limits_the_replicas_repointed_at_once() {
    let mut s = sentinel(2, 3, false);
    let offsets = [(0, 100, 100), (1, 300, 100), (2, 200, 100)];
    run_until(&mut s, 0, 500, &offsets);
    assert_eq!(
        s.sentinel_command(600, &["failover".into(), MASTER.into()]),
        Reply::Ok
    );
    replicas_answer(&mut s, 620, &offsets);
    drain(&mut s);
    s.on_info(650, MASTER, &replica(1), "role:master\r\n");
    let sent: Vec<String> = drain(&mut s)
        .events
        .into_iter()
        .filter(|e| e.starts_with("+slave-reconf-sent"))
        .collect();
    assert_eq!(sent.len(), 1, "parallel-syncs 1: {sent:?}");
    s.tick(700);
    assert!(!drain(&mut s)
        .events
        .iter()
        .any(|e| e.starts_with("+slave-reconf-sent")));
}

#[test]
fn a_failover_without_a_good_replica_aborts() {
    let mut s = sentinel(2, 1, false);
    assert_eq!(
        s.sentinel_command(0, &["failover".into(), MASTER.into()]),
        Reply::error("NOGOODSLAVE No suitable replica to promote")
    );
}

#[test]
fn hello_messages_add_sentinels_and_carry_newer_configurations() {
    let mut s = sentinel(2, 0, false);
    s.on_hello(
        10,
        &format!("10.0.1.1,26380,{PEER_A},0,mymaster,10.0.0.1,6379,0"),
    );
    let step = drain(&mut s);
    assert_eq!(
        step.events,
        [format!(
            "+sentinel sentinel {PEER_A} 10.0.1.1 26380 @ mymaster 10.0.0.1 6379"
        )]
    );
    assert!(step.rewrite);
    // Our own hello, another master's and garbage change nothing.
    s.on_hello(
        20,
        &format!("10.0.1.1,26379,{},0,mymaster,10.0.0.1,6379,0", s.myid()),
    );
    s.on_hello(
        20,
        &format!("10.0.1.1,26381,{PEER_B},0,other,10.0.0.1,6379,0"),
    );
    s.on_hello(20, "not,a,hello");
    assert!(drain(&mut s).events.is_empty());
    s.on_hello(
        30,
        &format!("10.0.1.1,26380,{PEER_A},4,mymaster,10.0.0.2,6380,3"),
    );
    assert_eq!(
        drain(&mut s).events,
        [
            "+new-epoch 4".to_owned(),
            format!(
                "+config-update-from sentinel {PEER_A} 10.0.1.1 26380 @ mymaster 10.0.0.1 6379"
            ),
            "+switch-master mymaster 10.0.0.1 6379 10.0.0.2 6380".into(),
        ]
    );
    assert_eq!(s.master_view(MASTER), Some((3, &replica(1))));
    // An older configuration is ignored.
    s.on_hello(
        40,
        &format!("10.0.1.1,26380,{PEER_A},4,mymaster,10.0.0.1,6379,2"),
    );
    assert!(drain(&mut s).events.is_empty());
}

#[test]
fn the_old_master_is_converted_once_the_new_one_looks_sane() {
    let mut s = sentinel(2, 0, false);
    s.on_hello(
        0,
        &format!("10.0.1.1,26380,{PEER_A},1,mymaster,10.0.0.2,6379,1"),
    );
    drain(&mut s);
    // The new master answers as a master; the old one is back, still saying it is one.
    let mut converted = Vec::new();
    let mut now = 100;
    while now < 20_000 && converted.is_empty() {
        s.on_ping_reply(now, MASTER, &replica(0), PeerKind::Instance, true);
        s.on_info(now, MASTER, &replica(0), "role:master\r\n");
        s.on_ping_reply(now, MASTER, &primary(), PeerKind::Instance, true);
        s.on_info(now, MASTER, &primary(), "role:master\r\n");
        s.tick(now);
        let step = drain(&mut s);
        if has(
            &step.events,
            "+convert-to-slave slave 10.0.0.1:6379 10.0.0.1 6379 @ mymaster 10.0.0.2 6379",
        ) {
            converted = step.sends;
        }
        now += 100;
    }
    assert!(converted.contains(&(primary(), Request::ReplicaOf(Some(replica(0))))));
    assert!(now > 8000, "converted only after four publish periods");
}

#[test]
fn commands_answer_as_redis_sentinel() {
    let mut s = sentinel(2, 1, false);
    let run = |s: &mut Sentinel, words: &[&str]| {
        s.sentinel_command(
            0,
            &words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        run(&mut s, &["ckquorum", MASTER]),
        Reply::Error(
            "NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the specified \
             quorum for this master"
                .into()
        )
    );
    assert_eq!(
        run(&mut s, &["get-master-addr-by-name", MASTER]),
        Reply::Array(vec![Reply::bulk("10.0.0.1"), Reply::bulk("6379")])
    );
    assert_eq!(
        run(&mut s, &["get-master-addr-by-name", "x"]),
        Reply::NilArray
    );
    assert_eq!(
        run(&mut s, &["master", "x"]),
        Reply::error("ERR No such master with that name")
    );
    assert_eq!(
        run(&mut s, &["masters", "x"]),
        Reply::error("ERR wrong number of arguments for 'sentinel|masters' command")
    );
    assert_eq!(
        run(&mut s, &["bogus"]),
        Reply::error("ERR unknown subcommand 'bogus'. Try SENTINEL HELP.")
    );
    assert_eq!(run(&mut s, &["set", MASTER, "quorum", "1"]), Reply::Ok);
    assert_eq!(
        run(&mut s, &["ckquorum", MASTER]),
        Reply::Simple(
            "OK 1 usable Sentinels. Quorum and failover authorization can be reached".into()
        )
    );
    assert_eq!(
        run(&mut s, &["set", MASTER, "quorum", "0"]),
        Reply::error("ERR Invalid argument '0' for SENTINEL SET 'quorum'")
    );
    assert_eq!(
        run(&mut s, &["set", MASTER, "nope", "1"]),
        Reply::error("ERR Unknown option or number of arguments for SENTINEL SET 'nope'")
    );
    let step = drain(&mut s);
    assert!(has(
        &step.events,
        "+set master mymaster 10.0.0.1 6379 quorum 1"
    ));
    assert!(step.rewrite);
    let Reply::Map(fields) = run(&mut s, &["master", MASTER]) else {
        panic!("SENTINEL MASTER is a map");
    };
    let names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "name",
            "ip",
            "port",
            "runid",
            "flags",
            "link-pending-commands",
            "link-refcount",
            "last-ping-sent",
            "last-ok-ping-reply",
            "last-ping-reply",
            "down-after-milliseconds",
            "info-refresh",
            "role-reported",
            "role-reported-time",
            "config-epoch",
            "num-slaves",
            "num-other-sentinels",
            "quorum",
            "failover-timeout",
            "parallel-syncs",
        ]
    );
    assert_eq!(
        run(&mut s, &["monitor", "other", "10.0.0.9", "6379", "0"]),
        Reply::error("ERR Quorum must be 1 or greater.")
    );
    assert_eq!(
        run(&mut s, &["monitor", MASTER, "10.0.0.9", "6379", "1"]),
        Reply::error("ERR Duplicated master name")
    );
    assert_eq!(
        run(&mut s, &["monitor", "other", "10.0.0.9", "6379", "1"]),
        Reply::Ok
    );
    assert!(has(
        &drain(&mut s).events,
        "+monitor master other 10.0.0.9 6379 quorum 1"
    ));
    assert_eq!(run(&mut s, &["reset", "oth*"]), Reply::Integer(1));
    assert_eq!(run(&mut s, &["remove", "other"]), Reply::Ok);
    assert_eq!(
        s.role(),
        Reply::Array(vec![
            Reply::bulk("sentinel"),
            Reply::Array(vec![Reply::bulk(MASTER)])
        ])
    );
    assert!(s.info_section(0).contains(
        "master0:name=mymaster,status=ok,address=10.0.0.1:6379,slaves=1,sentinels=1\r\n"
    ));
    assert_eq!(run(&mut s, &["debug", "ping-period", "500"]), Reply::Ok);
    assert_eq!(s.timing_mut().ping_period_ms, 500);
}

#[test]
fn a_gap_between_ticks_enters_tilt_mode() {
    let mut s = sentinel(1, 0, false);
    s.tick(0);
    s.tick(100);
    drain(&mut s);
    // The process did not run for five seconds: the unanswered PING proves nothing.
    s.tick(5100);
    assert_eq!(drain(&mut s).events, ["+tilt #tilt mode entered"]);
    assert!(s.info_section(5100).contains("sentinel_tilt:1\r\n"));
    let mut now = 5100;
    let mut events = Vec::new();
    while now < 35_000 {
        now += 100;
        s.tick(now);
        events.extend(drain(&mut s).events);
    }
    assert!(events.is_empty(), "no judgement in TILT mode: {events:?}");
    s.tick(35_200);
    let events = drain(&mut s).events;
    assert_eq!(events[0], "-tilt #tilt mode exited");
    assert!(
        has(&events, "+sdown master mymaster 10.0.0.1 6379"),
        "{events:?}"
    );
}

#[test]
fn a_promoted_replica_that_fails_ends_the_failover_at_once() {
    let mut s = sentinel(2, 2, false);
    let offsets = [(0, 100, 100), (1, 200, 100)];
    run_until(&mut s, 0, 500, &offsets);
    assert_eq!(
        s.sentinel_command(600, &["failover".into(), MASTER.into()]),
        Reply::Ok
    );
    replicas_answer(&mut s, 620, &offsets);
    let events = drain(&mut s).events;
    assert!(has(
        &events,
        "+selected-slave slave 10.0.0.2:6380 10.0.0.2 6380 @ mymaster 10.0.0.1 6379"
    ));
    // Replica 1 was chosen and dies: only replica 0 keeps answering.
    let events = run_until(&mut s, 700, 3000, &offsets[..1]);
    assert!(
        has(
            &events,
            "-failover-abort-slave-timeout master mymaster 10.0.0.1 6379"
        ),
        "{events:?}"
    );
    assert_eq!(s.failover_epoch(MASTER), None);
}

#[test]
fn simulate_failure_sets_the_flags_as_redis() {
    let mut s = sentinel(2, 0, false);
    let mut run = |words: &[&str]| {
        let words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        let reply = s.sentinel_command(0, &words);
        (reply, s.info_section(0))
    };
    let flags = |info: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix("sentinel_simulate_failure_flags:"))
            .map(str::to_owned)
    };
    let (reply, info) = run(&["simulate-failure"]);
    assert_eq!(
        reply,
        Reply::error("ERR wrong number of arguments for 'sentinel|simulate-failure' command")
    );
    assert_eq!(flags(&info).as_deref(), Some("0"));
    let (reply, info) = run(&["SIMULATE-FAILURE", "crash-after-election"]);
    assert_eq!(reply, Reply::Ok);
    assert_eq!(flags(&info).as_deref(), Some("1"));
    let (reply, info) = run(&[
        "simulate-failure",
        "CRASH-AFTER-ELECTION",
        "Crash-After-Promotion",
    ]);
    assert_eq!(reply, Reply::Ok, "flags combine in one call");
    assert_eq!(flags(&info).as_deref(), Some("3"));
    let (reply, info) = run(&["simulate-failure", "crash-after-promotion"]);
    assert_eq!(reply, Reply::Ok);
    assert_eq!(
        flags(&info).as_deref(),
        Some("2"),
        "a call replaces the flags"
    );
    let (reply, _) = run(&["simulate-failure", "help"]);
    assert_eq!(
        reply,
        Reply::Array(vec![
            Reply::bulk("crash-after-election"),
            Reply::bulk("crash-after-promotion"),
        ])
    );
    let (reply, info) = run(&["simulate-failure", "crash-after-election", "bogus"]);
    assert_eq!(
        reply,
        Reply::error("ERR Unknown failure simulation specified")
    );
    assert_eq!(
        flags(&info).as_deref(),
        Some("1"),
        "the flags before the unknown one stay, as in Redis"
    );
    let (reply, _) = run(&["help"]);
    let Reply::Array(lines) = reply else {
        panic!("HELP is an array");
    };
    assert!(lines.contains(&Reply::Simple(
        "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]".into()
    )));
}

/// SENTINEL SIMULATE-FAILURE `flag` at `now`.
fn simulate_failure(s: &mut Sentinel, now: u64, flag: &str) {
    let words = ["simulate-failure".to_owned(), flag.to_owned()];
    assert_eq!(s.sentinel_command(now, &words), Reply::Ok);
}

#[test]
fn crash_after_election_right_after_winning() {
    let mut s = sentinel(2, 2, true);
    let offsets = [(0, 100, 100), (1, 200, 100)];
    simulate_failure(&mut s, 0, "crash-after-election");
    let (now, events) = start_failover(&mut s, &offsets);
    assert!(
        !has(&events, "+elected-leader master mymaster 10.0.0.1 6379"),
        "{events:?}"
    );
    votes_for_us(&mut s, now);
    let step = drain(&mut s);
    assert!(step.crash, "{:?}", step.events);
    assert_eq!(
        step.events.last().map(String::as_str),
        Some("+elected-leader master mymaster 10.0.0.1 6379"),
        "nothing happens after the election"
    );
    assert!(!step
        .sends
        .iter()
        .any(|(_, request)| matches!(request, Request::ReplicaOf(_))));

    // SENTINEL FAILOVER is elected at once: the crash comes with it.
    let mut s = sentinel(2, 2, false);
    run_until(&mut s, 0, 500, &offsets);
    simulate_failure(&mut s, 600, "crash-after-election");
    s.sentinel_command(600, &["failover".into(), MASTER.into()]);
    let step = drain(&mut s);
    assert!(step.crash, "{:?}", step.events);
    assert!(!has(
        &step.events,
        "+failover-state-select-slave master mymaster 10.0.0.1 6379"
    ));
}

#[test]
fn crash_after_promotion_once_the_replica_reports_it() {
    let mut s = sentinel(2, 2, true);
    let offsets = [(0, 100, 100), (1, 200, 100)];
    simulate_failure(&mut s, 0, "crash-after-promotion");
    let (now, _) = start_failover(&mut s, &offsets);
    votes_for_us(&mut s, now);
    let step = drain(&mut s);
    assert!(!step.crash, "not at the election");
    assert!(step.sends.contains(&(replica(1), Request::ReplicaOf(None))));
    s.tick(now + 10);
    assert!(!drain(&mut s).crash, "not while the promotion is awaited");
    s.on_info(
        now + 50,
        MASTER,
        &replica(1),
        "role:master\r\nmaster_repl_offset:200\r\n",
    );
    let step = drain(&mut s);
    assert!(step.crash);
    assert!(
        step.rewrite,
        "the new configuration epoch is persisted first"
    );
    assert_eq!(
        step.events,
        ["+promoted-slave slave 10.0.0.2:6380 10.0.0.2 6380 @ mymaster 10.0.0.1 6379"]
    );
    assert!(step.sends.is_empty(), "no replica is repointed");
}

/// The one name [`dns`] knows, and its address.
const HOSTNAME: &str = "db.example";
const HOSTNAME_IP: &str = "10.0.0.9";

/// A resolver that knows [`HOSTNAME`] only, counting the look-ups asked of it.
fn dns(lookups: &Cell<u32>) -> impl Fn(&str) -> Option<IpAddr> + '_ {
    move |host| {
        lookups.set(lookups.get() + 1);
        (host == HOSTNAME).then(|| HOSTNAME_IP.parse().expect("an IP"))
    }
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| (*w).to_owned()).collect()
}

/// A [`sentinel`] with resolve-hostnames and announce-hostnames set by SENTINEL CONFIG SET.
fn sentinel_resolving(resolve: bool, announce: bool) -> Sentinel {
    let mut s = sentinel(2, 0, false);
    let yes_no = |on: bool| if on { "yes" } else { "no" };
    for (option, on) in [
        ("resolve-hostnames", resolve),
        ("announce-hostnames", announce),
    ] {
        let reply = s.sentinel_command(0, &words(&["config", "set", option, yes_no(on)]));
        assert_eq!(reply, Reply::Ok);
    }
    s.drain();
    s
}

/// SENTINEL MONITOR `name` at `host`:6380 with quorum 1, names resolved by [`dns`].
fn monitor(s: &mut Sentinel, name: &str, host: &str, lookups: &Cell<u32>) -> Reply {
    let args = words(&["monitor", name, host, "6380", "1"]);
    s.sentinel_command_resolving(0, &args, &dns(lookups))
}

/// What clients, events, the config file, the links and the hellos show as the address of
/// master `name`.
struct Shown {
    addr_by_name: Reply,
    master_ip: Option<Reply>,
    events: Vec<String>,
    rendered: Vec<String>,
    linked: bool,
    hello_master: Option<String>,
}

fn shown(s: &mut Sentinel, name: &str) -> Shown {
    let events = drain(s).events;
    let addr_by_name = s.sentinel_command(0, &words(&["get-master-addr-by-name", name]));
    let master_ip = match s.sentinel_command(0, &words(&["master", name])) {
        Reply::Map(fields) => fields
            .into_iter()
            .find_map(|(field, value)| (field == "ip").then_some(value)),
        _ => None,
    };
    let rendered = s.config().render();
    let linked = s
        .links()
        .iter()
        .any(|link| link.master == name && link.addr == Addr::new(HOSTNAME_IP, 6380));
    s.tick(100);
    let hello_master = s.drain().into_iter().find_map(|output| match output {
        Output::Send(out) => match out.request {
            Request::Hello(hello) if hello.master_name == name => Some(hello.master.host),
            _ => None,
        },
        _ => None,
    });
    Shown {
        addr_by_name,
        master_ip,
        events,
        rendered,
        linked,
        hello_master,
    }
}

fn addr_reply(host: &str) -> Reply {
    Reply::Array(vec![Reply::bulk(host), Reply::bulk(6380)])
}

#[test]
fn the_driver_is_asked_to_look_up_hostnames_of_sentinel_monitor_only() {
    let asked = |s: &Sentinel, list: &[&str]| s.host_to_resolve(&words(list)).map(str::to_owned);
    let s = sentinel_resolving(true, false);
    assert_eq!(
        asked(&s, &["MONITOR", "m2", HOSTNAME, "6380", "1"]).as_deref(),
        Some(HOSTNAME)
    );
    assert_eq!(asked(&s, &["monitor", "m2", "10.0.0.8", "6380", "1"]), None);
    assert_eq!(asked(&s, &["monitor", "m2", "::1", "6380", "1"]), None);
    assert_eq!(asked(&s, &["monitor", "m2", "", "6380", "1"]), None);
    assert_eq!(asked(&s, &["monitor", "m2", HOSTNAME, "6380"]), None);
    assert_eq!(asked(&s, &["master", HOSTNAME]), None);
    let s = sentinel_resolving(false, true);
    assert_eq!(asked(&s, &["monitor", "m2", HOSTNAME, "6380", "1"]), None);
}

#[test]
fn hostnames_are_refused_without_resolve_hostnames() {
    let lookups = Cell::new(0);
    let mut s = sentinel_resolving(false, true);
    assert_eq!(
        monitor(&mut s, "m2", HOSTNAME, &lookups),
        Reply::error("ERR Invalid IP address or hostname specified")
    );
    assert_eq!(lookups.get(), 0, "no DNS under resolve-hostnames no");
    assert_eq!(s.master_addr("m2"), None);
    assert!(drain(&mut s).events.is_empty());
    assert_eq!(monitor(&mut s, "m2", "10.0.0.8", &lookups), Reply::Ok);
    assert_eq!(s.master_addr("m2"), Some(&Addr::new("10.0.0.8", 6380)));
    assert_eq!(lookups.get(), 0, "an IP literal is never looked up");
}

#[test]
fn a_resolved_hostname_is_shown_as_its_address() {
    let lookups = Cell::new(0);
    let mut s = sentinel_resolving(true, false);
    assert_eq!(monitor(&mut s, "m2", HOSTNAME, &lookups), Reply::Ok);
    assert_eq!(lookups.get(), 1);
    let shown = shown(&mut s, "m2");
    assert_eq!(shown.addr_by_name, addr_reply(HOSTNAME_IP));
    assert_eq!(shown.master_ip, Some(Reply::bulk(HOSTNAME_IP)));
    assert_eq!(shown.events, ["+monitor master m2 10.0.0.9 6380 quorum 1"]);
    assert!(
        shown
            .rendered
            .contains(&"sentinel monitor m2 10.0.0.9 6380 1".to_owned()),
        "{:?}",
        shown.rendered
    );
    assert!(shown.linked, "the links go to the address");
    assert_eq!(shown.hello_master.as_deref(), Some(HOSTNAME_IP));
}

#[test]
fn announce_hostnames_keeps_the_hostname() {
    let lookups = Cell::new(0);
    let mut s = sentinel_resolving(true, true);
    assert_eq!(monitor(&mut s, "m2", HOSTNAME, &lookups), Reply::Ok);
    assert_eq!(
        lookups.get(),
        1,
        "checked to resolve, even when kept as a name"
    );
    let shown = shown(&mut s, "m2");
    assert_eq!(shown.addr_by_name, addr_reply(HOSTNAME));
    assert_eq!(shown.master_ip, Some(Reply::bulk(HOSTNAME)));
    assert_eq!(
        shown.events,
        ["+monitor master m2 db.example 6380 quorum 1"]
    );
    assert!(
        shown
            .rendered
            .contains(&"sentinel monitor m2 db.example 6380 1".to_owned()),
        "{:?}",
        shown.rendered
    );
    assert!(
        !shown.linked,
        "the links name the host: the driver resolves it at each connect"
    );
    assert!(s
        .links()
        .iter()
        .any(|link| link.master == "m2" && link.addr == Addr::new(HOSTNAME, 6380)));
    assert_eq!(shown.hello_master.as_deref(), Some(HOSTNAME));
}

#[test]
fn an_unresolvable_hostname_is_refused() {
    let lookups = Cell::new(0);
    for announce in [false, true] {
        let mut s = sentinel_resolving(true, announce);
        assert_eq!(
            monitor(&mut s, "m2", "no-such-host.invalid", &lookups),
            Reply::error("ERR Invalid IP address or hostname specified")
        );
        assert_eq!(s.master_addr("m2"), None);
        let step = drain(&mut s);
        assert!(step.events.is_empty() && !step.rewrite);
        // Without a resolver (the plain entry point) no name resolves.
        let plain = s.sentinel_command(0, &words(&["monitor", "m2", HOSTNAME, "6380", "1"]));
        assert_eq!(
            plain,
            Reply::error("ERR Invalid IP address or hostname specified")
        );
    }
    assert_eq!(lookups.get(), 2);
}

#[test]
fn announce_hostnames_set_at_run_time_applies_to_masters_added_afterwards() {
    let lookups = Cell::new(0);
    let mut s = sentinel_resolving(true, false);
    assert_eq!(monitor(&mut s, "before", HOSTNAME, &lookups), Reply::Ok);
    let set = words(&["config", "set", "announce-hostnames", "yes"]);
    assert_eq!(s.sentinel_command(0, &set), Reply::Ok);
    assert_eq!(monitor(&mut s, "after", HOSTNAME, &lookups), Reply::Ok);
    assert_eq!(
        s.master_addr("before"),
        Some(&Addr::new(HOSTNAME_IP, 6380)),
        "an address kept stays as it was kept"
    );
    assert_eq!(s.master_addr("after"), Some(&Addr::new(HOSTNAME, 6380)));
}
