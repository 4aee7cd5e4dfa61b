//! Failover without a restart.
//!
//! `database.url` may name several hosts as libpq writes them
//! (`postgres://u@h1:5432,h2:5432/db?target_session_attrs=read-write`).
//! sqlx reads one host, so the list is split here: the pool connects to
//! whichever host is the writable primary, refuses any connection that turns
//! out read-only (so nothing is ever written to a standby), and a watcher
//! moves new connections to another host once the current one stops being a
//! writable primary, e.g. after `pg_ctl promote` on a standby.

use std::{fmt, time::Duration};

use sea_orm::sqlx::{
    self, Connection, Row,
    postgres::{PgConnectOptions, PgConnection, PgPool},
};

use crate::config::DatabaseUrl;

/// True on a standby or a server that refuses writes. Sent with the simple
/// query protocol (one message, one answer): behind PgBouncer in transaction
/// mode the extended protocol's two round trips may reach two servers.
const READ_ONLY_SQL: &str =
    "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'";

/// How often the watcher asks whether the current host is still the primary.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// How long after a failed probe the watcher asks again before it looks
/// for another primary: one lost packet or a slow answer must not move
/// every new connection to another host.
const CONFIRM_AFTER: Duration = Duration::from_millis(250);

/// A URL naming several hosts, split into what sqlx can read. Its `Debug`
/// shows the URL without its password.
#[derive(Clone, PartialEq, Eq)]
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

impl fmt::Debug for Hosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = DatabaseUrl::parse(&self.first_url)
            .map(|u| u.redacted())
            .unwrap_or_else(|_| "***".to_owned());
        f.debug_struct("Hosts")
            .field("first_url", &url)
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

/// Why a URL's host list cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadHosts {
    /// A port that is not a number from 1 to 65535 (`a:99999`, `a:x`, `a:`).
    #[error("database.url: host {host:?} has port {port:?}, which is not a number from 1 to 65535")]
    Port {
        /// The host as written.
        host: String,
        /// The port as written.
        port: String,
    },
    /// An IPv6 address without its closing `]`.
    #[error("database.url: host {0:?} opens [ but never closes it")]
    Bracket(String),
}

/// Splits a `postgres://` URL naming two or more hosts; `Ok(None)` for one
/// host; an error for a port that is not one, rather than 5432 in its place.
pub fn split(url: &str) -> Result<Option<Hosts>, BadHosts> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok(None);
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostlist) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    if !hostlist.contains(',') {
        return Ok(None);
    }
    let hosts = hostlist
        .split(',')
        .filter(|h| !h.is_empty())
        .map(host_port)
        .collect::<Result<Vec<_>, _>>()?;
    let Some((host, port)) = hosts.first() else {
        return Ok(None);
    };
    Ok(Some(Hosts {
        first_url: format!("{scheme}://{userinfo}{host}:{port}{tail}"),
        hosts,
        head: format!("{scheme}://{userinfo}"),
        tail: tail.to_owned(),
    }))
}

/// One `host[:port]` (or `[v6][:port]`) of a host list; 5432 when no port.
fn host_port(h: &str) -> Result<(String, u16), BadHosts> {
    let (host, port) = match h.strip_prefix('[') {
        Some(v6) => {
            let (addr, after) = v6
                .split_once(']')
                .ok_or_else(|| BadHosts::Bracket(h.to_owned()))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => Some(after),
            };
            (format!("[{addr}]"), port)
        }
        None => match h.split_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (h.to_owned(), None),
        },
    };
    let Some(port) = port else {
        return Ok((host, 5432));
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Ok((host, p)),
        _ => Err(BadHosts::Port {
            host,
            port: port.to_owned(),
        }),
    }
}

/// Whether `opts` reaches a server that takes writes (bounded by `timeout`).
pub async fn writable(opts: &PgConnectOptions, timeout: Duration) -> bool {
    let probe = async {
        let mut conn = PgConnection::connect_with(opts).await.ok()?;
        let ro = read_only(&mut conn).await.ok();
        let _ = conn.close().await;
        ro
    };
    matches!(tokio::time::timeout(timeout, probe).await, Ok(Some(false)))
}

