//! The connection behind a store (one server through a `ConnectionManager`, or a cluster), the
//! mapping of redis-rs errors to typed errors, and hash slots.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use key_value_core::{Error, ErrorKind, Result};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{
    Client, ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo, RedisError, TlsCertificates,
};

use crate::config::{RedisConfig, Source};

/// A live connection: cheap to clone, multiplexed, reconnecting by itself.
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    /// A cluster connection, and whether it has failed with a time-out or a lost connection.
    /// redis-rs's cluster connection can keep waiting on a node that died and came back (seen
    /// in about half the node-restart runs: every later call timed out), so the store drops a
    /// failed cluster connection it made itself and builds a new one on the next call.
    Cluster(ClusterConnection, Arc<AtomicBool>),
}

impl Conn {
    /// Connects as the config says (or takes the user's client).
    pub(crate) async fn open(config: &RedisConfig) -> Result<Conn> {
        match &config.source {
            Source::Manager(m) => return Ok(Conn::Single(m.clone())),
            Source::Cluster(c) => return Ok(Conn::Cluster(c.clone(), Arc::default())),
            Source::Connect => {}
        }
        if config.tls.is_some() {
            // rustls needs a process-wide provider: ring (an error means one is installed).
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let certs = tls_certificates(config)?;
        let node = |host: &str, port: u16| -> Result<redis::ConnectionInfo> {
            let addr = match &config.tls {
                Some(tls) => ConnectionAddr::TcpTls {
                    host: host.to_string(),
                    port,
                    insecure: tls.insecure,
                    tls_params: None,
                },
                None => ConnectionAddr::Tcp(host.to_string(), port),
            };
            let mut settings = RedisConnectionInfo::default().set_db(config.db);
            if let Some(u) = &config.username {
                settings = settings.set_username(u);
            }
            if let Some(p) = &config.password {
                settings = settings.set_password(p);
            }
            Ok(addr
                .into_connection_info()
                .map_err(|e| connection_error(e, config))?
                .set_redis_settings(settings))
        };
        if config.cluster {
            let mut nodes = vec![node(&config.host, config.port)?];
            for (h, p) in &config.extra_nodes {
                nodes.push(node(h, *p)?);
            }
            let mut builder = ClusterClientBuilder::new(nodes)
                .connection_timeout(config.connect_timeout)
                .response_timeout(config.response_timeout)
                .retries(u32::try_from(config.retries.max(1)).unwrap_or(u32::MAX))
                .max_retry_wait(1000);
            if let Some(tls) = &config.tls {
                builder = builder.tls(if tls.insecure {
                    redis::TlsMode::Insecure
                } else {
                    redis::TlsMode::Secure
                });
                if let Some(certs) = certs {
                    builder = builder.certs(certs);
                }
            }
            let client = builder.build().map_err(|e| connection_error(e, config))?;
            let conn = client
                .get_async_connection()
                .await
                .map_err(|e| connection_error(e, config))?;
            Ok(Conn::Cluster(conn, Arc::default()))
        } else {
            let info = node(&config.host, config.port)?;
            let client = match certs {
                Some(certs) => Client::build_with_tls(info, certs),
                None => Client::open(info),
            }
            .map_err(|e| connection_error(e, config))?;
            let manager_config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(config.connect_timeout))
                .set_response_timeout(Some(config.response_timeout))
                .set_number_of_retries(config.retries)
                .set_max_delay(std::time::Duration::from_secs(1));
            let manager = ConnectionManager::new_with_config(client, manager_config)
                .await
                .map_err(|e| connection_error(e, config))?;
            Ok(Conn::Single(manager))
        }
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(..))
    }

    /// Runs one command.
    pub(crate) async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T> {
        match self {
            Conn::Single(c) => cmd.query_async(&mut c.clone()).await,
            Conn::Cluster(c, _) => cmd.query_async(&mut c.clone()).await,
        }
        .map_err(|e| self.note(map_error(e)))
    }

    /// Runs a pipeline (in cluster mode, every key of it must be in one slot).
    pub(crate) async fn pipeline<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T> {
        match self {
            Conn::Single(c) => pipe.query_async(&mut c.clone()).await,
            Conn::Cluster(c, _) => pipe.query_async(&mut c.clone()).await,
        }
        .map_err(|e| self.note(map_error(e)))
    }

    /// Records a failure that may have left a cluster connection stuck (see [`Conn::Cluster`]).
    fn note(&self, error: Error) -> Error {
        if let Conn::Cluster(_, failed) = self {
            if matches!(error.kind(), ErrorKind::Timeout | ErrorKind::Connection) {
                failed.store(true, Ordering::Release);
            }
        }
        error
    }

    /// Whether this is a cluster connection that failed and should be rebuilt.
    pub(crate) fn has_failed(&self) -> bool {
        matches!(self, Conn::Cluster(_, failed) if failed.load(Ordering::Acquire))
    }

    /// Runs one command on one node of a cluster.
    pub(crate) async fn query_node<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
        node: &(String, u16),
    ) -> Result<T> {
        match self {
            Conn::Single(_) => self.query(cmd).await,
            Conn::Cluster(c, _) => {
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                    host: node.0.clone(),
                    port: node.1,
                });
                let value = c
                    .clone()
                    .route_command(cmd.clone(), routing)
                    .await
                    .map_err(|e| self.note(map_error(e)))?;
                redis::from_redis_value(value).map_err(|e| {
                    Error::new(
                        ErrorKind::Backend,
                        format!("unexpected reply from the server: {e}"),
                    )
                })
            }
        }
    }

    /// The primaries of a cluster (`CLUSTER SLOTS`); one placeholder for a single server.
    pub(crate) async fn primaries(&self) -> Result<Vec<(String, u16)>> {
        if !self.is_cluster() {
            return Ok(vec![(String::new(), 0)]);
        }
        let slots: Vec<redis::Value> = self.query(redis::cmd("CLUSTER").arg("SLOTS")).await?;
        let mut out = Vec::new();
        for range in slots {
            let redis::Value::Array(parts) = range else {
                continue;
            };
            let Some(redis::Value::Array(primary)) = parts.get(2) else {
                continue;
            };
            let host: Option<String> = primary
                .first()
                .and_then(|v| redis::from_redis_value_ref(v).ok());
            let port: Option<u16> = primary
                .get(1)
                .and_then(|v| redis::from_redis_value_ref(v).ok());
            if let (Some(h), Some(p)) = (host, port) {
                let node = (h, p);
                if !out.contains(&node) {
                    out.push(node);
                }
            }
        }
        if out.is_empty() {
            return Err(Error::new(
                ErrorKind::Backend,
                "CLUSTER SLOTS listed no primary",
            ));
        }
        Ok(out)
    }
}

