//! Outbound links of a sentinel: to each monitored server a command link (PING, INFO,
//! PUBLISH hello, REPLICAOF) and a pub/sub link subscribed to `__sentinel__:hello`; to each
//! other sentinel a command link (PING, IS-MASTER-DOWN-BY-ADDR). Replies go back into the
//! state machine; a link that cannot connect drops its requests, and the machine sees the
//! missing replies as the instance being unreachable.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use slotkv_sentinel::hello::HELLO_CHANNEL;
use slotkv_sentinel::{LinkSpec, MasterDownReply, PeerKind, Request};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, ReadHalf, WriteHalf,
};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::core::Shared;
use crate::resp::encode_request;
use crate::tls::MaybeTls;

/// Requests queued per link before new ones are dropped (a stuck link must not grow memory).
pub const QUEUE_MAX: usize = 64;
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
const RECONNECT_DELAY: Duration = Duration::from_millis(250);
/// A reply slower than this closes the link (the machine's pending PING already counts).
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
const LINE_BYTES_MAX: u64 = 64 * 1024;
const BULK_BYTES_MAX: usize = 16 * 1024 * 1024;
const ARRAY_LEN_MAX: usize = 1 << 20;
const DEPTH_MAX: usize = 8;

/// A reply as read from an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Bytes>),
    Array(Option<Vec<Value>>),
}

#[derive(Debug)]
pub enum LinkError {
    Io(std::io::Error),
    Protocol(&'static str),
    Timeout,
    Refused(String),
}

impl From<std::io::Error> for LinkError {
    fn from(error: std::io::Error) -> LinkError {
        LinkError::Io(error)
    }
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Io(error) => write!(f, "{error}"),
            LinkError::Protocol(what) => write!(f, "protocol error: {what}"),
            LinkError::Timeout => write!(f, "timeout"),
            LinkError::Refused(text) => write!(f, "refused: {text}"),
        }
    }
}

/// One connection speaking RESP as a client.
struct Conn {
    reader: BufReader<ReadHalf<MaybeTls>>,
    writer: WriteHalf<MaybeTls>,
    local_ip: String,
}

impl Conn {
    /// Connects (over TLS under `tls-replication yes`, as Redis Sentinel does) and
    /// authenticates.
    async fn open(shared: &Shared, spec: &LinkSpec) -> Result<Conn, LinkError> {
        let address = (spec.addr.host.as_str(), spec.addr.port);
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
            .await
            .map_err(|_| LinkError::Timeout)??;
        stream.set_nodelay(true)?;
        let local_ip = stream.local_addr()?.ip().to_string();
        let stream = shared
            .tls
            .connect(stream, &spec.addr.host, shared.tls_links)
            .await?;
        let (read, writer) = tokio::io::split(stream);
        let mut conn = Conn {
            reader: BufReader::new(read),
            writer,
            local_ip,
        };
        if let Some(pass) = &spec.auth_pass {
            let mut words = vec!["AUTH".to_owned()];
            words.extend(spec.auth_user.clone());
            words.push(pass.clone());
            if let Value::Error(text) = conn.call(&words).await? {
                return Err(LinkError::Refused(text));
            }
        }
        Ok(conn)
    }

    async fn send(&mut self, words: &[String]) -> Result<(), LinkError> {
        let args: Vec<Bytes> = words.iter().map(|w| Bytes::from(w.clone())).collect();
        let mut out = BytesMut::new();
        encode_request(&args, &mut out);
        self.writer.write_all(&out).await?;
        self.writer.flush().await?;
        Ok(())
    }

    async fn call(&mut self, words: &[String]) -> Result<Value, LinkError> {
        self.send(words).await?;
        tokio::time::timeout(REPLY_TIMEOUT, read_value(&mut self.reader, 0))
            .await
            .map_err(|_| LinkError::Timeout)?
    }
}

