//! A small client for memcached's text protocol: the commands the store needs, pipelined, over
//! a fixed-size pool of TCP connections that reconnects after the server went away.
//!
//! Every call takes a connection from the pool (connecting one if none is idle), writes its
//! whole request (one or many commands) and reads the answers while it writes, so a pipeline
//! never stalls on full socket buffers: one round trip per call. A connection goes back to the
//! pool only after a complete, well-formed exchange; after any failure it is dropped. When a
//! reused connection turns out to be dead (the server restarted), the idle ones are dropped too
//! and the call is tried once more on a fresh connection.

use std::collections::HashMap;
use std::io;
use std::sync::Mutex;
use std::time::Duration;

use key_value_core::{Error, ErrorKind, Result};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Semaphore;

/// The longest answer line accepted (a `VALUE` or `STAT` line is far shorter).
const MAX_LINE: usize = 64 * 1024;
/// The largest value accepted from the server: memcached's `-I` goes up to 1 GiB.
const MAX_VALUE: usize = 1 << 30;
/// Keys per `get` command; a `get_many` sends as many commands as needed, pipelined.
const GET_CHUNK: usize = 100;

/// One `set` of a pipelined write.
pub(crate) struct SetItem<'a> {
    pub key: &'a str,
    pub exptime: i64,
    pub data: &'a [u8],
}

/// What the store asks the server.
pub(crate) enum Request<'a> {
    /// `get k1 k2 ...` (in chunks).
    Get(&'a [&'a str]),
    /// `set key 0 exptime bytes` per item.
    Set(&'a [SetItem<'a>]),
    /// `delete key` per key.
    Delete(&'a [&'a str]),
    /// `mg key s f t v`: value, flags and remaining TTL of one item.
    MetaGet(&'a str),
    /// `stats settings`.
    StatsSettings,
    /// `flush_all`.
    FlushAll,
}

/// The server's answer, by request.
pub(crate) enum Response {
    /// Found items by key (missing keys are absent).
    Values(HashMap<String, Vec<u8>>),
    /// Per `set`: `Ok`, or the server's error line (`SERVER_ERROR object too large for cache`).
    Stored(Vec<std::result::Result<(), String>>),
    /// Per `delete`: whether the key existed.
    Deleted(Vec<bool>),
    /// The item of a meta get.
    Meta(Option<RawItem>),
    /// `stats settings`, name to value.
    Stats(HashMap<String, String>),
    /// `flush_all` succeeded.
    Done,
}

/// An item as memcached holds it, read with the meta command `mg <key> s f t v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawItem {
    /// The client flags (py-key-value and this store write 0).
    pub flags: u32,
    /// The remaining time to live the server reports, in seconds; `None` when the item never
    /// expires (`t-1`).
    pub ttl: Option<i64>,
    /// The stored bytes.
    pub value: Vec<u8>,
}

/// Why an exchange failed, before it becomes an [`Error`].
#[derive(Debug)]
enum Failure {
    /// The connection could not be used: refused, reset, closed.
    Io(io::Error),
    /// No answer in time.
    Timeout,
    /// The server sent something this client does not understand.
    Protocol(String),
    /// `ERROR` or `CLIENT_ERROR`: the server rejected the request itself.
    Client(String),
    /// `SERVER_ERROR` for a whole command.
    Server(String),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

type Exchange<T> = std::result::Result<T, Failure>;

/// One connection: a buffered read half and the write half.
struct Conn {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Conn {
    async fn connect(address: &str) -> io::Result<Conn> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        let (r, w) = stream.into_split();
        Ok(Conn {
            reader: BufReader::with_capacity(64 * 1024, r),
            writer: w,
        })
    }

