//! Rotation functions registered with Rampart (`RAMPART_ROTATORS`): the built-in PostgreSQL
//! rotators and HTTP webhooks that receive the event a Lambda rotation function receives.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// A rotation function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotator {
    /// PostgreSQL, single user: the user's own password is changed.
    PostgresSingleUser,
    /// PostgreSQL, alternating users: a clone user is created or updated with the master
    /// secret's credentials (`masterarn`) and the secret alternates between the two users.
    PostgresAlternatingUsers,
    /// An HTTP endpoint receiving `{"SecretId","ClientRequestToken","Step","RotationToken"}`
    /// for each step, answering 2xx on success.
    Webhook(http::Uri),
}

/// The registered rotation functions, by Lambda ARN.
#[derive(Debug, Clone, Default)]
pub struct Rotators(HashMap<String, Rotator>);

impl Rotators {
    /// Parse `arn=kind,arn=kind,…` with kinds `postgresql-single-user`,
    /// `postgresql-alternating-users` and `webhook:http://host:port/path`.
    ///
    /// # Errors
    /// A message naming the entry that is not understood.
    pub fn parse(spec: &str) -> Result<Rotators, String> {
        let mut map = HashMap::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (arn, kind) = entry.split_once('=').ok_or_else(|| {
                format!("RAMPART_ROTATORS: expected <lambda-arn>=<rotator> in {entry:?}")
            })?;
            if !arn.starts_with("arn:") || !arn.contains(":lambda:") {
                return Err(format!(
                    "RAMPART_ROTATORS: {arn:?} is not a Lambda function ARN"
                ));
            }
            let rotator = match kind {
                "postgresql-single-user" => Rotator::PostgresSingleUser,
                "postgresql-alternating-users" => Rotator::PostgresAlternatingUsers,
                k => {
                    let url = k.strip_prefix("webhook:").ok_or_else(|| {
                        format!("RAMPART_ROTATORS: unknown rotator {k:?} (postgresql-single-user, postgresql-alternating-users, webhook:http://…)")
                    })?;
                    let uri: http::Uri = url
                        .parse()
                        .map_err(|_| format!("RAMPART_ROTATORS: invalid URL {url:?}"))?;
                    if uri.scheme_str() != Some("http") || uri.host().is_none() {
                        return Err(format!(
                            "RAMPART_ROTATORS: webhook {url:?} must be an http:// URL"
                        ));
                    }
                    Rotator::Webhook(uri)
                }
            };
            map.insert(arn.to_owned(), rotator);
        }
        Ok(Rotators(map))
    }

    /// The rotator registered for `arn`.
    #[must_use]
    pub fn get(&self, arn: &str) -> Option<&Rotator> {
        self.0.get(arn)
    }
}

/// POST `body` to a webhook; the HTTP status.
///
/// # Errors
/// Connection failures and timeouts (30 s).
pub async fn post(uri: &http::Uri, body: Vec<u8>) -> Result<u16, String> {
    let host = uri.host().ok_or("no host")?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let path = uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str)
        .to_owned();
    let fut = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| e.to_string())?;
        let request = http::Request::post(path)
            .header("host", host.as_str())
            .header("content-type", "application/json")
            .header("user-agent", "secretsmanager.amazonaws.com")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let _ = response.into_body().collect().await;
        Ok(status)
    };
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .map_err(|_| "timed out".to_owned())?
}

/// Database credentials as RDS secrets hold them.
#[derive(Clone)]
pub struct DbSecret {
    /// `postgres`.
    pub engine: String,
    /// Host.
    pub host: String,
    /// Port (5432 by default).
    pub port: u16,
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Database (`postgres` by default).
    pub dbname: String,
    /// The master secret (alternating users).
    pub masterarn: Option<String>,
}