/// Reads one RESP2 value, within the limits above.
fn read_value<'a, R: AsyncBufRead + Unpin + Send>(
    reader: &'a mut R,
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, LinkError>> + Send + 'a>> {
    Box::pin(async move {
        if depth > DEPTH_MAX {
            return Err(LinkError::Protocol("nesting too deep"));
        }
        let mut line = Vec::new();
        (&mut *reader)
            .take(LINE_BYTES_MAX)
            .read_until(b'\n', &mut line)
            .await?;
        if !line.ends_with(b"\r\n") {
            return Err(LinkError::Protocol("line not ended by CRLF"));
        }
        line.truncate(line.len() - 2);
        let Some((&kind, rest)) = line.split_first() else {
            return Err(LinkError::Protocol("empty line"));
        };
        let text = String::from_utf8_lossy(rest).into_owned();
        let number = || {
            text.parse::<i64>()
                .map_err(|_| LinkError::Protocol("bad number"))
        };
        match kind {
            b'+' => Ok(Value::Simple(text)),
            b'-' => Ok(Value::Error(text)),
            b':' => Ok(Value::Integer(number()?)),
            b'$' => {
                let Ok(len) = usize::try_from(number()?) else {
                    return Ok(Value::Bulk(None));
                };
                if len > BULK_BYTES_MAX {
                    return Err(LinkError::Protocol("bulk too long"));
                }
                let mut data = vec![0; len + 2];
                reader.read_exact(&mut data).await?;
                data.truncate(len);
                Ok(Value::Bulk(Some(Bytes::from(data))))
            }
            b'*' => {
                let Ok(len) = usize::try_from(number()?) else {
                    return Ok(Value::Array(None));
                };
                if len > ARRAY_LEN_MAX {
                    return Err(LinkError::Protocol("array too long"));
                }
                let mut items = Vec::with_capacity(len.min(64));
                for _ in 0..len {
                    items.push(read_value(reader, depth + 1).await?);
                }
                Ok(Value::Array(Some(items)))
            }
            _ => Err(LinkError::Protocol("unknown reply type")),
        }
    })
}

/// Starts the tasks of one link; dropping the returned sender ends them.
pub fn spawn(shared: &Arc<Shared>, spec: LinkSpec) -> mpsc::Sender<Request> {
    let (tx, rx) = mpsc::channel(QUEUE_MAX);
    let (closed_tx, closed_rx) = tokio::sync::watch::channel(());
    tokio::spawn(command_link(shared.clone(), spec.clone(), rx, closed_tx));
    if spec.kind == PeerKind::Instance {
        tokio::spawn(hello_link(shared.clone(), spec, closed_rx));
    }
    tx
}

/// Sends the link's requests one at a time and hands each reply to the machine.
async fn command_link(
    shared: Arc<Shared>,
    spec: LinkSpec,
    mut rx: mpsc::Receiver<Request>,
    _alive: tokio::sync::watch::Sender<()>,
) {
    loop {
        let mut conn = match Conn::open(&shared, &spec).await {
            Ok(conn) => conn,
            Err(error) => {
                tracing::debug!("sentinel link to {} failed: {error}", spec.addr);
                report_down(&shared, &spec);
                // Requests meanwhile are dropped: their replies will simply be missing.
                let deadline = tokio::time::Instant::now() + RECONNECT_DELAY;
                loop {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(_)) => continue,
                        Ok(None) => return,
                        Err(_) => break,
                    }
                }
                continue;
            }
        };
        loop {
            // While idle, watch the socket too: a peer that dies closes it, and the machine
            // hears of it at once rather than at the next PING.
            let request = tokio::select! {
                request = rx.recv() => request,
                closed = conn.reader.fill_buf() => {
                    tracing::debug!("sentinel link to {} closed: {closed:?}", spec.addr);
                    break;
                }
            };
            let Some(request) = request else {
                return;
            };
            if let Err(error) = serve_request(&shared, &spec, &mut conn, request).await {
                tracing::debug!("sentinel link to {} closed: {error}", spec.addr);
                break;
            }
        }
        report_down(&shared, &spec);
    }
}

fn report_down(shared: &Arc<Shared>, spec: &LinkSpec) {
    shared.with(|core, now| {
        core.machine
            .on_link_down(now, &spec.master, &spec.addr, spec.kind)
    });
}

async fn serve_request(
    shared: &Arc<Shared>,
    spec: &LinkSpec,
    conn: &mut Conn,
    request: Request,
) -> Result<(), LinkError> {
    let words = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
    match request {
        Request::Ping => {
            let reply = conn.call(&words(&["PING"])).await?;
            let valid = match &reply {
                Value::Simple(text) => text == "PONG",
                Value::Error(text) => text.starts_with("LOADING") || text.starts_with("MASTERDOWN"),
                _ => false,
            };
            shared.with(|core, now| {
                core.machine
                    .on_ping_reply(now, &spec.master, &spec.addr, spec.kind, valid)
            });
        }
        Request::Info => {
            if let Value::Bulk(Some(text)) = conn.call(&words(&["INFO"])).await? {
                let text = String::from_utf8_lossy(&text).into_owned();
                shared.with(|core, now| core.machine.on_info(now, &spec.master, &spec.addr, &text));
            }
        }
        Request::Hello(hello) => {
            let text = hello.format(&conn.local_ip);
            conn.call(&[String::from("PUBLISH"), HELLO_CHANNEL.to_owned(), text])
                .await?;
        }
        Request::ReplicaOf(target) => {
            let command = match &target {
                None => words(&["REPLICAOF", "NO", "ONE"]),
                Some(addr) => vec!["REPLICAOF".into(), addr.host.clone(), addr.port.to_string()],
            };
            let reply = conn.call(&command).await?;
            if let Value::Error(text) = reply {
                tracing::warn!("{} refused {}: {text}", spec.addr, command.join(" "));
                return Ok(());
            }
            // As Redis Sentinel does: persist the new role, and drop clients so they ask
            // the sentinels again where the primary is. Failures here change nothing.
            conn.call(&words(&["CONFIG", "REWRITE"])).await?;
            conn.call(&words(&["CLIENT", "KILL", "TYPE", "normal"]))
                .await?;
        }
        Request::AskMasterDown {
            master_addr,
            epoch,
            runid,
        } => {
            let command = vec![
                "SENTINEL".into(),
                "is-master-down-by-addr".into(),
                master_addr.host.clone(),
                master_addr.port.to_string(),
                epoch.to_string(),
                runid,
            ];
            if let Value::Array(Some(items)) = conn.call(&command).await? {
                if let [Value::Integer(down), Value::Bulk(Some(leader)), Value::Integer(leader_epoch)] =
                    items.as_slice()
                {
                    let reply = MasterDownReply {
                        about: master_addr,
                        down: *down == 1,
                        leader: String::from_utf8_lossy(leader).into_owned(),
                        leader_epoch: u64::try_from(*leader_epoch).unwrap_or(0),
                    };
                    shared.with(|core, now| {
                        core.machine
                            .on_master_down_reply(now, &spec.master, &spec.addr, &reply)
                    });
                }
            }
        }
    }
    Ok(())
}