    /// Writes the request and reads its answers at the same time.
    async fn execute(&mut self, request: &Request<'_>) -> Exchange<Response> {
        let out = encode(request);
        let Conn { reader, writer } = self;
        let write = async {
            writer.write_all(&out).await?;
            writer.flush().await?;
            Ok::<(), Failure>(())
        };
        let ((), response) = tokio::try_join!(write, read_response(reader, request))?;
        Ok(response)
    }
}

fn encode(request: &Request<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    match request {
        Request::Get(keys) => {
            for chunk in keys.chunks(GET_CHUNK) {
                out.extend_from_slice(b"get");
                for k in chunk {
                    out.push(b' ');
                    out.extend_from_slice(k.as_bytes());
                }
                out.extend_from_slice(b"\r\n");
            }
        }
        Request::Set(items) => {
            for item in *items {
                out.extend_from_slice(
                    format!(
                        "set {} 0 {} {}\r\n",
                        item.key,
                        item.exptime,
                        item.data.len()
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(item.data);
                out.extend_from_slice(b"\r\n");
            }
        }
        Request::Delete(keys) => {
            for k in *keys {
                out.extend_from_slice(b"delete ");
                out.extend_from_slice(k.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        Request::MetaGet(key) => {
            out.extend_from_slice(format!("mg {key} s f t v\r\n").as_bytes());
        }
        Request::StatsSettings => out.extend_from_slice(b"stats settings\r\n"),
        Request::FlushAll => out.extend_from_slice(b"flush_all\r\n"),
    }
    out
}

/// Reads one line without its `\r\n`; at most [`MAX_LINE`] bytes.
async fn read_line(r: &mut BufReader<OwnedReadHalf>) -> Exchange<String> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Err(Failure::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            )));
        }
        match buf.iter().position(|b| *b == b'\n') {
            Some(i) => {
                line.extend_from_slice(&buf[..=i]);
                r.consume(i + 1);
                break;
            }
            None => {
                let n = buf.len();
                line.extend_from_slice(buf);
                r.consume(n);
                if line.len() > MAX_LINE {
                    return Err(Failure::Protocol(
                        "an answer line longer than 64 KiB".into(),
                    ));
                }
            }
        }
    }
    if !line.ends_with(b"\r\n") {
        return Err(Failure::Protocol(
            "an answer line not ending in \\r\\n".into(),
        ));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line)
        .map_err(|_| Failure::Protocol("an answer line that is not UTF-8".into()))
}

/// Reads `len` data bytes and the `\r\n` after them.
async fn read_data(r: &mut BufReader<OwnedReadHalf>, len: usize) -> Exchange<Vec<u8>> {
    if len > MAX_VALUE {
        return Err(Failure::Protocol(format!(
            "the server announced a {len}-byte value"
        )));
    }
    let mut data = vec![0; len + 2];
    r.read_exact(&mut data).await?;
    if !data.ends_with(b"\r\n") {
        return Err(Failure::Protocol("a value not followed by \\r\\n".into()));
    }
    data.truncate(len);
    Ok(data)
}

/// The failure an unexpected line stands for.
fn unexpected(line: &str) -> Failure {
    if line == "ERROR" {
        Failure::Client("ERROR (unknown command)".into())
    } else if let Some(msg) = line.strip_prefix("CLIENT_ERROR ") {
        Failure::Client(msg.to_string())
    } else if let Some(msg) = line.strip_prefix("SERVER_ERROR ") {
        Failure::Server(msg.to_string())
    } else {
        let shown: String = line.chars().take(80).collect();
        Failure::Protocol(format!("unexpected answer {shown:?}"))
    }
}

fn parse_len(token: Option<&str>, line: &str) -> Exchange<usize> {
    token
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| Failure::Protocol(format!("malformed answer {line:?}")))
}

async fn read_response(
    r: &mut BufReader<OwnedReadHalf>,
    request: &Request<'_>,
) -> Exchange<Response> {
    match request {
        Request::Get(keys) => {
            let mut found = HashMap::new();
            for _ in keys.chunks(GET_CHUNK) {
                loop {
                    let line = read_line(r).await?;
                    if line == "END" {
                        break;
                    }
                    let Some(rest) = line.strip_prefix("VALUE ") else {
                        return Err(unexpected(&line));
                    };
                    let mut parts = rest.split(' ');
                    let key = parts.next().unwrap_or_default().to_string();
                    let _flags = parts.next();
                    let len = parse_len(parts.next(), &line)?;
                    let data = read_data(r, len).await?;
                    found.insert(key, data);
                }
            }
            Ok(Response::Values(found))
        }
        Request::Set(items) => {
            let mut results = Vec::with_capacity(items.len());
            for _ in *items {
                let line = read_line(r).await?;
                match line.as_str() {
                    "STORED" => results.push(Ok(())),
                    "NOT_STORED" => results.push(Err(line)),
                    _ if line.starts_with("SERVER_ERROR ") => results.push(Err(line)),
                    _ => return Err(unexpected(&line)),
                }
            }
            Ok(Response::Stored(results))
        }
        Request::Delete(keys) => {
            let mut results = Vec::with_capacity(keys.len());
            for _ in *keys {
                let line = read_line(r).await?;
                match line.as_str() {
                    "DELETED" => results.push(true),
                    "NOT_FOUND" => results.push(false),
                    _ => return Err(unexpected(&line)),
                }
            }
            Ok(Response::Deleted(results))
        }
        Request::MetaGet(_) => {
            let line = read_line(r).await?;
            if line == "EN" {
                return Ok(Response::Meta(None));
            }
            let Some(rest) = line.strip_prefix("VA ") else {
                return Err(unexpected(&line));
            };
            let mut parts = rest.split(' ');
            let len = parse_len(parts.next(), &line)?;
            let mut flags = 0;
            let mut ttl = None;
            for token in parts {
                if let Some(f) = token.strip_prefix('f') {
                    flags = f
                        .parse()
                        .map_err(|_| Failure::Protocol(format!("bad flags in {line:?}")))?;
                } else if let Some(t) = token.strip_prefix('t') {
                    let t: i64 = t
                        .parse()
                        .map_err(|_| Failure::Protocol(format!("bad TTL in {line:?}")))?;
                    ttl = (t >= 0).then_some(t);
                }
            }
            let value = read_data(r, len).await?;
            Ok(Response::Meta(Some(RawItem { flags, ttl, value })))
        }
        Request::StatsSettings => {
            let mut stats = HashMap::new();
            loop {
                let line = read_line(r).await?;
                if line == "END" {
                    break;
                }
                let Some(rest) = line.strip_prefix("STAT ") else {
                    return Err(unexpected(&line));
                };
                let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
                stats.insert(name.to_string(), value.to_string());
            }
            Ok(Response::Stats(stats))
        }
        Request::FlushAll => {
            let line = read_line(r).await?;
            if line == "OK" {
                Ok(Response::Done)
            } else {
                Err(unexpected(&line))
            }
        }
    }
}