impl std::fmt::Debug for DbSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbSecret")
            .field("host", &self.host)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl DbSecret {
    /// Read the fields of a secret's JSON.
    ///
    /// # Errors
    /// A message naming the missing field (never a value).
    pub fn parse(v: &Value) -> Result<DbSecret, String> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let engine = s("engine").unwrap_or_else(|| "postgres".to_owned());
        if !matches!(
            engine.as_str(),
            "postgres" | "postgresql" | "aurora-postgresql"
        ) {
            return Err(format!("unsupported engine {engine}"));
        }
        let port = match v.get("port") {
            Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
            Some(Value::String(p)) => p.parse().ok(),
            None => Some(5432),
            _ => None,
        }
        .ok_or("invalid port")?;
        Ok(DbSecret {
            engine,
            host: s("host").ok_or("the secret has no host")?,
            port,
            username: s("username").ok_or("the secret has no username")?,
            password: s("password").ok_or("the secret has no password")?,
            dbname: s("dbname").unwrap_or_else(|| "postgres".to_owned()),
            masterarn: s("masterarn"),
        })
    }

    async fn connect(&self) -> Result<tokio_postgres::Client, String> {
        let mut c = tokio_postgres::Config::new();
        c.host(&self.host)
            .port(self.port)
            .user(&self.username)
            .password(&self.password)
            .dbname(&self.dbname)
            .connect_timeout(Duration::from_secs(5));
        let (client, conn) = c
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("cannot log in as {}: {}", self.username, pg_reason(&e)))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }
}

fn pg_reason(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().to_owned())
}

fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Whether `creds` log in.
///
/// # Errors
/// Why they do not.
pub async fn pg_check(creds: &DbSecret) -> Result<(), String> {
    let client = creds.connect().await?;
    client
        .simple_query("SELECT 1")
        .await
        .map(|_| ())
        .map_err(|e| pg_reason(&e))
}

/// Logged in as `login`, give `user` the password `password`; with `like`, create `user` first
/// when missing, as a member of the roles `like` belongs to.
///
/// # Errors
/// Why the database refused.
pub async fn pg_set_password(
    login: &DbSecret,
    user: &str,
    password: &str,
    like: Option<&str>,
) -> Result<(), String> {
    let client = login.connect().await?;
    if let Some(like) = like {
        let exists = client
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&user])
            .await
            .map_err(|e| pg_reason(&e))?
            .is_some();
        if !exists {
            client
                .batch_execute(&format!(
                    "CREATE ROLE {} WITH LOGIN PASSWORD {}",
                    ident(user),
                    literal(password)
                ))
                .await
                .map_err(|e| pg_reason(&e))?;
            let rows = client
                .query(
                    "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1",
                    &[&like],
                )
                .await
                .map_err(|e| pg_reason(&e))?;
            for row in rows {
                let group: String = row.get(0);
                client
                    .batch_execute(&format!("GRANT {} TO {}", ident(&group), ident(user)))
                    .await
                    .map_err(|e| pg_reason(&e))?;
            }
            return Ok(());
        }
    }
    client
        .batch_execute(&format!(
            "ALTER ROLE {} WITH PASSWORD {}",
            ident(user),
            literal(password)
        ))
        .await
        .map_err(|e| pg_reason(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotators_parse_from_the_setting() {
        let r = Rotators::parse(
            "arn:aws:lambda:us-east-1:111122223333:function:pg=postgresql-single-user, arn:aws:lambda:us-east-1:111122223333:function:hook=webhook:http://127.0.0.1:9000/rotate",
        )
        .expect("parse");
        assert_eq!(
            r.get("arn:aws:lambda:us-east-1:111122223333:function:pg"),
            Some(&Rotator::PostgresSingleUser)
        );
        assert!(matches!(
            r.get("arn:aws:lambda:us-east-1:111122223333:function:hook"),
            Some(Rotator::Webhook(_))
        ));
        assert!(Rotators::parse("nope").is_err());
        assert!(Rotators::parse("arn:aws:lambda:r:1:function:x=mystery").is_err());
    }

    #[test]
    fn sql_quoting_doubles_quotes() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }
}
