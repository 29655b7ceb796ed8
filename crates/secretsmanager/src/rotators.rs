//! Rotation functions registered with Rampart (`RAMPART_ROTATORS`): the built-in PostgreSQL and
//! MySQL/MariaDB rotators and HTTP webhooks that receive the event a Lambda rotation function
//! receives.

pub mod mysql;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

/// A rotation function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotator {
    /// PostgreSQL, single user: the user's own password is changed.
    PostgresSingleUser,
    /// PostgreSQL, alternating users: a clone user is created or updated with the master
    /// secret's credentials (`masterarn`) and the secret alternates between the two users.
    PostgresAlternatingUsers,
    /// MySQL or MariaDB, single user: the user's own password is changed.
    MysqlSingleUser,
    /// MySQL or MariaDB, alternating users: a clone user is created (with the grants of the
    /// secret's user) or updated with the master secret's credentials (`masterarn`).
    MysqlAlternatingUsers,
    /// An HTTP endpoint receiving `{"SecretId","ClientRequestToken","Step","RotationToken"}`
    /// for each step, answering 2xx on success.
    Webhook(http::Uri),
}

/// The registered rotation functions, by Lambda ARN.
#[derive(Debug, Clone, Default)]
pub struct Rotators(HashMap<String, Rotator>);

