//! Hostile clients against a real server process on loopback: slowloris, a huge bulk declared
//! and never sent, a 100-million-element array header, deep nesting, random bytes, half-open
//! connections, thousands of idle connections, a subscriber that never reads under a flood,
//! and a pipelined GET flood from a client that never reads. Each attack is bounded in time,
//! and each checks that another client keeps being answered within a bounded latency, that
//! the server's RSS (from /proc/<pid>/status) stays bounded, and that nothing panicked.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{RawClient, TestServer};

/// The 99th percentile round trip a well-behaved client may see during an attack; generous,
/// as the test machine is shared with builds.
const P99_MAX: Duration = Duration::from_millis(200);
/// The least time a probe runs.
const PROBE_MIN: Duration = Duration::from_secs(1);
/// How much the server's RSS may grow during an attack.
const RSS_GROWTH_MAX_KB: u64 = 100 * 1024;

/// The server's resident set size in KiB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .expect("VmRSS")
}

/// A well-behaved client sending PING in a loop and timing each answer, plus a sampler of the
/// server's peak RSS, both running until [`Probe::finish`].
struct Probe {
    started: Instant,
    stop: Arc<AtomicBool>,
    pings: JoinHandle<Vec<Duration>>,
    rss: JoinHandle<u64>,
    rss_before_kb: u64,
}

/// What a probe saw.
#[derive(Debug)]
struct Seen {
    p99: Duration,
    answered: usize,
    rss_growth_kb: u64,
}

impl Probe {
    fn start(server: &TestServer) -> Probe {
        Probe::start_as(server, None)
    }

    /// A probe that authenticates with `password` first.
    fn start_as(server: &TestServer, password: Option<&'static str>) -> Probe {
        let stop = Arc::new(AtomicBool::new(false));
        let (port, pid) = (server.port, server.pid());
        let rss_before_kb = rss_kb(pid);
        let flag = stop.clone();
        let pings = std::thread::spawn(move || {
            let mut client = RawClient::connect(port);
            if let Some(password) = password {
                assert_eq!(client.cmd(&format!("AUTH {password}")), "+OK");
            }
            let mut times = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let start = Instant::now();
                assert_eq!(client.cmd("PING"), "+PONG");
                times.push(start.elapsed());
                std::thread::sleep(Duration::from_millis(10));
            }
            times
        });
        let flag = stop.clone();
        let rss = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(rss_kb(pid));
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        });
        Probe {
            started: Instant::now(),
            stop,
            pings,
            rss,
            rss_before_kb,
        }
    }

    /// Stops the probe, after it ran for at least a second so it has enough samples.
    fn finish(self) -> Seen {
        let ran = self.started.elapsed();
        std::thread::sleep(PROBE_MIN.saturating_sub(ran));
        self.stop.store(true, Ordering::Relaxed);
        let mut times = self.pings.join().expect("the probing client failed");
        let peak = self.rss.join().expect("rss sampler");
        times.sort();
        let p99 = times
            .get(times.len().saturating_sub(1) * 99 / 100)
            .copied()
            .unwrap_or_default();
        Seen {
            p99,
            answered: times.len(),
            rss_growth_kb: peak.saturating_sub(self.rss_before_kb),
        }
    }
}

/// Asserts a probe's findings and that the server did not panic.
fn assert_served(seen: &Seen, server: TestServer) {
    assert!(seen.answered > 20, "too few answers: {seen:?}");
    assert!(seen.p99 < P99_MAX, "others were served slowly: {seen:?}");
    assert!(
        seen.rss_growth_kb < RSS_GROWTH_MAX_KB,
        "memory grew under attack: {seen:?}"
    );
    let stderr = server.stop_and_stderr();
    assert!(
        !stderr.contains("panicked"),
        "the server panicked: {stderr}"
    );
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
}

/// Reads until EOF or an error (a reset counts as closed); the bytes read.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                let start = String::from_utf8_lossy(&got[..got.len().min(80)]).into_owned();
                panic!("the server kept the connection open; read {start:?}...")
            }
            Err(_) => return got,
        }
    }
}

