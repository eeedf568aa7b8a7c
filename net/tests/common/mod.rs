//! Starts real `slotkv-server` processes on free loopback ports for end-to-end tests, and kills
//! them (by PID, through the child handle) when the test drops them.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Polls `done` every 50 ms until it holds; panics naming `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// A running server.
pub struct TestServer {
    pub port: u16,
    child: Child,
    /// `--requirepass`, if given, to identify the server before the test authenticates.
    password: Option<String>,
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

impl TestServer {
    /// Starts a server with extra command-line arguments (a config file path, if any, first).
    pub fn start(extra: &[&str]) -> TestServer {
        let (config_file, options) = match extra.split_first() {
            Some((first, rest)) if !first.starts_with("--") => (Some(*first), rest),
            _ => (None, extra),
        };
        for _ in 0..5 {
            let port = free_port();
            let port_text = port.to_string();
            let mut args: Vec<&str> = config_file.into_iter().collect();
            args.extend([
                "--port",
                &port_text,
                "--bind",
                "127.0.0.1",
                "--loglevel",
                "warning",
                // No automatic or final saves into the working directory unless a test asks
                // (its own --save and --dir come later and win).
                "--save",
                "",
                // Tests run DEBUG SLEEP / DIGEST from loopback; a test can pass `no` to check
                // Redis's default.
                "--enable-debug-command",
                "local",
            ]);
            args.extend_from_slice(options);
            let child = Command::new(env!("CARGO_BIN_EXE_slotkv-server"))
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn slotkv-server");
            let password = options
                .windows(2)
                .find(|pair| pair[0] == "--requirepass")
                .map(|pair| pair[1].to_owned());
            let mut server = TestServer {
                port,
                child,
                password,
            };
            if server.wait_ready() {
                return server;
            }
            // The port was taken between our probe and the server's bind: try another.
        }
        panic!("slotkv-server did not start");
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            // Another test's server may hold the port (both probed the same free port): only a
            // server reporting our child's process id counts.
            if self.answering_pid() == Some(self.child.id()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The process id reported by whatever answers on the port.
    fn answering_pid(&self) -> Option<u32> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        if let Some(password) = &self.password {
            stream
                .write_all(format!("AUTH {password}\r\n").as_bytes())
                .ok()?;
        }
        stream.write_all(b"INFO server\r\n").ok()?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).ok()? > 0 {
            if let Some(pid) = line.trim_end().strip_prefix("process_id:") {
                return pid.parse().ok();
            }
            line.clear();
        }
        None
    }

    /// A client of the `redis` crate.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .expect("client")
            .get_connection()
            .expect("connect")
    }

    /// A raw socket to speak RESP by hand.
    pub fn raw(&self) -> RawClient {
        RawClient::connect(self.port)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server and returns what it wrote on stderr, where a panic shows (logs go
    /// to stdout).
    pub fn stop_and_stderr(mut self) -> String {
        let _ = self.child.kill();
        let mut text = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    }

    /// Waits up to `timeout` for the process to exit; returns its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A hand-driven RESP connection.
pub struct RawClient {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl RawClient {
    /// A raw connection to a server on 127.0.0.1 (reads time out after 10 s).
    pub fn connect(port: u16) -> RawClient {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        RawClient {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            stream,
        }
    }

    /// Sends `words` as one RESP command and returns its reply as raw text, CRLFs trimmed at
    /// the end (`+OK`, `-ERR ...`, `:1`, `$1\r\nv`).
    pub fn call(&mut self, words: &[&[u8]]) -> String {
        let mut request = format!("*{}\r\n", words.len()).into_bytes();
        for word in words {
            request.extend_from_slice(format!("${}\r\n", word.len()).as_bytes());
            request.extend_from_slice(word);
            request.extend_from_slice(b"\r\n");
        }
        self.send(&request);
        self.reply().trim_end().to_owned()
    }

    /// [`RawClient::call`] with text words.
    pub fn cmd(&mut self, line: &str) -> String {
        let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        self.call(&words)
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads one line including its CRLF.
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read line");
        line
    }

    /// Reads exactly `n` bytes.
    pub fn exact(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.reader.read_exact(&mut buf).expect("read exact");
        buf
    }

    /// Reads one whole reply as raw text (enough for simple, nested and bulk replies).
    pub fn reply(&mut self) -> String {
        let line = self.line();
        assert!(!line.is_empty(), "the server closed the connection");
        let mut out = line.clone();
        let (kind, rest) = line.split_at(1);
        let count: i64 = rest.trim_end().parse().unwrap_or(-1);
        match kind {
            "$" | "=" | "!" if count >= 0 => {
                out.push_str(&String::from_utf8_lossy(&self.exact(count as usize + 2)));
            }
            "*" | "~" | ">" if count > 0 => {
                for _ in 0..count {
                    out.push_str(&self.reply());
                }
            }
            "%" if count > 0 => {
                for _ in 0..count * 2 {
                    out.push_str(&self.reply());
                }
            }
            _ => {}
        }
        out
    }

    /// Reads and discards until the server closes the connection; an error if the read
    /// timeout passes first.
    pub fn drain_until_closed(&mut self) -> std::io::Result<usize> {
        let mut total = 0;
        let mut buf = [0u8; 4096];
        loop {
            match self.reader.read(&mut buf)? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    /// Whether the server closed the connection (reads EOF within the timeout).
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0) | Err(_))
    }
}

/// Debian's redis-server, for the interoperability checks.
pub const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// A redis-server process on a free port, killed (by its child handle) on drop.
pub struct RedisServer {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    pub fn start(extra: &[&str]) -> Option<RedisServer> {
        if !std::path::Path::new(REDIS_SERVER).exists() {
            eprintln!("note: {REDIS_SERVER} is missing; skipping the interoperability check");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(REDIS_SERVER)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--databases", "16"])
            .args(["--repl-diskless-sync-delay", "0"])
            .arg("--dir")
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = RedisServer {
            port,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while server.client().is_none() {
            if Instant::now() > deadline {
                panic!("redis-server did not answer");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    pub fn client(&self) -> Option<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .ok()?
            .get_connection()
            .ok()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