impl Rotators {
    /// Parse `arn=kind,arn=kind,…` with kinds `postgresql-single-user`,
    /// `postgresql-alternating-users`, `mysql-single-user`, `mysql-alternating-users` and
    /// `webhook:http://host:port/path`.
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
                "mysql-single-user" => Rotator::MysqlSingleUser,
                "mysql-alternating-users" => Rotator::MysqlAlternatingUsers,
                k => {
                    let url = k.strip_prefix("webhook:").ok_or_else(|| {
                        format!("RAMPART_ROTATORS: unknown rotator {k:?} (postgresql-single-user, postgresql-alternating-users, mysql-single-user, mysql-alternating-users, webhook:http://…)")
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

/// The database engines the built-in rotators speak to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// PostgreSQL (`postgres`, `postgresql`, `aurora-postgresql`).
    Postgres,
    /// MySQL or MariaDB (`mysql`, `mariadb`, `aurora-mysql`, `aurora`).
    Mysql,
}

impl Family {
    fn of(engine: &str) -> Option<Family> {
        match engine {
            "postgres" | "postgresql" | "aurora-postgresql" => Some(Family::Postgres),
            "mysql" | "mariadb" | "aurora-mysql" | "aurora" => Some(Family::Mysql),
            _ => None,
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Family::Postgres => 5432,
            Family::Mysql => 3306,
        }
    }
}

/// POST `body` to a webhook; the HTTP status.
///
/// # Errors
/// Connection failures and timeouts (30 s).
pub async fn post(uri: &http::Uri, body: Vec<u8>) -> Result<u16, String> {
    rampart_service::outbound::post_json(
        uri,
        body,
        "secretsmanager.amazonaws.com",
        &rampart_service::outbound::LazyTls::system(),
        Duration::from_secs(30),
    )
    .await
}

/// Database credentials as RDS secrets hold them.
#[derive(Clone)]
pub struct DbSecret {
    /// The engine family (from `engine`).
    pub family: Family,
    /// `postgres`, `mysql`, `mariadb`, ….
    pub engine: String,
    /// Host.
    pub host: String,
    /// Port (5432 or 3306 by default).
    pub port: u16,
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Database (`postgres` by default for PostgreSQL, none for MySQL).
    pub dbname: Option<String>,
    /// TLS for MySQL, as AWS's rotation functions read `ssl`: `true` requires it, `false` never
    /// uses it, absent (or anything else) tries TLS first and falls back to a plain connection.
    pub ssl: Option<bool>,
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
    /// Read the fields of a secret's JSON for a rotator of `family`; a secret without `engine`
    /// is taken to be of that family.
    ///
    /// # Errors
    /// A message naming the missing field (never a value), or the engine the rotator does not
    /// speak.
    pub fn parse(v: &Value, family: Family) -> Result<DbSecret, String> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let engine = s("engine").unwrap_or_else(|| match family {
            Family::Postgres => "postgres".to_owned(),
            Family::Mysql => "mysql".to_owned(),
        });
        if Family::of(&engine) != Some(family) {
            return Err(format!("unsupported engine {engine}"));
        }
        let port = match v.get("port") {
            Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
            Some(Value::String(p)) => p.parse().ok(),
            None => Some(family.default_port()),
            _ => None,
        }
        .ok_or("invalid port")?;
        let ssl = match v.get("ssl") {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(b)) if b.eq_ignore_ascii_case("true") => Some(true),
            Some(Value::String(b)) if b.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        };
        let dbname = s("dbname").filter(|d| !d.is_empty());
        Ok(DbSecret {
            family,
            engine,
            host: s("host").ok_or("the secret has no host")?,
            port,
            username: s("username").ok_or("the secret has no username")?,
            password: s("password").ok_or("the secret has no password")?,
            dbname: match family {
                Family::Postgres => Some(dbname.unwrap_or_else(|| "postgres".to_owned())),
                Family::Mysql => dbname,
            },
            ssl,
            masterarn: s("masterarn"),
        })
    }

    async fn connect(&self) -> Result<tokio_postgres::Client, String> {
        let mut c = tokio_postgres::Config::new();
        c.host(&self.host)
            .port(self.port)
            .user(&self.username)
            .password(&self.password)
            .dbname(self.dbname.as_deref().unwrap_or("postgres"))
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
pub async fn check(creds: &DbSecret) -> Result<(), String> {
    match creds.family {
        Family::Postgres => pg_check(creds).await,
        Family::Mysql => mysql::check(creds).await,
    }
}

/// Logged in as `login`, give `user` the password `password`; with `like`, create `user` first
/// when missing, with the roles (PostgreSQL) or grants (MySQL) of `like`.
///
/// # Errors
/// Why the database refused.
pub async fn set_password(
    login: &DbSecret,
    user: &str,
    password: &str,
    like: Option<&str>,
) -> Result<(), String> {
    match login.family {
        Family::Postgres => pg_set_password(login, user, password, like).await,
        Family::Mysql => mysql::set_password(login, user, password, like).await,
    }
}

/// Whether `creds` log in to PostgreSQL.
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
        let r = Rotators::parse(
            "arn:aws:lambda:r:1:function:a=mysql-single-user,arn:aws:lambda:r:1:function:b=mysql-alternating-users",
        )
        .expect("parse");
        assert_eq!(
            r.get("arn:aws:lambda:r:1:function:a"),
            Some(&Rotator::MysqlSingleUser)
        );
        assert_eq!(
            r.get("arn:aws:lambda:r:1:function:b"),
            Some(&Rotator::MysqlAlternatingUsers)
        );
    }

    #[test]
    fn a_secret_of_another_engine_is_refused_by_the_rotator() {
        let mysql =
            serde_json::json!({"engine": "mariadb", "host": "h", "username": "u", "password": "p"});
        let s = DbSecret::parse(&mysql, Family::Mysql).expect("parse");
        assert_eq!((s.port, s.dbname.as_deref(), s.ssl), (3306, None, None));
        assert_eq!(
            DbSecret::parse(&mysql, Family::Postgres).map(|_| ()),
            Err("unsupported engine mariadb".to_owned())
        );
        let pg = serde_json::json!({"host": "h", "username": "u", "password": "p", "ssl": "true"});
        let s = DbSecret::parse(&pg, Family::Postgres).expect("parse");
        assert_eq!((s.port, s.dbname.as_deref()), (5432, Some("postgres")));
        assert_eq!(
            DbSecret::parse(&pg, Family::Mysql).expect("parse").ssl,
            Some(true)
        );
    }

    #[test]
    fn sql_quoting_doubles_quotes() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }
}
