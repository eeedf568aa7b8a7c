//! TLS end to end: real `slotkv-server` processes with a CA and certificates made here (rcgen),
//! spoken to by a small rustls client: the TLS port, mutual TLS (required, optional, refused),
//! a client trusting another CA, protocol limits, reload on CONFIG SET, a TLS-only server, a
//! replica linked over TLS and two cluster nodes meeting over a TLS bus.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, TestServer};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// A test CA that issues certificates into a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
    ca_file: PathBuf,
}

/// A certificate and its key, as files.
struct Issued {
    cert: PathBuf,
    key: PathBuf,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let ca = params.self_signed(&ca_key).unwrap();
        let ca_file = dir.path().join("ca.crt");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        Pki {
            dir,
            ca,
            ca_key,
            ca_file,
        }
    }

    fn issue(&self, name: &str) -> Issued {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        let issued = Issued {
            cert: self.dir.path().join(format!("{name}.crt")),
            key: self.dir.path().join(format!("{name}.key")),
        };
        std::fs::write(&issued.cert, cert.pem()).unwrap();
        std::fs::write(&issued.key, key.serialize_pem()).unwrap();
        issued
    }

    fn ca(&self) -> String {
        path(&self.ca_file)
    }
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The options of a server with a TLS port on `tls_port`.
fn tls_options(pki: &Pki, server: &Issued, tls_port: u16, auth: &str) -> Vec<String> {
    [
        "--tls-port",
        &tls_port.to_string(),
        "--tls-cert-file",
        &path(&server.cert),
        "--tls-key-file",
        &path(&server.key),
        "--tls-ca-cert-file",
        &pki.ca(),
        "--tls-auth-clients",
        auth,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The options of a replica of the primary whose TLS port is `primary_tls`, linking over
/// TLS with `identity` and trusting `trusted`'s CA.
fn tls_replica_options(trusted: &Pki, identity: &Issued, primary_tls: u16) -> Vec<String> {
    [
        "--tls-replication",
        "yes",
        "--tls-cert-file",
        &path(&identity.cert),
        "--tls-key-file",
        &path(&identity.key),
        "--tls-ca-cert-file",
        &trusted.ca(),
        "--replicaof",
        "127.0.0.1",
        &primary_tls.to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

fn start(options: &[String]) -> TestServer {
    let refs: Vec<&str> = options.iter().map(String::as_str).collect();
    TestServer::start(&refs)
}

/// A blocking TLS client speaking RESP.
struct TlsClient {
    reader: BufReader<StreamOwned<ClientConnection, TcpStream>>,
}

fn client_config(trusted: &Pki, identity: Option<&Issued>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&trusted.ca_file).unwrap())
        .unwrap();
    let builder = ClientConfig::builder().with_root_certificates(roots);
    Arc::new(match identity {
        Some(issued) => {
            let certs = vec![CertificateDer::from_pem_file(&issued.cert).unwrap()];
            let key = PrivateKeyDer::from_pem_file(&issued.key).unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    })
}

impl TlsClient {
    /// Connects and completes the handshake (which fails on a certificate the client refuses).
    fn connect(port: u16, config: Arc<ClientConfig>) -> std::io::Result<TlsClient> {
        let tcp = TcpStream::connect(("127.0.0.1", port))?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
        let connection = ClientConnection::new(config, name).map_err(std::io::Error::other)?;
        let mut stream = StreamOwned::new(connection, tcp);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(TlsClient {
            reader: BufReader::new(stream),
        })
    }

    /// Sends one command; its reply as raw text without the final CRLF, or the error that
    /// ended the session (a refused client certificate shows up here under TLS 1.3).
    fn try_cmd(&mut self, line: &str) -> std::io::Result<String> {
        let words: Vec<&str> = line.split(' ').collect();
        let mut request = format!("*{}\r\n", words.len());
        for word in words {
            request.push_str(&format!("${}\r\n{word}\r\n", word.len()));
        }
        let stream = self.reader.get_mut();
        stream.write_all(request.as_bytes())?;
        stream.flush()?;
        let reply = self.reply()?;
        Ok(reply.trim_end().to_owned())
    }

    fn cmd(&mut self, line: &str) -> String {
        self.try_cmd(line).expect("TLS command")
    }

    fn reply(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let mut out = line.clone();
        let count: i64 = line.get(1..).unwrap_or("").trim_end().parse().unwrap_or(-1);
        match line.as_bytes().first() {
            Some(b'$') if count >= 0 => {
                let mut body = vec![0; count as usize + 2];
                self.reader.read_exact(&mut body)?;
                out.push_str(&String::from_utf8_lossy(&body));
            }
            Some(b'*') if count > 0 => {
                for _ in 0..count {
                    out.push_str(&self.reply()?);
                }
            }
            _ => {}
        }
        Ok(out)
    }

    /// The common name of the certificate the server presented.
    fn server_names(&self) -> String {
        let certs = self
            .reader
            .get_ref()
            .conn
            .peer_certificates()
            .unwrap_or_default();
        certs
            .first()
            .map(|c| String::from_utf8_lossy(c.as_ref()).into_owned())
            .unwrap_or_default()
    }
}

#[test]
fn the_tls_port_serves_commands_beside_the_plain_port() {
    let pki = Pki::new("ca");
    let server_cert = pki.issue("server");
    let tls_port = free_port();
    let server = start(&tls_options(&pki, &server_cert, tls_port, "no"));
    let mut tls = TlsClient::connect(tls_port, client_config(&pki, None)).unwrap();
    assert_eq!(tls.cmd("PING"), "+PONG");
    assert_eq!(tls.cmd("SET greeting hello"), "+OK");
    let mut plain = server.raw();
    assert_eq!(plain.cmd("GET greeting"), "$5\r\nhello");
    // A large reply crosses many TLS records.
    let big = "x".repeat(300_000);
    assert_eq!(tls.cmd(&format!("SET big {big}")), "+OK");
    assert_eq!(tls.cmd("STRLEN big"), ":300000");
    assert_eq!(tls.cmd("GET big").len(), 300_000 + "$300000\r\n".len());
    // CLIENT LIST shows the TLS connection on the TLS port.
    let list = plain.cmd("CLIENT LIST");
    assert!(
        list.contains(&format!("laddr=127.0.0.1:{tls_port}")),
        "{list}"
    );
    assert_eq!(
        plain.cmd("CONFIG GET tls-port"),
        format!(
            "*2\r\n$8\r\ntls-port\r\n${}\r\n{tls_port}",
            tls_port.to_string().len()
        )
    );
}

#[test]
fn mutual_tls_is_required_optional_or_refused() {
    let pki = Pki::new("ca");
    let server_cert = pki.issue("server");
    let client_cert = pki.issue("client");
    let other = Pki::new("other ca");
    let stranger = other.issue("stranger");
    let tls_port = free_port();
    let server = start(&tls_options(&pki, &server_cert, tls_port, "yes"));
    let mut trusted =
        TlsClient::connect(tls_port, client_config(&pki, Some(&client_cert))).unwrap();
    assert_eq!(trusted.cmd("PING"), "+PONG");
    let refused = |identity: Option<&Issued>| {
        TlsClient::connect(tls_port, client_config(&pki, identity))
            .and_then(|mut client| client.try_cmd("PING"))
            .is_err()
    };
    assert!(refused(None), "a client without a certificate was served");
    assert!(
        refused(Some(&stranger)),
        "a certificate of another CA was served"
    );
    // optional: no certificate is fine, a bad one is still refused.
    let mut plain = server.raw();
    assert_eq!(plain.cmd("CONFIG SET tls-auth-clients optional"), "+OK");
    let mut anonymous = TlsClient::connect(tls_port, client_config(&pki, None)).unwrap();
    assert_eq!(anonymous.cmd("PING"), "+PONG");
    assert!(refused(Some(&stranger)));
    assert_eq!(
        plain.cmd("CONFIG SET tls-auth-clients maybe"),
        "-ERR CONFIG SET failed (possibly related to argument 'tls-auth-clients') - argument(s) \
         must be one of the following: no, yes, optional"
    );
}

#[test]
fn a_client_trusting_another_ca_refuses_the_server() {
    let pki = Pki::new("ca");
    let server_cert = pki.issue("server");
    let tls_port = free_port();
    let _server = start(&tls_options(&pki, &server_cert, tls_port, "no"));
    let other = Pki::new("other ca");
    let error = TlsClient::connect(tls_port, client_config(&other, None))
        .err()
        .expect("the handshake must fail");
    assert!(error.to_string().contains("certificate"), "{error}");
}

#[test]
fn tls_protocols_and_suites_limit_the_handshake() {
    let pki = Pki::new("ca");
    let server_cert = pki.issue("server");
    let tls_port = free_port();
    let mut options = tls_options(&pki, &server_cert, tls_port, "no");
    options.extend(["--tls-protocols", "TLSv1.3"].map(str::to_owned));
    let server = start(&options);
    let tls12_only = {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(&pki.ca_file).unwrap())
            .unwrap();
        Arc::new(
            ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    };
    assert!(TlsClient::connect(tls_port, tls12_only).is_err());
    let mut tls13 = TlsClient::connect(tls_port, client_config(&pki, None)).unwrap();
    assert_eq!(tls13.cmd("PING"), "+PONG");
    let mut plain = server.raw();
    assert!(plain
        .cmd("CONFIG SET tls-protocols TLSv1.1")
        .starts_with("-ERR CONFIG SET failed (possibly related to argument 'tls-protocols')"));
    assert!(plain
        .cmd("CONFIG SET tls-ciphersuites TLS_AES_128_CCM_8_SHA256")
        .contains("Unsupported TLS 1.3 ciphersuite"));
    assert_eq!(
        plain.cmd("CONFIG SET tls-ciphersuites TLS_CHACHA20_POLY1305_SHA256"),
        "+OK"
    );
    let mut chacha = TlsClient::connect(tls_port, client_config(&pki, None)).unwrap();
    assert_eq!(chacha.cmd("PING"), "+PONG");
    let suite = chacha
        .reader
        .get_ref()
        .conn
        .negotiated_cipher_suite()
        .map(|s| s.suite());
    assert_eq!(
        suite,
        Some(rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256)
    );
}

#[test]
fn config_set_reloads_the_certificate_and_keeps_the_old_one_on_errors() {
    let pki = Pki::new("ca");
    let first = pki.issue("first-server");
    let second = pki.issue("second-server");
    let tls_port = free_port();
    let server = start(&tls_options(&pki, &first, tls_port, "no"));
    let mut before = TlsClient::connect(tls_port, client_config(&pki, None)).unwrap();
    assert!(before.server_names().contains("first-server"));
    let mut plain = server.raw();
    let set = format!(
        "CONFIG SET tls-cert-file {} tls-key-file {}",
        path(&second.cert),
        path(&second.key)
    );
    assert_eq!(plain.cmd(&set), "+OK");
    let after = TlsClient::connect(tls_port, client_config(&pki, None)).unwrap();
    assert!(after.server_names().contains("second-server"));
    // The established connection keeps working on its session.
    assert_eq!(before.cmd("PING"), "+PONG");
    // A key that does not match, or a missing file: refused, the old files stay.
    let mismatched = format!("CONFIG SET tls-key-file {}", path(&first.key));
    assert_eq!(
        plain.cmd(&mismatched),
        "-ERR CONFIG SET failed (possibly related to argument 'tls-key-file') - Unable to update \
         TLS configuration. Check server logs."
    );
    assert!(plain
        .cmd("CONFIG SET tls-cert-file /nonexistent/cert.pem")
        .contains("Unable to update TLS configuration"));
    assert!(plain
        .cmd("CONFIG GET tls-cert-file")
        .contains(&path(&second.cert)));
    let still = TlsClient::connect(tls_port, client_config(&pki, None)).unwrap();
    assert!(still.server_names().contains("second-server"));
}

/// Starts a server that listens on TLS only (no plain port) and waits until it answers there.
fn start_tls_only(options: &[String]) -> (std::process::Child, u16) {
    let tls_port: u16 = options
        .windows(2)
        .find(|w| w[0] == "--tls-port")
        .and_then(|w| w[1].parse().ok())
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_slotkv-server"))
        .args(["--port", "0", "--bind", "127.0.0.1", "--save", ""])
        .args(options)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (child, tls_port)
}

#[test]
fn port_zero_with_a_tls_port_listens_on_tls_only() {
    let pki = Pki::new("ca");
    let server_cert = pki.issue("server");
    let options = tls_options(&pki, &server_cert, free_port(), "no");
    let (mut child, tls_port) = start_tls_only(&options);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut client = loop {
        if let Ok(client) = TlsClient::connect(tls_port, client_config(&pki, None)) {
            break client;
        }
        assert!(Instant::now() < deadline, "no TLS listener");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(client.cmd("PING"), "+PONG");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn unusable_tls_files_stop_the_server_at_start_up() {
    let output = Command::new(env!("CARGO_BIN_EXE_slotkv-server"))
        .args(["--port", &free_port().to_string(), "--bind", "127.0.0.1"])
        .args(["--tls-port", &free_port().to_string()])
        .args(["--tls-cert-file", "/nonexistent/server.crt"])
        .args(["--tls-key-file", "/nonexistent/server.key"])
        .args(["--tls-auth-clients", "no"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("/nonexistent/server.crt"), "{log}");
}

fn info_field(client: &mut common::RawClient, field: &str) -> Option<String> {
    let info = client.cmd("INFO replication");
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .map(str::to_owned)
}

#[test]
fn a_replica_follows_its_primary_over_tls() {
    let pki = Pki::new("ca");
    let primary_cert = pki.issue("primary");
    let replica_cert = pki.issue("replica");
    let primary_tls = free_port();
    let primary = start(&tls_options(&pki, &primary_cert, primary_tls, "yes"));
    let mut p = primary.raw();
    assert_eq!(p.cmd("SET before-sync 1"), "+OK");
    let replica = start(&tls_replica_options(&pki, &replica_cert, primary_tls));
    let mut r = replica.raw();
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(&mut r, "master_link_status").as_deref() != Some("up") {
        assert!(Instant::now() < deadline, "the TLS link never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(r.cmd("GET before-sync"), "$1\r\n1");
    assert_eq!(p.cmd("SET after-sync 2"), "+OK");
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.cmd("GET after-sync") != "$1\r\n2" {
        assert!(Instant::now() < deadline, "the stream did not arrive");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The primary lists its replica's link as a client of its TLS port.
    assert!(p
        .cmd("CLIENT LIST TYPE replica")
        .contains(&format!("laddr=127.0.0.1:{primary_tls}")));
}

#[test]
fn a_replica_with_the_wrong_ca_never_links() {
    let pki = Pki::new("ca");
    let primary_cert = pki.issue("primary");
    let other = Pki::new("other");
    let replica_cert = other.issue("replica");
    let primary_tls = free_port();
    let _primary = start(&tls_options(&pki, &primary_cert, primary_tls, "yes"));
    let replica = start(&tls_replica_options(&other, &replica_cert, primary_tls));
    let mut r = replica.raw();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        info_field(&mut r, "master_link_status").as_deref(),
        Some("down")
    );
}

fn cluster_info(client: &mut common::RawClient, field: &str) -> String {
    client
        .cmd("CLUSTER INFO")
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .to_owned()
}

#[test]
fn two_cluster_nodes_meet_over_a_tls_bus_and_redirect_tls_clients_to_tls_ports() {
    let pki = Pki::new("ca");
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let nodes: Vec<(TestServer, u16, u16)> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            let cert = pki.issue(&format!("node{i}"));
            let tls_port = free_port();
            let bus = free_port();
            let mut options = tls_options(&pki, &cert, tls_port, "yes");
            options.extend(
                [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-node-timeout",
                    "1000",
                    "--cluster-port",
                    &bus.to_string(),
                    "--tls-cluster",
                    "yes",
                    "--dir",
                    &path(dir.path()),
                ]
                .map(str::to_owned),
            );
            (start(&options), tls_port, bus)
        })
        .collect();
    let mut a = nodes[0].0.raw();
    let mut b = nodes[1].0.raw();
    assert_eq!(a.cmd("CLUSTER ADDSLOTSRANGE 0 8191"), "+OK");
    assert_eq!(b.cmd("CLUSTER ADDSLOTSRANGE 8192 16383"), "+OK");
    assert_eq!(a.cmd("CLUSTER SET-CONFIG-EPOCH 1"), "+OK");
    assert_eq!(b.cmd("CLUSTER SET-CONFIG-EPOCH 2"), "+OK");
    let meet = format!("CLUSTER MEET 127.0.0.1 {} {}", nodes[1].0.port, nodes[1].2);
    assert_eq!(a.cmd(&meet), "+OK");
    let deadline = Instant::now() + Duration::from_secs(20);
    while cluster_info(&mut a, "cluster_state") != "ok"
        || cluster_info(&mut b, "cluster_state") != "ok"
    {
        assert!(
            Instant::now() < deadline,
            "the TLS bus never joined the nodes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // "foo" hashes to slot 12182, served by the second node: a plain client is sent to its
    // plain port, a TLS client to its TLS port.
    let plain_moved = a.cmd("GET foo");
    assert_eq!(
        plain_moved,
        format!("-MOVED 12182 127.0.0.1:{}", nodes[1].0.port)
    );
    let client_cert = pki.issue("client");
    let mut tls = TlsClient::connect(nodes[0].1, client_config(&pki, Some(&client_cert))).unwrap();
    assert_eq!(
        tls.cmd("GET foo"),
        format!("-MOVED 12182 127.0.0.1:{}", nodes[1].1)
    );
    let shards = a.cmd("CLUSTER SHARDS");
    assert!(shards.contains("tls-port"), "{shards}");
}

#[test]
fn a_sentinel_monitors_a_primary_and_its_replica_over_tls() {
    let pki = Pki::new("ca");
    let primary_tls = free_port();
    let primary = start(&tls_options(
        &pki,
        &pki.issue("primary"),
        primary_tls,
        "yes",
    ));
    let replica_tls = free_port();
    let mut replica_options = tls_options(&pki, &pki.issue("replica"), replica_tls, "yes");
    replica_options.extend(
        [
            "--tls-replication",
            "yes",
            "--replicaof",
            "127.0.0.1",
            &primary_tls.to_string(),
        ]
        .map(str::to_owned),
    );
    let _replica = start(&replica_options);
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "sentinel monitor mymaster 127.0.0.1 {primary_tls} 1\n\
             sentinel down-after-milliseconds mymaster 1000\n"
        ),
    )
    .unwrap();
    let sentinel_tls = free_port();
    let mut options = vec![path(&conf), "--sentinel".to_owned()];
    options.extend(tls_options(
        &pki,
        &pki.issue("sentinel"),
        sentinel_tls,
        "yes",
    ));
    options.extend(["--tls-replication", "yes"].map(str::to_owned));
    let sentinel = start(&options);
    let mut s = sentinel.raw();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let master = s.cmd("SENTINEL MASTER mymaster");
        let fields: Vec<&str> = master.lines().filter(|l| !l.starts_with('$')).collect();
        let field = |name: &str| {
            fields
                .iter()
                .position(|f| *f == name)
                .and_then(|i| fields.get(i + 1).copied())
        };
        if field("flags") == Some("master") && field("num-slaves") == Some("1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sentinel never saw both over TLS: {master}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let replicas = s.cmd("SENTINEL REPLICAS mymaster");
    assert!(replicas.contains(&replica_tls.to_string()), "{replicas}");
    // The sentinel's own TLS port, with a client certificate.
    let client_cert = pki.issue("client");
    let mut tls =
        TlsClient::connect(sentinel_tls, client_config(&pki, Some(&client_cert))).unwrap();
    assert_eq!(tls.cmd("PING"), "+PONG");
    assert!(tls
        .cmd("SENTINEL GET-MASTER-ADDR-BY-NAME mymaster")
        .contains(&primary_tls.to_string()));
    drop(primary);
}

#[test]
fn handshakes_in_progress_count_against_maxclients() {
    let pki = Pki::new("ca");
    let server_cert = pki.issue("server");
    let tls_port = free_port();
    let mut options = tls_options(&pki, &server_cert, tls_port, "no");
    options.extend(["--maxclients", "3"].map(str::to_owned));
    let server = start(&options);
    let mut admin = server.raw();
    // The start-up probe's connection may still be leaving.
    common::wait_until(
        "the admin to be the only client",
        Duration::from_secs(5),
        || {
            admin
                .cmd("INFO clients")
                .contains("connected_clients:1\r\n")
        },
    );
    // Three connections that never start a handshake: two fill maxclients beside the admin,
    // whichever of them the server takes first; the last one is closed at once.
    let mut stalled: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", tls_port)).unwrap())
        .collect();
    let mut closed = 0;
    for stream in &mut stalled {
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        if matches!(stream.read(&mut [0u8; 1]), Ok(0)) {
            closed += 1;
        }
    }
    assert_eq!(closed, 1, "one connection past maxclients is closed");
    let stats = admin.cmd("INFO stats");
    assert!(stats.contains("rejected_connections:1\r\n"), "{stats}");
    // Once the stalled ones go, a real TLS client gets in.
    drop(stalled);
    common::wait_until(
        "the stalled handshakes to end",
        Duration::from_secs(5),
        || {
            TlsClient::connect(tls_port, client_config(&pki, None))
                .map(|mut c| c.cmd("PING") == "+PONG")
                .unwrap_or(false)
        },
    );
}
