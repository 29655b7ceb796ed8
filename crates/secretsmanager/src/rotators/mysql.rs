//! The MySQL/MariaDB side of the built-in rotators, as AWS's MySQL rotation templates do it:
//! `ALTER USER … IDENTIFIED BY` for a single user; for alternating users the master creates the
//! clone and replays `SHOW GRANTS` of the original user for it.
//!
//! Account names and passwords cannot be statement parameters in `CREATE USER`, `ALTER USER` or
//! `SHOW GRANTS`, so they are written as string literals escaped for the session's `sql_mode`
//! (read from the server, since `NO_BACKSLASH_ESCAPES` changes what a backslash means).

use std::time::Duration;

use mysql_async::prelude::Queryable as _;
use mysql_async::{Conn, OptsBuilder, SslOpts};

use super::DbSecret;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The host part of the accounts the rotators manage, as in AWS's templates.
const ANY_HOST: &str = "%";

fn reason(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) => s.message.clone(),
        e => e.to_string(),
    }
}

/// A logged-in session that knows how string literals are escaped in it.
struct Session {
    conn: Conn,
    backslash_escapes: bool,
    mariadb: bool,
}

impl Session {
    /// Log in with `creds`. TLS follows the secret's `ssl` (see [`DbSecret::ssl`]): without it
    /// TLS is tried first and a plain connection is used when that fails, as AWS's rotation
    /// functions do.
    async fn open(creds: &DbSecret) -> Result<Session, String> {
        let conn = match creds.ssl {
            Some(tls) => connect(creds, tls).await,
            None => match connect(creds, true).await {
                Ok(conn) => Ok(conn),
                Err(_) => connect(creds, false).await,
            },
        }
        .map_err(|e| format!("cannot log in as {}: {e}", creds.username))?;
        let mut session = Session {
            conn,
            backslash_escapes: true,
            mariadb: false,
        };
        let (mode, version): (String, String) = session
            .conn
            .query_first("SELECT @@SESSION.sql_mode, VERSION()")
            .await
            .map_err(|e| reason(&e))?
            .unwrap_or_default();
        session.backslash_escapes = !mode.to_ascii_uppercase().contains("NO_BACKSLASH_ESCAPES");
        session.mariadb = version.contains("MariaDB");
        Ok(session)
    }

    fn literal(&self, s: &str) -> Result<String, String> {
        literal(s, self.backslash_escapes)
    }

    fn account(&self, user: &str) -> Result<String, String> {
        Ok(format!(
            "{}@{}",
            self.literal(user)?,
            self.literal(ANY_HOST)?
        ))
    }

    async fn run(&mut self, sql: &str) -> Result<(), String> {
        self.conn.query_drop(sql).await.map_err(|e| reason(&e))
    }

    async fn close(self) {
        let _ = self.conn.disconnect().await;
    }
}

async fn connect(creds: &DbSecret, tls: bool) -> Result<Conn, String> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(creds.host.clone())
        .tcp_port(creds.port)
        .user(Some(creds.username.clone()))
        .pass(Some(creds.password.clone()))
        .db_name(creds.dbname.clone())
        // Talk to the host and port of the secret, never to a local socket the server names.
        .prefer_socket(false)
        .ssl_opts(tls.then(SslOpts::default));
    match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(reason(&e)),
        Err(_) => Err("timed out".to_owned()),
    }
}

/// `s` as a single-quoted MySQL string literal. Quotes are doubled (valid in every mode);
/// backslashes are escaped only where the session treats them as escapes. NUL is refused.
fn literal(s: &str, backslash_escapes: bool) -> Result<String, String> {
    if s.contains('\0') {
        return Err("a user name or password contains a NUL character".to_owned());
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' if backslash_escapes => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    Ok(out)
}

/// Split a `SHOW GRANTS` row into the privilege clause (everything before the grantee) and the
/// options to keep after it (`WITH GRANT OPTION`, `WITH ADMIN OPTION`). The grantee is the last
/// ` TO ` outside quotes, so names holding ` TO ` do not confuse it. Rows other than `GRANT`
/// (`SET DEFAULT ROLE`, partial `REVOKE`s) are not replayed.
fn split_grant(row: &str) -> Option<(&str, &str)> {
    if !row.starts_with("GRANT ") {
        return None;
    }
    let bytes = row.as_bytes();
    let mut quote: Option<u8> = None;
    let mut last_to = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => {
                if bytes.get(i + 1) == Some(&q) {
                    i += 1;
                } else {
                    quote = None;
                }
            }
            Some(b'\'' | b'"') if b == b'\\' => i += 1,
            Some(_) => {}
            None if matches!(b, b'`' | b'\'' | b'"') => quote = Some(b),
            None if bytes[i..].starts_with(b" TO ") => last_to = Some(i),
            None => {}
        }
        i += 1;
    }
    let at = last_to?;
    let rest = &row[at..];
    let option = [" WITH GRANT OPTION", " WITH ADMIN OPTION"]
        .into_iter()
        .find(|o| rest.ends_with(o))
        .unwrap_or("");
    Some((&row[..at], option))
}

