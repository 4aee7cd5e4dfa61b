//! Failover without a restart.
//!
//! `database.url` may name several hosts as libpq writes them
//! (`postgres://u@h1:5432,h2:5432/db?target_session_attrs=read-write`).
//! sqlx reads one host, so the list is split here: the pool connects to
//! whichever host is the writable primary, refuses any connection that turns
//! out read-only (so nothing is ever written to a standby), and a watcher
//! moves new connections to another host once the current one stops being a
//! writable primary, e.g. after `pg_ctl promote` on a standby.

use std::time::Duration;

use sea_orm::sqlx::{
    self, Connection,
    postgres::{PgConnectOptions, PgConnection, PgPool},
};

/// True on a standby or a server that refuses writes.
const READ_ONLY_SQL: &str =
    "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'";

/// How often the watcher asks whether the current host is still the primary.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// A URL naming several hosts, split into what sqlx can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosts {
    /// The URL with only the first host (the rest of it unchanged).
    pub first_url: String,
    /// Every host and port, in the URL's order.
    pub hosts: Vec<(String, u16)>,
    head: String,
    tail: String,
}

impl Hosts {
    /// The URL with only `host:port`.
    pub fn url_for(&self, host: &str, port: u16) -> String {
        format!("{}{host}:{port}{}", self.head, self.tail)
    }
}

/// Splits a `postgres://` URL naming two or more hosts; `None` for one host.
pub fn split(url: &str) -> Option<Hosts> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostlist) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    if !hostlist.contains(',') {
        return None;
    }
    let hosts: Vec<(String, u16)> = hostlist
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|h| match h.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || h.starts_with('[') => {
                (host.to_owned(), port.parse().unwrap_or(5432))
            }
            _ => (h.to_owned(), 5432),
        })
        .collect();
    let (host, port) = hosts.first()?;
    Some(Hosts {
        first_url: format!("{scheme}://{userinfo}{host}:{port}{tail}"),
        hosts,
        head: format!("{scheme}://{userinfo}"),
        tail: tail.to_owned(),
    })
}

/// Whether `opts` reaches a server that takes writes (bounded by `timeout`).
pub async fn writable(opts: &PgConnectOptions, timeout: Duration) -> bool {
    let probe = async {
        let mut conn = PgConnection::connect_with(opts).await.ok()?;
        let ro: Option<bool> = sqlx::query_scalar(READ_ONLY_SQL)
            .fetch_one(&mut conn)
            .await
            .ok();
        let _ = conn.close().await;
        ro
    };
    matches!(tokio::time::timeout(timeout, probe).await, Ok(Some(false)))
}

/// The first of `hosts` that is a writable primary, as options for it.
pub async fn find_primary(
    base: &PgConnectOptions,
    hosts: &[(String, u16)],
    timeout: Duration,
) -> Option<PgConnectOptions> {
    for (host, port) in hosts {
        let opts = base.clone().host(host).port(*port);
        if writable(&opts, timeout).await {
            return Some(opts);
        }
    }
    None
}

/// Refuses a new pooled connection to a read-only server, so a write never
/// reaches a standby; the caller sees the database as unavailable (503).
pub fn refuse_read_only(
    pool: sqlx::pool::PoolOptions<sqlx::Postgres>,
) -> sqlx::pool::PoolOptions<sqlx::Postgres> {
    pool.after_connect(|conn, _meta| {
        Box::pin(async move {
            let ro: bool = sqlx::query_scalar(READ_ONLY_SQL).fetch_one(conn).await?;
            if ro {
                return Err(sqlx::Error::Protocol(
                    "the server is read-only (a standby); waiting for a primary".into(),
                ));
            }
            Ok(())
        })
    })
}

/// Watches the host new connections go to and moves them to another host
/// when it stops being a writable primary; ends when the pool is closed.
pub fn watch(pool: PgPool, hosts: Vec<(String, u16)>, timeout: Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            if pool.is_closed() {
                break;
            }
            let current = (*pool.connect_options()).clone();
            if writable(&current, timeout).await {
                continue;
            }
            if let Some(next) = find_primary(&current, &hosts, timeout).await {
                tracing::warn!(
                    host = next.get_host(),
                    port = next.get_port(),
                    "the primary moved; new connections go to this host"
                );
                pool.set_connect_options(next);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_hosts_split_and_one_host_is_left_alone() {
        let h = split("postgres://u:p@a:5433,b,c:6000/db?target_session_attrs=read-write")
            .unwrap_or_else(|| panic!("three hosts"));
        assert_eq!(
            h.hosts,
            vec![
                ("a".to_owned(), 5433),
                ("b".to_owned(), 5432),
                ("c".to_owned(), 6000)
            ]
        );
        assert_eq!(
            h.first_url,
            "postgres://u:p@a:5433/db?target_session_attrs=read-write"
        );
        assert_eq!(
            h.url_for("b", 5432),
            "postgres://u:p@b:5432/db?target_session_attrs=read-write"
        );
        assert_eq!(split("postgres://u@a:5432/db"), None);
        assert_eq!(
            split("postgres://a,b").map(|h| h.first_url),
            Some("postgres://a:5432".to_owned())
        );
    }
}