/// Subscribes to the hello channel of a monitored server and hands each message over.
async fn hello_link(
    shared: Arc<Shared>,
    spec: LinkSpec,
    mut alive: tokio::sync::watch::Receiver<()>,
) {
    loop {
        let session = async {
            let mut conn = Conn::open(&shared, &spec).await?;
            conn.send(&["SUBSCRIBE".to_owned(), HELLO_CHANNEL.to_owned()])
                .await?;
            loop {
                let value = read_value(&mut conn.reader, 0).await?;
                let Value::Array(Some(items)) = value else {
                    continue;
                };
                if let [Value::Bulk(Some(kind)), _, Value::Bulk(Some(payload))] = items.as_slice() {
                    if &kind[..] == b"message" {
                        let text = String::from_utf8_lossy(payload).into_owned();
                        shared.with(|core, now| core.machine.on_hello(now, &text));
                    }
                }
            }
            #[allow(unreachable_code)]
            Ok::<(), LinkError>(())
        };
        tokio::select! {
            _ = alive.changed() => return,
            result = session => {
                if let Err(error) = result {
                    tracing::debug!("hello link to {} closed: {error}", spec.addr);
                }
            }
        }
        tokio::select! {
            _ = alive.changed() => return,
            _ = tokio::time::sleep(RECONNECT_DELAY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(bytes: &[u8]) -> Result<Value, LinkError> {
        let mut reader = BufReader::new(bytes);
        read_value(&mut reader, 0).await
    }

    fn bulk(text: &str) -> Value {
        Value::Bulk(Some(Bytes::copy_from_slice(text.as_bytes())))
    }

    #[tokio::test]
    async fn reads_the_replies_sentinels_get() {
        assert_eq!(
            read(b"+PONG\r\n").await.ok(),
            Some(Value::Simple("PONG".into()))
        );
        assert_eq!(
            read(b"-LOADING Redis is loading\r\n").await.ok(),
            Some(Value::Error("LOADING Redis is loading".into()))
        );
        assert_eq!(
            read(b"*3\r\n:1\r\n$1\r\n*\r\n:0\r\n").await.ok(),
            Some(Value::Array(Some(vec![
                Value::Integer(1),
                bulk("*"),
                Value::Integer(0)
            ])))
        );
        assert_eq!(read(b"$-1\r\n").await.ok(), Some(Value::Bulk(None)));
        assert_eq!(read(b"*-1\r\n").await.ok(), Some(Value::Array(None)));
        assert_eq!(
            read(b"*1\r\n*1\r\n$4\r\nrole\r\n").await.ok(),
            Some(Value::Array(Some(vec![Value::Array(Some(vec![bulk(
                "role"
            )]))])))
        );
    }

    #[tokio::test]
    async fn refuses_malformed_and_oversized_replies() {
        assert!(read(b"+PONG\n").await.is_err(), "no CRLF");
        assert!(read(b"?\r\n").await.is_err(), "unknown type");
        assert!(read(b":x\r\n").await.is_err(), "bad number");
        assert!(read(b"$5\r\nab\r\n").await.is_err(), "short bulk");
        let huge = format!("${}\r\n", BULK_BYTES_MAX + 1);
        assert!(read(huge.as_bytes()).await.is_err(), "bulk over the limit");
        let deep = "*1\r\n".repeat(DEPTH_MAX + 2);
        assert!(
            read(deep.as_bytes()).await.is_err(),
            "nesting over the limit"
        );
        let long_line = vec![b'+'; 100_000];
        assert!(read(&long_line).await.is_err(), "line over the limit");
    }
}