/// Whether `creds` log in.
///
/// # Errors
/// Why they do not.
pub async fn check(creds: &DbSecret) -> Result<(), String> {
    let mut session = Session::open(creds).await?;
    let result = session.run("SELECT 1").await;
    session.close().await;
    result
}

/// Logged in as `login`, give `user` the password `password`. Without `like` the logged-in
/// account's own password is changed (`user` is `login`'s user). With `like`, `user`@`%` is
/// created when missing and given the grants of `like`@`%`.
///
/// # Errors
/// Why the server refused.
pub async fn set_password(
    login: &DbSecret,
    user: &str,
    password: &str,
    like: Option<&str>,
) -> Result<(), String> {
    let mut session = Session::open(login).await?;
    let result = set_password_in(&mut session, user, password, like).await;
    session.close().await;
    result
}

async fn set_password_in(
    session: &mut Session,
    user: &str,
    password: &str,
    like: Option<&str>,
) -> Result<(), String> {
    let secret = session.literal(password)?;
    let Some(like) = like else {
        // The account the server matched at login, whatever its host part, in the form each
        // server lets a user without CREATE USER use for its own password.
        let sql = if session.mariadb {
            format!("SET PASSWORD = PASSWORD({secret})")
        } else {
            format!("ALTER USER USER() IDENTIFIED BY {secret}")
        };
        return session.run(&sql).await;
    };
    let account = session.account(user)?;
    let exists: Option<u8> = session
        .conn
        .exec_first(
            "SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?",
            (user, ANY_HOST),
        )
        .await
        .map_err(|e| reason(&e))?;
    if exists.is_some() {
        return session
            .run(&format!("ALTER USER {account} IDENTIFIED BY {secret}"))
            .await;
    }
    let grants: Vec<String> = session
        .conn
        .query(format!("SHOW GRANTS FOR {}", session.account(like)?))
        .await
        .map_err(|e| reason(&e))?;
    session
        .run(&format!("CREATE USER {account} IDENTIFIED BY {secret}"))
        .await?;
    for row in &grants {
        let Some((privileges, option)) = split_grant(row) else {
            continue;
        };
        if let Err(e) = session
            .run(&format!("{privileges} TO {account}{option}"))
            .await
        {
            // Without all its grants the clone must not stay: the next attempt would only set
            // its password.
            let _ = session.run(&format!("DROP USER {account}")).await;
            return Err(format!("cannot give {user} the grants of {like}: {e}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_double_quotes_and_escape_backslashes_only_where_they_escape() {
        assert_eq!(literal("it's", true).as_deref(), Ok("'it''s'"));
        assert_eq!(literal("a\\'b", true).as_deref(), Ok("'a\\\\''b'"));
        assert_eq!(literal("a\\'b", false).as_deref(), Ok("'a\\''b'"));
        assert!(literal("a\0b", true).is_err());
    }

    #[test]
    fn grants_are_split_before_the_grantee() {
        assert_eq!(
            split_grant("GRANT SELECT, INSERT ON `app`.* TO `u`@`%`"),
            Some(("GRANT SELECT, INSERT ON `app`.*", ""))
        );
        assert_eq!(
            split_grant("GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*ABC'"),
            Some(("GRANT USAGE ON *.*", ""))
        );
        assert_eq!(
            split_grant("GRANT ALL PRIVILEGES ON `a TO b`.* TO 'u'@'%' WITH GRANT OPTION"),
            Some(("GRANT ALL PRIVILEGES ON `a TO b`.*", " WITH GRANT OPTION"))
        );
        assert_eq!(
            split_grant("GRANT `reader` TO `u TO v`@`%`"),
            Some(("GRANT `reader`", ""))
        );
        assert_eq!(split_grant("SET DEFAULT ROLE `r` FOR `u`@`%`"), None);
    }
}