/// A fixed-size pool of connections to one server.
pub(crate) struct Pool {
    address: String,
    idle: Mutex<Vec<Conn>>,
    permits: Semaphore,
    connect_timeout: Duration,
    timeout: Duration,
}

impl Pool {
    pub(crate) fn new(
        address: String,
        size: usize,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Self {
        Pool {
            address,
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Semaphore::new(size),
            connect_timeout,
            timeout,
        }
    }

    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// Drops the idle connections and makes later calls fail with `Closed`.
    pub(crate) fn close(&self) {
        self.permits.close();
        self.idle_connections().clear();
    }

    fn idle_connections(&self) -> std::sync::MutexGuard<'_, Vec<Conn>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `request` and returns the answer: one round trip on one pooled connection.
    pub(crate) async fn call(&self, request: &Request<'_>) -> Result<Response> {
        let _permit = match tokio::time::timeout(self.timeout, self.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(Error::new(ErrorKind::Closed, "the store was closed")),
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "no free connection to memcached at {} within {:?} (raise pool_size?)",
                        self.address, self.timeout
                    ),
                ));
            }
        };
        let reused = self.idle_connections().pop();
        let was_reused = reused.is_some();
        let conn = match reused {
            Some(conn) => conn,
            None => self.connect().await?,
        };
        match self.exchange(conn, request).await {
            Ok(response) => Ok(response),
            Err(Failure::Io(_)) if was_reused => {
                // A pooled connection died while idle: the server restarted or dropped it.
                // The other idle ones are suspect too; try once more on a fresh connection.
                self.idle_connections().clear();
                let conn = self.connect().await?;
                self.exchange(conn, request)
                    .await
                    .map_err(|f| self.error(f))
            }
            Err(failure) => Err(self.error(failure)),
        }
    }

    /// One exchange; the connection returns to the pool only if it went well.
    async fn exchange(&self, mut conn: Conn, request: &Request<'_>) -> Exchange<Response> {
        match tokio::time::timeout(self.timeout, conn.execute(request)).await {
            Ok(Ok(response)) => {
                self.idle_connections().push(conn);
                Ok(response)
            }
            Ok(Err(failure)) => Err(failure),
            Err(_) => Err(Failure::Timeout),
        }
    }

    async fn connect(&self) -> Result<Conn> {
        match tokio::time::timeout(self.connect_timeout, Conn::connect(&self.address)).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(Error::new(
                ErrorKind::Connection,
                format!("cannot connect to memcached at {}: {e}", self.address),
            )
            .with_source(e)),
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "connecting to memcached at {} took longer than {:?}",
                    self.address, self.connect_timeout
                ),
            )),
        }
    }

    fn error(&self, failure: Failure) -> Error {
        let address = &self.address;
        match failure {
            Failure::Io(e) => Error::new(
                ErrorKind::Connection,
                format!("lost the connection to memcached at {address}: {e}"),
            )
            .with_source(e),
            Failure::Timeout => Error::new(
                ErrorKind::Timeout,
                format!(
                    "memcached at {address} did not answer within {:?}",
                    self.timeout
                ),
            ),
            Failure::Protocol(msg) => Error::new(
                ErrorKind::Backend,
                format!("memcached at {address}: protocol error: {msg}"),
            ),
            Failure::Client(msg) => Error::new(
                ErrorKind::Backend,
                format!("memcached at {address} rejected the request: {msg}"),
            ),
            Failure::Server(msg) => Error::new(
                ErrorKind::Backend,
                format!("memcached at {address} failed: {msg}"),
            )
            .with_temporary(true),
        }
    }
}
