//! Paging: opaque, tamper-evident `NextToken`/`Marker` values and one page of a listing, resumed
//! after a key ([`page_after`], for listings in key order) or at a position ([`page_from`], for
//! listings in another order: sorted results, versions, names in the order asked for).
//!
//! A token is `base64url(last key) "." base64url(HMAC-SHA256(scope, last key))[..16 bytes]`
//! under a key that is random per process unless the server installs a shared one
//! ([`set_key`], e.g. derived from the root key, so every node over one store accepts every
//! other node's tokens). The scope names the listing (`kms:ListGrants:<key ARN>`), so a token
//! from another listing or operation, or an edited one, is refused with the service's
//! invalid-token error.

use std::sync::OnceLock;

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;

/// Bytes of the MAC kept in a token.
const MAC_LEN: usize = 16;

static KEY: OnceLock<hmac::Key> = OnceLock::new();

fn key() -> &'static hmac::Key {
    KEY.get_or_init(|| {
        let mut bytes = [0u8; 32];
        // Without OS randomness the key is still secret to nobody: tokens stay opaque but not
        // tamper-evident, which only lets a caller skip within its own listing.
        let _ = getrandom::fill(&mut bytes);
        hmac::Key::new(hmac::HMAC_SHA256, &bytes)
    })
}

/// Install the token key shared by all nodes; only the first call (before any token is made)
/// takes effect. Returns whether it did.
pub fn set_key(secret: &[u8]) -> bool {
    KEY.set(hmac::Key::new(hmac::HMAC_SHA256, secret)).is_ok()
}

fn mac(scope: &str, last_key: &str) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(key());
    ctx.update(scope.as_bytes());
    ctx.update(&[0]);
    ctx.update(last_key.as_bytes());
    ctx.sign()
}

/// The token that resumes the listing `scope` after `last_key`.
#[must_use]
pub fn token(scope: &str, last_key: &str) -> String {
    let tag = mac(scope, last_key);
    let short = tag.as_ref().get(..MAC_LEN).unwrap_or_default();
    format!("{}.{}", B64.encode(last_key), B64.encode(short))
}

/// The last key a token for `scope` carries; `None` for a token that is malformed, edited, or
/// from another listing.
#[must_use]
pub fn open(scope: &str, token: &str) -> Option<String> {
    let (key_part, mac_part) = token.split_once('.')?;
    let last_key = String::from_utf8(B64.decode(key_part).ok()?).ok()?;
    let given = B64.decode(mac_part).ok()?;
    let want = mac(scope, &last_key);
    let want = want.as_ref().get(..MAC_LEN)?;
    (given.len() == MAC_LEN
        && aws_lc_rs::constant_time::verify_slices_are_equal(&given, want).is_ok())
    .then_some(last_key)
}

/// Open an optional token, answering a bad one with `invalid()`.
///
/// # Errors
/// `invalid()` for a token `open` refuses.
pub fn open_or<E>(
    scope: &str,
    token: Option<&str>,
    invalid: impl FnOnce() -> E,
) -> Result<Option<String>, E> {
    match token {
        None | Some("") => Ok(None),
        Some(t) => open(scope, t).map(Some).ok_or_else(invalid),
    }
}

/// The first `max` of `items` (ordered by key) and, when more remain, the token resuming the
/// listing `scope` after the last one returned.
#[must_use]
pub fn page<T>(scope: &str, items: Vec<(String, T)>, max: usize) -> (Vec<T>, Option<String>) {
    let truncated = items.len() > max;
    let mut out = Vec::with_capacity(items.len().min(max));
    let mut last = None;
    for (k, v) in items.into_iter().take(max) {
        last = Some(k);
        out.push(v);
    }
    let next = if truncated {
        last.map(|k| token(scope, &k))
    } else {
        None
    };
    (out, next)
}

/// The page of `items` (ordered by key) that follows the key in `token` (a token of the
/// listing `scope`, or none for the first page), as [`page`] cuts it.
///
/// # Errors
/// `invalid()` for a token `open` refuses.
pub fn page_after<T, E>(
    scope: &str,
    items: Vec<(String, T)>,
    token: Option<&str>,
    max: usize,
    invalid: impl FnOnce() -> E,
) -> Result<(Vec<T>, Option<String>), E> {
    let after = open_or(scope, token, invalid)?;
    let rest = items
        .into_iter()
        .filter(|(k, _)| after.as_deref().is_none_or(|a| k.as_str() > a))
        .collect();
    Ok(page(scope, rest, max))
}

/// The token that resumes the listing `scope` at position `offset`.
#[must_use]
pub fn offset_token(scope: &str, offset: usize) -> String {
    token(scope, &offset.to_string())
}

/// The position an optional offset token for `scope` carries (0 without one), answering a bad
/// token with `invalid()`.
///
/// # Errors
/// `invalid()` for a token `open` refuses or one that carries no position.
pub fn open_offset<E>(
    scope: &str,
    token: Option<&str>,
    invalid: impl FnOnce() -> E,
) -> Result<usize, E> {
    match token {
        None | Some("") => Ok(0),
        Some(t) => open(scope, t)
            .and_then(|n| n.parse().ok())
            .ok_or_else(invalid),
    }
}