/// Asks [`READ_ONLY_SQL`] with the simple query protocol.
async fn read_only(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::raw_sql(READ_ONLY_SQL)
        .fetch_one(conn)
        .await?
        .try_get::<bool, _>(0)
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
            if read_only(conn).await? {
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
            let probe = |o: PgConnectOptions| async move { writable(&o, timeout).await };
            if let Some(next) = moved(&current, &hosts, CONFIRM_AFTER, probe).await {
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

/// Where the primary is now if it is confirmed to have left `current`:
/// `current` fails `probe` twice, `confirm_after` apart, and another of
/// `hosts` passes it. `None` keeps new connections where they go.
async fn moved<P, F>(
    current: &PgConnectOptions,
    hosts: &[(String, u16)],
    confirm_after: Duration,
    probe: P,
) -> Option<PgConnectOptions>
where
    P: Fn(PgConnectOptions) -> F,
    F: Future<Output = bool>,
{
    if probe(current.clone()).await {
        return None;
    }
    tokio::time::sleep(confirm_after).await;
    if probe(current.clone()).await {
        return None;
    }
    let here = (current.get_host(), current.get_port());
    for (host, port) in hosts {
        if (host.as_str(), *port) == here {
            continue;
        }
        let opts = current.clone().host(host).port(*port);
        if probe(opts.clone()).await {
            return Some(opts);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    fn three() -> Hosts {
        split("postgres://u:hunter2@a:5433,b,c:6000/db?target_session_attrs=read-write")
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("three hosts"))
    }

    #[test]
    fn several_hosts_split_and_one_host_is_left_alone() {
        let h = three();
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
            "postgres://u:hunter2@a:5433/db?target_session_attrs=read-write"
        );
        assert_eq!(
            h.url_for("b", 5432),
            "postgres://u:hunter2@b:5432/db?target_session_attrs=read-write"
        );
        assert_eq!(split("postgres://u@a:5432/db"), Ok(None));
        assert_eq!(
            split("postgres://a,b").map(|h| h.map(|h| h.first_url)),
            Ok(Some("postgres://a:5432".to_owned()))
        );
        let v6 = split("postgres://[::1]:5433,[fe80::2]/db").map(|h| h.map(|h| h.hosts));
        assert_eq!(
            v6,
            Ok(Some(vec![
                ("[::1]".to_owned(), 5433),
                ("[fe80::2]".to_owned(), 5432)
            ]))
        );
    }

    #[test]
    fn a_port_that_is_not_one_is_a_configuration_error() {
        for (url, host, port) in [
            ("postgres://u@a:99999,b/db", "a", "99999"),
            ("postgres://u@a:x,b/db", "a", "x"),
            ("postgres://a,b:/db", "b", ""),
            ("postgres://a:0,b", "a", "0"),
            ("postgres://a:+5,b", "a", "+5"),
            ("postgres://a,[::1]:65536", "[::1]", "65536"),
        ] {
            let err = split(url).err();
            assert_eq!(
                err,
                Some(BadHosts::Port {
                    host: host.to_owned(),
                    port: port.to_owned()
                }),
                "{url}"
            );
            let text = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(
                text.contains("database.url") && text.contains("65535"),
                "{text}"
            );
        }
        assert_eq!(
            split("postgres://a,[::1/db"),
            Err(BadHosts::Bracket("[::1".to_owned()))
        );
    }

    #[test]
    fn debug_output_hides_the_password() {
        let shown = format!("{:?}", three());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("***") && shown.contains("\"c\", 6000"),
            "{shown}"
        );
    }

    /// A probe answering from a script: each host's answers in turn (the
    /// last one repeated), recording which hosts were asked.
    struct Script {
        answers: Vec<(u16, Vec<bool>)>,
        asked: RefCell<Vec<u16>>,
    }

    impl Script {
        fn new(answers: &[(u16, &[bool])]) -> Self {
            Self {
                answers: answers.iter().map(|(p, a)| (*p, a.to_vec())).collect(),
                asked: RefCell::new(Vec::new()),
            }
        }

        fn answer(&self, opts: &PgConnectOptions) -> bool {
            let port = opts.get_port();
            let mut asked = self.asked.borrow_mut();
            let n = asked.iter().filter(|p| **p == port).count();
            asked.push(port);
            let answers = self
                .answers
                .iter()
                .find(|(p, _)| *p == port)
                .map(|(_, a)| a.as_slice())
                .unwrap_or(&[]);
            answers.get(n).or(answers.last()).copied().unwrap_or(false)
        }

        fn asked(&self) -> Vec<u16> {
            self.asked.borrow().clone()
        }
    }

    async fn run(script: &Script) -> Option<u16> {
        let current = PgConnectOptions::new_without_pgpass().host("a").port(1);
        let hosts = vec![("a".to_owned(), 1), ("b".to_owned(), 2)];
        let probe = |o: PgConnectOptions| {
            let ok = script.answer(&o);
            async move { ok }
        };
        moved(&current, &hosts, Duration::ZERO, probe)
            .await
            .map(|o| o.get_port())
    }

    #[tokio::test]
    async fn one_failed_probe_does_not_move_the_primary() {
        // The current host misses one answer, then answers again: stay,
        // without even asking the other host.
        let s = Script::new(&[(1, &[false, true]), (2, &[true])]);
        assert_eq!(run(&s).await, None);
        assert_eq!(s.asked(), vec![1, 1]);
    }

    #[tokio::test]
    async fn a_confirmed_failure_moves_to_a_writable_host_and_only_to_one() {
        let s = Script::new(&[(1, &[false]), (2, &[true])]);
        assert_eq!(run(&s).await, Some(2));
        assert_eq!(s.asked(), vec![1, 1, 2]);
        // No other host takes writes yet (a standby not promoted): stay.
        let s = Script::new(&[(1, &[false]), (2, &[false])]);
        assert_eq!(run(&s).await, None);
        // A host that answers stays where it is.
        let s = Script::new(&[(1, &[true]), (2, &[true])]);
        assert_eq!(run(&s).await, None);
        assert_eq!(s.asked(), vec![1]);
    }
}