fn connected_clients(client: &mut RawClient) -> usize {
    info_count(client, "clients", "connected_clients")
}

/// One numeric field of an INFO section.
fn info_count(client: &mut RawClient, section: &str, field: &str) -> usize {
    let info = client.cmd(&format!("INFO {section}"));
    info.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in {info}"))
}

/// Waits up to `within` for the server to count `expected` clients or fewer.
fn wait_clients_at_most(client: &mut RawClient, expected: usize, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let count = connected_clients(client);
        if count <= expected || Instant::now() > deadline {
            return count;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A small deterministic generator of bytes (xorshift), so failures replay.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

#[test]
fn slowloris_clients_do_not_hold_up_others() {
    let server = TestServer::start(&[]);
    let probe = Probe::start(&server);
    let request = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
    let mut slow: Vec<TcpStream> = (0..20).map(|_| connect(server.port)).collect();
    for byte in request.iter().take(5) {
        for stream in &mut slow {
            stream.write_all(&[*byte]).expect("slow write");
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let seen = probe.finish();
    assert_served(&seen, server);
}

#[test]
fn a_two_gigabyte_bulk_is_refused_and_a_large_unsent_one_is_bounded() {
    let server = TestServer::start(&["--client-query-buffer-limit", "4mb"]);
    let probe = Probe::start(&server);
    let mut huge = connect(server.port);
    huge.write_all(b"*2\r\n$3\r\nGET\r\n$2147483648\r\n")
        .expect("write");
    let reply = read_until_closed(&mut huge);
    assert_eq!(reply, b"-ERR Protocol error: invalid bulk length\r\n");
    // 500 MB is within proto-max-bulk-len; the client sends 8 MB of it and the query buffer
    // limit closes the connection long before the rest.
    let mut partial = connect(server.port);
    partial
        .write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$524288000\r\n")
        .expect("write");
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < 8 * 1024 * 1024 {
        if partial.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    assert!(read_until_closed(&mut partial).is_empty());
    let seen = probe.finish();
    assert_served(&seen, server);
}

#[test]
fn a_hundred_million_element_header_allocates_nothing_up_front() {
    let server = TestServer::start(&["--requirepass", "secret"]);
    let probe = Probe::start_as(&server, Some("secret"));
    // Before authentication the count alone is refused, as Redis does.
    let mut anonymous = connect(server.port);
    anonymous.write_all(b"*100000000\r\n").expect("write");
    assert_eq!(
        read_until_closed(&mut anonymous),
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    // AUTH lifts the limits for the very next command of the same pipeline.
    let mut pipelined = RawClient::connect(server.port);
    let mut request = b"*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n*21\r\n$4\r\nMSET\r\n".to_vec();
    for i in 0..10 {
        request.extend_from_slice(format!("$2\r\nk{i}\r\n$20000\r\n").as_bytes());
        request.extend_from_slice(&[b'v'; 20_000]);
        request.extend_from_slice(b"\r\n");
    }
    pipelined.send(&request);
    assert_eq!(pipelined.reply().trim_end(), "+OK");
    assert_eq!(pipelined.reply().trim_end(), "+OK");
    // After it, the header is taken but nothing is reserved for the arguments never sent.
    let mut client = RawClient::connect(server.port);
    assert_eq!(client.cmd("AUTH secret"), "+OK");
    client.send(b"*100000000\r\n");
    client.send(&b"$1\r\nx\r\n".repeat(10_000));
    std::thread::sleep(Duration::from_millis(500));
    let seen = probe.finish();
    assert!(seen.rss_growth_kb < 20 * 1024, "{seen:?}");
    assert_served(&seen, server);
}

#[test]
fn deep_nesting_is_a_protocol_error() {
    let server = TestServer::start(&[]);
    let probe = Probe::start(&server);
    // A request is a flat array of bulks: an array inside is refused at its first byte,
    // before any depth is built up. RESP3 aggregate types are not request syntax at all.
    for nested in [&b"*1\r\n"[..], b"*2\r\n", b"*1\r\n*1\r\n$1\r\n"] {
        let mut client = connect(server.port);
        // A write may fail once the server has answered and closed.
        let _ = client.write_all(&nested.repeat(100_000));
        let reply = read_until_closed(&mut client);
        assert_eq!(reply, b"-ERR Protocol error: expected '$', got '*'\r\n");
    }
    let seen = probe.finish();
    assert_served(&seen, server);
}

#[test]
fn random_bytes_never_hurt_the_server() {
    let server = TestServer::start(&[]);
    let probe = Probe::start(&server);
    for seed in 0..50u64 {
        let mut client = connect(server.port);
        let _ = client.write_all(&random_bytes(seed, 64 * 1024));
        let _ = client.shutdown(Shutdown::Write);
        read_until_closed(&mut client);
    }
    let seen = probe.finish();
    assert_served(&seen, server);
}

#[test]
fn half_closed_and_abandoned_connections_are_released() {
    let server = TestServer::start(&[]);
    let mut admin = RawClient::connect(server.port);
    let baseline = connected_clients(&mut admin);
    let probe = Probe::start(&server);
    let mut half: Vec<TcpStream> = (0..50).map(|_| connect(server.port)).collect();
    for stream in &mut half {
        stream.write_all(b"*2\r\n$3\r\nGET\r\n").expect("write");
        stream.shutdown(Shutdown::Write).expect("half close");
    }
    for stream in &mut half {
        assert!(read_until_closed(stream).is_empty());
    }
    let abandoned: Vec<TcpStream> = (0..50).map(|_| connect(server.port)).collect();
    drop(abandoned);
    let left = wait_clients_at_most(&mut admin, baseline + 1, Duration::from_secs(5));
    assert!(left <= baseline + 1, "{left} clients left of {baseline}");
    let seen = probe.finish();
    assert_served(&seen, server);
}

#[test]
fn thousands_of_idle_connections_are_held_then_timed_out() {
    // This process holds one end of each connection: make room for them where the soft
    // open-files limit is low (the server raises its own as Redis does).
    let wanted = 3000;
    let limit = rlimit::increase_nofile_limit(wanted + 1000).expect("open-files limit");
    let count = wanted.min(limit.saturating_sub(1000)) as usize;
    assert!(
        count >= 500,
        "an open-files limit of {limit} is too low for this test"
    );
    let server = TestServer::start(&["--timeout", "3"]);
    let probe = Probe::start(&server);
    let idle: Vec<TcpStream> = (0..count).map(|_| connect(server.port)).collect();
    let mut admin = RawClient::connect(server.port);
    // Counted as received rather than connected: on a loaded machine a full accept queue
    // delays some handshakes by seconds, while `timeout` already closes the first ones.
    let deadline = Instant::now() + Duration::from_secs(30);
    while info_count(&mut admin, "stats", "total_connections_received") < count {
        assert!(
            Instant::now() < deadline,
            "the idle connections were not all accepted"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(info_count(&mut admin, "stats", "rejected_connections"), 0);
    let seen = probe.finish();
    // The prober and the admin talk, the idle ones are closed by `timeout`.
    let left = wait_clients_at_most(&mut admin, 2, Duration::from_secs(10));
    assert!(left <= 2, "{left} clients still connected");
    drop(idle);
    assert_served(&seen, server);
}

#[test]
fn a_subscriber_that_never_reads_is_cut_off_and_the_publisher_goes_on() {
    let server = TestServer::start(&["--client-output-buffer-limit", "pubsub 4mb 1mb 1"]);
    let probe = Probe::start(&server);
    let mut subscriber = RawClient::connect(server.port);
    assert!(subscriber.cmd("SUBSCRIBE news").contains("subscribe"));
    // From here on the subscriber reads nothing.
    let mut publisher = RawClient::connect(server.port);
    let message = vec![b'm'; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut published = 0;
    loop {
        let receivers = publisher.call(&[b"PUBLISH", b"news", &message]);
        published += 1;
        if receivers == ":0" {
            break;
        }
        assert_eq!(receivers, ":1");
        assert!(
            Instant::now() < deadline,
            "the subscriber was never cut off"
        );
    }
    // The publisher goes on once the subscriber is gone.
    for _ in 0..100 {
        assert_eq!(publisher.call(&[b"PUBLISH", b"news", &message]), ":0");
    }
    assert!(published > 16, "cut off after {published} messages only");
    let seen = probe.finish();
    assert_served(&seen, server);
}

/// Pipelines `GET big` without ever reading until the server closes the connection or
/// `within` passes; whether it was closed.
fn flood_gets_without_reading(port: u16, within: Duration) -> bool {
    let mut flood = connect(port);
    flood
        .set_write_timeout(Some(Duration::from_millis(200)))
        .expect("write timeout");
    let requests = b"GET big\r\n".repeat(1000);
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match flood.write(&requests) {
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn a_get_flood_that_never_reads_is_disconnected_by_the_normal_limit() {
    let server = TestServer::start(&["--client-output-buffer-limit", "normal 8mb 2mb 2"]);
    let mut admin = RawClient::connect(server.port);
    admin.call(&[b"SET", b"big", &vec![b'v'; 1024 * 1024]]);
    let probe = Probe::start(&server);
    assert!(flood_gets_without_reading(
        server.port,
        Duration::from_secs(20)
    ));
    let seen = probe.finish();
    assert_served(&seen, server);
}

#[test]
fn a_get_flood_without_a_normal_limit_is_held_to_one_flush() {
    let server = TestServer::start(&[]);
    let mut admin = RawClient::connect(server.port);
    admin.call(&[b"SET", b"big", &vec![b'v'; 1024 * 1024]]);
    let probe = Probe::start(&server);
    // Nothing closes it (Redis's default has no normal limit), but its replies wait for the
    // socket, so memory does not grow with the requests.
    assert!(!flood_gets_without_reading(
        server.port,
        Duration::from_secs(5)
    ));
    let info = admin.cmd("INFO clients");
    let peak: u64 = info
        .lines()
        .find_map(|line| line.strip_prefix("client_recent_max_output_buffer:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("client_recent_max_output_buffer");
    assert!(peak >= 1024 * 1024, "{info}");
    let seen = probe.finish();
    assert_served(&seen, server);
}

#[test]
fn output_limits_are_set_and_read_in_redis_format() {
    let server = TestServer::start(&[]);
    let mut client = RawClient::connect(server.port);
    assert_eq!(
        client.call(&[
            b"CONFIG",
            b"SET",
            b"client-output-buffer-limit",
            b"normal 1mb 256kb 1 pubsub 64mb 16mb 30"
        ]),
        "+OK"
    );
    let reply = client.cmd("CONFIG GET client-output-buffer-limit");
    let expected =
        "normal 1048576 262144 1 slave 268435456 67108864 60 pubsub 67108864 16777216 30";
    assert!(reply.contains(expected), "{reply}");
    let refused = client.call(&[
        b"CONFIG",
        b"SET",
        b"client-output-buffer-limit",
        b"normal 1mb 256kb",
    ]);
    assert!(refused.starts_with("-ERR CONFIG SET failed"), "{refused}");
    // A reply larger than the hard limit closes the client at once, as in Redis.
    client.call(&[b"SET", b"big", &vec![b'v'; 2 * 1024 * 1024]]);
    client.send(b"GET big\r\n");
    assert!(client.is_closed());
    let mut other = RawClient::connect(server.port);
    let list = other.cmd("CLIENT LIST");
    assert!(list.contains(" omem=0 "), "{list}");
}

#[test]
fn maxclients_beyond_the_open_files_limit_is_refused() {
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("getrlimit");
    if hard >= 1 << 30 {
        return; // No hard limit to run into on this machine.
    }
    let server = TestServer::start(&[]);
    let mut admin = RawClient::connect(server.port);
    let reply = admin.cmd(&format!("CONFIG SET maxclients {}", hard + 1));
    assert_eq!(
        reply,
        format!(
            "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating system is not able to handle the specified number of clients, try with {}",
            hard - 32
        )
    );
    assert_eq!(admin.cmd("CONFIG SET maxclients 100"), "+OK");
    assert!(admin.cmd("CONFIG GET maxclients").ends_with("100"));
}