/// The page of at most `max` of `items` at the position in `token` (a token of the listing
/// `scope`, or none for the first page) and, when more remain, the token of the next page. A
/// position past the end (the listing shrank) gives an empty last page.
///
/// # Errors
/// `invalid()` for a token [`open_offset`] refuses.
pub fn page_from<T, E>(
    scope: &str,
    items: Vec<T>,
    token: Option<&str>,
    max: usize,
    invalid: impl FnOnce() -> E,
) -> Result<(Vec<T>, Option<String>), E> {
    let start = open_offset(scope, token, invalid)?;
    let total = items.len();
    let end = start.saturating_add(max).min(total);
    let next = (end < total).then(|| offset_token(scope, end));
    Ok((
        items
            .into_iter()
            .skip(start)
            .take(end.saturating_sub(start))
            .collect(),
        next,
    ))
}

/// A requested page size: AWS's `default` when absent or not positive, at most `max`.
#[must_use]
pub fn size(requested: Option<i32>, default: usize, max: usize) -> usize {
    requested
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
        .min(max)
}

#[cfg(test)]
mod tests {
    use super::{
        offset_token, open, open_offset, open_or, page, page_after, page_from, size, token,
    };
    use base64::Engine as _;

    #[test]
    fn tokens_round_trip_within_their_listing() {
        let t = token("kms:ListGrants:k1", "acct/region/k1/grant-9");
        assert_eq!(
            open("kms:ListGrants:k1", &t).as_deref(),
            Some("acct/region/k1/grant-9")
        );
    }

    #[test]
    fn a_token_from_another_listing_is_refused() {
        let t = token("kms:ListGrants:k1", "a");
        assert_eq!(open("kms:ListGrants:k2", &t), None);
        assert_eq!(open("iam:ListPolicies", &t), None);
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let t = token("scope", "acct/b");
        let (_, mac) = t.split_once('.').unwrap_or_default();
        let forged = format!("{}.{mac}", super::B64.encode("acct/z"));
        assert_eq!(open("scope", &forged), None);
        assert_eq!(open("scope", "not a token"), None);
        assert_eq!(open("scope", "YQ.AAAA"), None);
        let refused: Result<_, &str> = open_or("scope", Some("junk"), || "InvalidNextToken");
        assert_eq!(refused, Err("InvalidNextToken"));
        assert_eq!(open_or("scope", None, || "x"), Ok(None));
    }

    #[test]
    fn pages_end_with_a_token_only_when_more_remain() {
        let items = || {
            vec![
                ("a".to_owned(), 1),
                ("b".to_owned(), 2),
                ("c".to_owned(), 3),
            ]
        };
        let (first, next) = page("s", items(), 2);
        assert_eq!(first, [1, 2]);
        assert_eq!(
            open("s", next.as_deref().unwrap_or_default()).as_deref(),
            Some("b")
        );
        let (second, last) =
            page_after("s", items(), next.as_deref(), 2, || "bad").unwrap_or_default();
        assert_eq!((second, last), (vec![3], None));
        let (all, none) = page("s", items(), 3);
        assert_eq!((all.len(), none), (3, None));
        assert!(page_after("t", items(), Some(&token("s", "a")), 2, || "bad").is_err());
        assert_eq!(size(None, 50, 100), 50);
        assert_eq!(size(Some(0), 50, 100), 50);
        assert_eq!(size(Some(500), 50, 100), 100);
    }

    #[test]
    fn positional_pages_resume_where_the_last_ended() {
        let items = || vec!['a', 'b', 'c', 'd', 'e'];
        let (first, next) = page_from("s", items(), None, 2, || "bad").unwrap_or_default();
        assert_eq!(first, ['a', 'b']);
        let (second, next) =
            page_from("s", items(), next.as_deref(), 2, || "bad").unwrap_or_default();
        assert_eq!(second, ['c', 'd']);
        let (last, none) =
            page_from("s", items(), next.as_deref(), 2, || "bad").unwrap_or_default();
        assert_eq!((last, none), (vec!['e'], None));
        // The listing shrank under the token: an empty last page.
        let (empty, none) =
            page_from("s", vec!['a'], Some(&offset_token("s", 4)), 2, || "bad").unwrap_or_default();
        assert_eq!((empty, none), (vec![], None));
    }

    #[test]
    fn a_forged_or_foreign_position_is_refused() {
        assert_eq!(open_offset("s", Some("4"), || "bad"), Err("bad"));
        assert_eq!(
            open_offset("t", Some(&offset_token("s", 4)), || "bad"),
            Err("bad")
        );
        assert_eq!(
            open_offset("s", Some(&token("s", "key")), || "bad"),
            Err("bad")
        );
        assert_eq!(open_offset("s", None, || "bad"), Ok(0));
        assert!(page_from("s", vec![1], Some("MA"), 1, || "bad").is_err());
    }
}