/// Groups item indexes by hash slot (cluster mode), or puts them all in one group.
pub(crate) fn groups(cluster: bool, keys: &[String]) -> Vec<Vec<usize>> {
    if !cluster {
        return vec![(0..keys.len()).collect()];
    }
    let mut by_slot: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        by_slot.entry(slot(k.as_bytes())).or_default().push(i);
    }
    by_slot.into_values().collect()
}

/// The cluster hash slot of a key: CRC16 (XMODEM) of the key, or of its `{hash tag}`, mod 16384.
pub(crate) fn slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16(hashed) % 16384
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn tls_certificates(config: &RedisConfig) -> Result<Option<TlsCertificates>> {
    let Some(tls) = &config.tls else {
        return Ok(None);
    };
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("cannot read the TLS {what} {}: {e}", path.display()),
            )
            .with_source(e)
        })
    };
    let root_cert = match &tls.ca_file {
        Some(p) => Some(read(p, "CA file")?),
        None => None,
    };
    let client_tls = match (&tls.cert_file, &tls.key_file) {
        (Some(c), Some(k)) => Some(redis::ClientTlsConfig {
            client_cert: read(c, "client certificate")?,
            client_key: read(k, "client key")?,
        }),
        _ => None,
    };
    if root_cert.is_none() && client_tls.is_none() {
        return Ok(None);
    }
    Ok(Some(TlsCertificates {
        client_tls,
        root_cert,
    }))
}

/// A connection failure while connecting: temporary, naming the server (never its password).
fn connection_error(e: RedisError, config: &RedisConfig) -> Error {
    let mut err = map_error(e);
    if err.kind() == ErrorKind::Backend && is_setup_failure(&err) {
        err = Error::new(ErrorKind::Connection, err.message().to_string()).with_temporary(true);
    }
    let scheme = if config.tls.is_some() { "TLS " } else { "" };
    Error::new(
        err.kind(),
        format!(
            "cannot connect to the {scheme}server {}:{}: {}",
            config.host,
            config.port,
            err.message()
        ),
    )
    .with_temporary(err.is_temporary())
    .with_source(err)
}

fn is_setup_failure(err: &Error) -> bool {
    let m = err.message().to_ascii_lowercase();
    m.contains("tls") || m.contains("certificate") || m.contains("handshake")
}

/// A redis-rs error as a typed error: lost or refused connections and cluster reconfigurations
/// are temporary `Connection` errors, time-outs temporary `Timeout` errors, the rest `Backend`.
pub(crate) fn map_error(e: RedisError) -> Error {
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || matches!(
            e.code(),
            Some("LOADING" | "CLUSTERDOWN" | "TRYAGAIN" | "MASTERDOWN" | "MOVED" | "ASK")
        )
        || matches!(e.kind(), redis::ErrorKind::ClusterConnectionNotFound)
    {
        ErrorKind::Connection
    } else {
        ErrorKind::Backend
    };
    Error::new(kind, format!("redis: {e}")).with_source(e)
}
