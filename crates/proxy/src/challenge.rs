//! CAPTCHA and Challenge rule actions on the load balancer, and the `aws-waf-token` cookie.
//!
//! As on AWS, a request that a Challenge rule matches is answered HTTP 202 with a silent
//! JavaScript interstitial, and one a CAPTCHA rule matches HTTP 405 with a puzzle page; both
//! carry `x-amzn-waf-action: challenge|captcha`. A client that solved one presents the token
//! cookie `aws-waf-token`; within the immunity time (`CaptchaConfig` / `ChallengeConfig` of the
//! rule or web ACL, 300 s by default) the rule then acts like Count.
//!
//! The token is `base64url(payload) "." base64url(HMAC-SHA256)`: the payload holds the times
//! the challenge and the CAPTCHA were solved and the token domain, under a key the web ACL source
//! hands over ([`WebAcls::token_key`]: WAFv2 derives it from the deployment's WAF MAC key, sealed
//! in the store, so every node accepts every node's tokens). Times come from the business clock (the dev clock moves them).
//! A token is accepted when its domain is the request's host, or is (a subdomain of) one of the
//! web ACL's `TokenDomains` that the host is within; it is issued for the shortest token domain
//! the host is within, else for the host.
//!
//! Rampart's endpoints on every load balancer with a web ACL (never inspected by its rules; on
//! a load balancer without one, these paths are forwarded like any other):
//! - `POST /.rampart-waf/challenge/verify` with JSON `{"challenge": C, "nonce": N}`: `C` is the
//!   signed challenge from the interstitial (host, issue time, random), valid 300 s;
//!   `SHA-256(C ":" N)` must start with [`DIFFICULTY`] zero bits. Answers 200 and sets the
//!   cookie, whose challenge time is the challenge's issue time (re-posting a solution cannot
//!   stretch a token).
//! - `POST /.rampart-waf/captcha/verify` with form fields `puzzle`, `answer` and `return` (a
//!   local path): the puzzle is signed (host, issue time, random), valid 300 s; its answer is
//!   derived from it with a second key, so checking is stateless. A right answer sets the
//!   cookie (CAPTCHA time = the puzzle's issue time) and redirects (303) to `return`; a wrong
//!   one answers a new puzzle (405).
//!
//! Limits: the puzzle is five characters drawn as distorted strokes in an SVG image, which stops
//! simple scripts but not a determined OCR or machine-learning solver, and it has no audio
//! alternative; a solved puzzle can be replayed until it expires (300 s), each replay minting a
//! token that expires with the first. The proof of work costs a browser about 65,000 SHA-256
//! computations.

use std::sync::Arc;

use aws_lc_rs::{digest, hmac};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::{Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use rampart_crypto::SecretBytes;
use rampart_service::Clock;
use rampart_waf::Tokens;

use crate::web_acl::WebAcls;

/// Paths under this prefix are Rampart's own and never forwarded.
pub const PREFIX: &str = "/.rampart-waf/";
/// Where the challenge page posts its proof of work.
pub const CHALLENGE_VERIFY: &str = "/.rampart-waf/challenge/verify";
/// Where the CAPTCHA page posts its answer.
pub const CAPTCHA_VERIFY: &str = "/.rampart-waf/captcha/verify";
/// The token cookie, named as on AWS.
pub const COOKIE: &str = "aws-waf-token";
/// Leading zero bits the proof of work needs.
pub const DIFFICULTY: u32 = 16;
/// Seconds a challenge or puzzle stays solvable.
pub const SOLVE_WITHIN: i64 = 300;
/// Tolerated clock skew between nodes, seconds.
const SKEW: i64 = 5;
/// Largest body accepted by the verify endpoints.
const MAX_BODY: usize = 8 * 1024;
/// Characters of the CAPTCHA (no look-alikes).
const ALPHABET: &[u8] = b"ACEFHKLMNPRTUVWXY3479";
/// Length of a CAPTCHA answer.
const ANSWER_LEN: usize = 5;

type Body = BoxBody<Bytes, hyper::Error>;

/// HMAC-SHA256 of `data` under `key`.
fn mac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// The four keys, one per purpose, derived from the deployment's WAF MAC key.
pub struct Secrets {
    token: SecretBytes,
    challenge: SecretBytes,
    puzzle: SecretBytes,
    answer: SecretBytes,
}

impl Secrets {
    /// Keys from fixed bytes (tests).
    #[must_use]
    pub fn fixed(seed: u8) -> Self {
        let k = |i: u8| SecretBytes::new(vec![seed ^ i; 32]);
        Secrets {
            token: k(1),
            challenge: k(2),
            puzzle: k(3),
            answer: k(4),
        }
    }
}

/// What an `aws-waf-token` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Format version (1).
    pub v: u8,
    /// The token domain.
    pub dom: String,
    /// When a challenge was solved, epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ch: Option<i64>,
    /// When a CAPTCHA was solved, epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<i64>,
    /// Random, so that two tokens never look alike.
    pub n: String,
}

/// A signed challenge or puzzle: for whom, when, and a random part.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Issued {
    h: String,
    t: i64,
    r: String,
}

fn seal(key: &SecretBytes, payload: &[u8]) -> String {
    format!(
        "{}.{}",
        B64.encode(payload),
        B64.encode(mac(key.expose(), payload))
    )
}

fn open(key: &SecretBytes, sealed: &str) -> Option<Vec<u8>> {
    let (body, tag) = sealed.split_once('.')?;
    let body = B64.decode(body).ok()?;
    let tag = B64.decode(tag).ok()?;
    rampart_crypto::ct_eq(&mac(key.expose(), &body), &tag).then_some(body)
}

fn random_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The host without port, lower case.
#[must_use]
pub fn host_only(host: &str) -> String {
    let h = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        match host.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        }
    };
    h.to_ascii_lowercase()
}

fn within(host: &str, domain: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// The domain a token for `host` is issued for: the shortest token domain `host` is within,
/// else `host`.
#[must_use]
pub fn issue_domain(host: &str, domains: &[String]) -> String {
    domains
        .iter()
        .map(|d| d.trim_start_matches('.').to_ascii_lowercase())
        .filter(|d| within(host, d))
        .min_by_key(String::len)
        .unwrap_or_else(|| host.to_owned())
}

/// Whether a token for `dom` is accepted on `host`.
#[must_use]
pub fn accepted(dom: &str, host: &str, domains: &[String]) -> bool {
    dom == host
        || (within(host, dom)
            && domains
                .iter()
                .map(|d| d.trim_start_matches('.').to_ascii_lowercase())
                .any(|d| within(dom, &d)))
}

/// Issue a token.
#[must_use]
pub fn issue_token(s: &Secrets, dom: &str, ch: Option<i64>, ca: Option<i64>) -> String {
    let t = Token {
        v: 1,
        dom: dom.to_owned(),
        ch,
        ca,
        n: random_hex(),
    };
    seal(&s.token, &serde_json::to_vec(&t).unwrap_or_default())
}

/// The token in `value`, if it is authentic.
#[must_use]
pub fn read_token(s: &Secrets, value: &str) -> Option<Token> {
    let body = open(&s.token, value)?;
    serde_json::from_slice::<Token>(&body)
        .ok()
        .filter(|t| t.v == 1)
}

/// What an authentic token proves on `host` at `now`.
#[must_use]
pub fn ages(t: &Token, now: i64, host: &str, domains: &[String]) -> Tokens {
    if !accepted(&t.dom, host, domains) {
        return Tokens::default();
    }
    let age = |at: Option<i64>| {
        at.filter(|at| *at <= now + SKEW)
            .map(|at| u64::try_from(now - at).unwrap_or(0))
    };
    Tokens {
        captcha_age_secs: age(t.ca),
        challenge_age_secs: age(t.ch),
    }
}

fn issue(key: &SecretBytes, host: &str, now: i64) -> String {
    let i = Issued {
        h: host.to_owned(),
        t: now,
        r: random_hex(),
    };
    seal(key, &serde_json::to_vec(&i).unwrap_or_default())
}

fn check_issued(key: &SecretBytes, sealed: &str, host: &str, now: i64) -> Option<i64> {
    let i: Issued = serde_json::from_slice(&open(key, sealed)?).ok()?;
    (i.h == host && i.t <= now + SKEW && now - i.t <= SOLVE_WITHIN).then_some(i.t)
}

/// A new challenge for `host`.
#[must_use]
pub fn new_challenge(s: &Secrets, host: &str, now: i64) -> String {
    issue(&s.challenge, host, now)
}

/// Whether `SHA-256(challenge ":" nonce)` starts with `bits` zero bits.
#[must_use]
pub fn work_done(challenge: &str, nonce: &str, bits: u32) -> bool {
    let d = digest::digest(&digest::SHA256, format!("{challenge}:{nonce}").as_bytes());
    let mut left = bits;
    for b in d.as_ref() {
        if left == 0 {
            return true;
        }
        let take = left.min(8);
        let mask = 0xffu8 << (8 - take);
        if b & mask != 0 {
            return false;
        }
        left -= take;
    }
    left == 0
}

/// The issue time of a solved challenge, if `challenge` is authentic, for `host`, unexpired,
/// and `nonce` does the work.
#[must_use]
pub fn check_work(s: &Secrets, challenge: &str, nonce: &str, host: &str, now: i64) -> Option<i64> {
    if nonce.len() > 32 || !work_done(challenge, nonce, DIFFICULTY) {
        return None;
    }
    check_issued(&s.challenge, challenge, host, now)
}

/// A new CAPTCHA puzzle for `host`: the signed puzzle and its answer.
#[must_use]
pub fn new_puzzle(s: &Secrets, host: &str, now: i64) -> (String, String) {
    let p = issue(&s.puzzle, host, now);
    let a = answer_of(s, &p);
    (p, a)
}

fn answer_of(s: &Secrets, puzzle: &str) -> String {
    mac(s.answer.expose(), puzzle.as_bytes())
        .iter()
        .take(ANSWER_LEN)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// The issue time of a solved puzzle, if `puzzle` is authentic, for `host`, unexpired, and
/// `answer` is its answer (case and spaces ignored).
#[must_use]
pub fn check_answer(s: &Secrets, puzzle: &str, answer: &str, host: &str, now: i64) -> Option<i64> {
    let issued = check_issued(&s.puzzle, puzzle, host, now)?;
    let given: String = answer
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    rampart_crypto::ct_eq(given.as_bytes(), answer_of(s, puzzle).as_bytes()).then_some(issued)
}

/// Strokes of each CAPTCHA character on a 4 × 6 grid.
fn glyph(c: u8) -> &'static [&'static [(f32, f32)]] {
    match c {
        b'A' => &[&[(0., 6.), (2., 0.), (4., 6.)], &[(1., 3.5), (3., 3.5)]],
        b'C' => &[&[
            (4., 1.),
            (3., 0.),
            (1., 0.),
            (0., 1.),
            (0., 5.),
            (1., 6.),
            (3., 6.),
            (4., 5.),
        ]],
        b'E' => &[
            &[(4., 0.), (0., 0.), (0., 6.), (4., 6.)],
            &[(0., 3.), (3., 3.)],
        ],
        b'F' => &[&[(4., 0.), (0., 0.), (0., 6.)], &[(0., 3.), (3., 3.)]],
        b'H' => &[
            &[(0., 0.), (0., 6.)],
            &[(4., 0.), (4., 6.)],
            &[(0., 3.), (4., 3.)],
        ],
        b'K' => &[
            &[(0., 0.), (0., 6.)],
            &[(4., 0.), (0., 3.5)],
            &[(1.3, 2.6), (4., 6.)],
        ],
        b'L' => &[&[(0., 0.), (0., 6.), (4., 6.)]],
        b'M' => &[&[(0., 6.), (0., 0.), (2., 3.), (4., 0.), (4., 6.)]],
        b'N' => &[&[(0., 6.), (0., 0.), (4., 6.), (4., 0.)]],
        b'P' => &[&[
            (0., 6.),
            (0., 0.),
            (3., 0.),
            (4., 1.),
            (4., 2.),
            (3., 3.),
            (0., 3.),
        ]],
        b'R' => &[
            &[
                (0., 6.),
                (0., 0.),
                (3., 0.),
                (4., 1.),
                (4., 2.),
                (3., 3.),
                (0., 3.),
            ],
            &[(2., 3.), (4., 6.)],
        ],
        b'T' => &[&[(0., 0.), (4., 0.)], &[(2., 0.), (2., 6.)]],
        b'U' => &[&[(0., 0.), (0., 5.), (1., 6.), (3., 6.), (4., 5.), (4., 0.)]],
        b'V' => &[&[(0., 0.), (2., 6.), (4., 0.)]],
        b'W' => &[&[(0., 0.), (1., 6.), (2., 2.), (3., 6.), (4., 0.)]],
        b'X' => &[&[(0., 0.), (4., 6.)], &[(4., 0.), (0., 6.)]],
        b'Y' => &[&[(0., 0.), (2., 3.), (4., 0.)], &[(2., 3.), (2., 6.)]],
        b'3' => &[&[
            (0., 0.),
            (4., 0.),
            (2., 2.5),
            (3., 2.5),
            (4., 3.5),
            (4., 5.),
            (3., 6.),
            (1., 6.),
            (0., 5.),
        ]],
        b'4' => &[&[(3., 6.), (3., 0.), (0., 4.), (4., 4.)]],
        b'7' => &[&[(0., 0.), (4., 0.), (1.5, 6.)]],
        b'9' => &[&[
            (4., 3.),
            (1., 3.),
            (0., 2.),
            (0., 1.),
            (1., 0.),
            (3., 0.),
            (4., 1.),
            (4., 5.),
            (3., 6.),
            (0., 6.),
        ]],
        _ => &[],
    }
}

/// A small deterministic generator for the drawing's jitter (not for secrets).
struct Jitter(u64);

impl Jitter {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        #[allow(clippy::cast_precision_loss)]
        let v = (self.0 >> 40) as f32 / (1u64 << 24) as f32;
        v
    }
    /// Uniform in `[-r, r]`.
    fn within(&mut self, r: f32) -> f32 {
        (self.next() * 2.0 - 1.0) * r
    }
}

/// The answer drawn as distorted strokes with noise, as an SVG document.
#[must_use]
pub fn puzzle_svg(answer: &str, seed: u64) -> String {
    use std::fmt::Write as _;
    let mut j = Jitter(seed | 1);
    let (w, h) = (230.0f32, 70.0f32);
    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}"><rect width="100%" height="100%" fill="#f4f1ea"/>"##
    );
    for _ in 0..7 {
        let _ = write!(
            out,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#8a8f99" stroke-width="{:.1}"/>"##,
            j.next() * w,
            j.next() * h,
            j.next() * w,
            j.next() * h,
            1.0 + j.next() * 1.5
        );
    }
    for (i, c) in answer.bytes().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let x0 = 18.0 + i as f32 * 40.0 + j.within(4.0);
        let y0 = 14.0 + j.within(5.0);
        let scale = 6.0 + j.within(1.0);
        let angle = j.within(0.35);
        let (sin, cos) = angle.sin_cos();
        for stroke in glyph(c) {
            let mut d = String::new();
            for (k, (gx, gy)) in stroke.iter().enumerate() {
                let (px, py) = (
                    (gx - 2.0 + j.within(0.3)) * scale,
                    (gy - 3.0 + j.within(0.3)) * scale,
                );
                let (rx, ry) = (px * cos - py * sin, px * sin + py * cos);
                let _ = write!(
                    d,
                    "{}{:.1} {:.1} ",
                    if k == 0 { "M" } else { "L" },
                    x0 + 12.0 + rx,
                    y0 + 18.0 + ry
                );
            }
            let _ = write!(
                out,
                r##"<path d="{}" fill="none" stroke="#1d2433" stroke-width="{:.1}" stroke-linecap="round" stroke-linejoin="round"/>"##,
                d.trim_end(),
                2.6 + j.next()
            );
        }
    }
    for _ in 0..40 {
        let _ = write!(
            out,
            r##"<circle cx="{:.1}" cy="{:.1}" r="{:.1}" fill="#1d2433"/>"##,
            j.next() * w,
            j.next() * h,
            0.6 + j.next()
        );
    }
    out.push_str("</svg>");
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, action: &'static str, html: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(html)).map_err(|n| match n {}).boxed());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    h.insert("x-amzn-waf-action", HeaderValue::from_static(action));
    r
}

fn plain(status: StatusCode, msg: &'static str) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from_static(msg.as_bytes()))
            .map_err(|n| match n {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// The interstitial for a challenge.
#[must_use]
pub fn challenge_page(challenge: &str) -> String {
    format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Checking your browser</title></head>
<body style="font-family:sans-serif;text-align:center;margin-top:15vh">
<div id="rampart-waf" data-challenge="{c}" data-difficulty="{d}" data-verify="{v}"></div>
<p id="rampart-waf-status">Checking your browser before you continue&hellip;</p>
<noscript><p>This site needs JavaScript to verify your browser.</p></noscript>
<script>{js}</script>
</body></html>"#,
        c = html_escape(challenge),
        d = DIFFICULTY,
        v = CHALLENGE_VERIFY,
        js = include_str!("challenge.js"),
    )
}

/// The CAPTCHA page.
#[must_use]
pub fn captcha_page(puzzle: &str, svg: &str, back: &str, retry: bool) -> String {
    format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Let us know you're human</title></head>
<body style="font-family:sans-serif;text-align:center;margin-top:10vh">
<h1>Let us know you're human</h1>
<p>Type the characters in the picture.</p>{retry}
<div>{svg}</div>
<form method="post" action="{v}">
<input type="hidden" name="puzzle" value="{p}">
<input type="hidden" name="return" value="{b}">
<input name="answer" autocomplete="off" autofocus maxlength="12" aria-label="characters in the picture">
<button type="submit">Continue</button>
</form>
</body></html>"#,
        retry = if retry {
            "<p style=\"color:#a00\">That was not right. Try this one.</p>"
        } else {
            ""
        },
        v = CAPTCHA_VERIFY,
        p = html_escape(puzzle),
        b = html_escape(back),
    )
}

/// Only a local path may be returned to.
fn safe_return(back: &str) -> &str {
    if back.starts_with('/') && !back.starts_with("//") && !back.contains(['\\', '\r', '\n']) {
        back
    } else {
        "/"
    }
}

/// The value of the `aws-waf-token` cookie among the request's cookies.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim())
}

/// Which page a rule asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A CAPTCHA puzzle (405).
    Captcha,
    /// A silent challenge (202).
    Challenge,
}

/// CAPTCHA and challenge pages, their verify endpoints, and token checks for the proxy.
pub struct Challenger {
    web_acls: Arc<dyn WebAcls>,
    clock: Arc<dyn Clock>,
    secrets: tokio::sync::OnceCell<Arc<Secrets>>,
}

impl Challenger {
    /// A challenger signing with the keys of `web_acls`; times from `clock`.
    #[must_use]
    pub fn new(web_acls: Arc<dyn WebAcls>, clock: Arc<dyn Clock>) -> Self {
        Challenger {
            web_acls,
            clock,
            secrets: tokio::sync::OnceCell::new(),
        }
    }

    fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    async fn secrets(&self) -> Option<Arc<Secrets>> {
        let key = |purpose| self.web_acls.token_key(purpose);
        self.secrets
            .get_or_try_init(|| async {
                Ok::<_, crate::Unavailable>(Arc::new(Secrets {
                    token: key("waf-token").await?,
                    challenge: key("waf-challenge").await?,
                    puzzle: key("waf-captcha-puzzle").await?,
                    answer: key("waf-captcha-answer").await?,
                }))
            })
            .await
            .ok()
            .cloned()
    }

    /// What the request's `aws-waf-token` proves (nothing without a valid one), for a web ACL
    /// whose token domains are `domains`.
    pub async fn tokens(&self, domains: &[String], headers: &HeaderMap, host: &str) -> Tokens {
        let Some(value) = cookie(headers) else {
            return Tokens::default();
        };
        let Some(s) = self.secrets().await else {
            return Tokens::default();
        };
        match read_token(&s, value) {
            Some(t) => ages(&t, self.now(), &host_only(host), domains),
            None => Tokens::default(),
        }
    }

    /// The page for a request a CAPTCHA or Challenge rule stopped.
    pub async fn answer(&self, kind: Kind, host: &str, path_and_query: &str) -> Response<Body> {
        let Some(s) = self.secrets().await else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "{}");
        };
        let host = host_only(host);
        match kind {
            Kind::Challenge => page(
                StatusCode::ACCEPTED,
                "challenge",
                challenge_page(&new_challenge(&s, &host, self.now())),
            ),
            Kind::Captcha => self.puzzle_page(&s, &host, path_and_query, false),
        }
    }

    fn puzzle_page(&self, s: &Secrets, host: &str, back: &str, retry: bool) -> Response<Body> {
        let (puzzle, answer) = new_puzzle(s, host, self.now());
        let seed = u64::from_le_bytes(
            digest::digest(&digest::SHA256, puzzle.as_bytes()).as_ref()[..8]
                .try_into()
                .unwrap_or([7; 8]),
        );
        page(
            StatusCode::METHOD_NOT_ALLOWED,
            "captcha",
            captcha_page(
                &puzzle,
                &puzzle_svg(&answer, seed),
                safe_return(back),
                retry,
            ),
        )
    }

    /// Serve a request under [`PREFIX`] on a load balancer whose web ACL has token domains
    /// `domains`.
    pub async fn serve(
        &self,
        domains: &[String],
        parts: &http::request::Parts,
        mut body: Incoming,
        host: &str,
        tls: bool,
    ) -> Response<Body> {
        let path = parts.uri.path();
        if parts.method != http::Method::POST
            || (path != CHALLENGE_VERIFY && path != CAPTCHA_VERIFY)
        {
            return plain(StatusCode::NOT_FOUND, "{}");
        }
        let mut buf = Vec::new();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return plain(StatusCode::BAD_REQUEST, "{}");
            };
            if let Ok(d) = frame.into_data() {
                buf.extend_from_slice(&d);
                if buf.len() > MAX_BODY {
                    return plain(StatusCode::PAYLOAD_TOO_LARGE, "{}");
                }
            }
        }
        let Some(s) = self.secrets().await else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "{}");
        };
        let host = host_only(host);
        let now = self.now();
        let previous = cookie(&parts.headers)
            .and_then(|v| read_token(&s, v))
            .filter(|t| accepted(&t.dom, &host, domains));
        let dom = issue_domain(&host, domains);
        if path == CHALLENGE_VERIFY {
            let v: Value = serde_json::from_slice(&buf)
                .ok()
                .or_else(|| form(&buf))
                .unwrap_or(Value::Null);
            let (Some(c), Some(n)) = (
                v.get("challenge").and_then(Value::as_str),
                v.get("nonce").and_then(Value::as_str),
            ) else {
                return plain(StatusCode::BAD_REQUEST, r#"{"ok":false}"#);
            };
            let Some(at) = check_work(&s, c, n, &host, now) else {
                return plain(StatusCode::FORBIDDEN, r#"{"ok":false}"#);
            };
            let ca = previous.and_then(|t| t.ca);
            let token = issue_token(&s, &dom, Some(at), ca);
            let mut r = plain(StatusCode::OK, r#"{"ok":true}"#);
            set_cookie(&mut r, &token, &dom, &host, tls);
            return r;
        }
        let v = form(&buf).unwrap_or(Value::Null);
        let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default();
        let back = safe_return(field("return")).to_owned();
        match check_answer(&s, field("puzzle"), field("answer"), &host, now) {
            Some(at) => {
                let ch = previous.and_then(|t| t.ch);
                let token = issue_token(&s, &dom, ch, Some(at));
                let mut r = plain(StatusCode::SEE_OTHER, "");
                if let Ok(l) = HeaderValue::from_str(&back) {
                    r.headers_mut().insert(LOCATION, l);
                }
                set_cookie(&mut r, &token, &dom, &host, tls);
                r
            }
            None => self.puzzle_page(&s, &host, &back, true),
        }
    }
}

fn set_cookie(r: &mut Response<Body>, token: &str, dom: &str, host: &str, tls: bool) {
    let mut c = format!("{COOKIE}={token}; Path=/; SameSite=Lax");
    if dom != host {
        c.push_str("; Domain=");
        c.push_str(dom);
    }
    if tls {
        c.push_str("; Secure");
    }
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().insert(SET_COOKIE, v);
    }
}

/// An `application/x-www-form-urlencoded` body as a JSON object of strings.
fn form(body: &[u8]) -> Option<Value> {
    let mut m = serde_json::Map::new();
    for (k, v) in form_urlencoded::parse(body) {
        m.insert(k.into_owned(), Value::String(v.into_owned()));
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solve(c: &str) -> String {
        (0u64..)
            .map(|n| n.to_string())
            .find(|n| work_done(c, n, DIFFICULTY))
            .unwrap_or_default()
    }

    #[test]
    fn token_round_trip_and_ages() {
        let s = Secrets::fixed(1);
        let t = issue_token(&s, "shop.example.com", Some(1000), None);
        let got = read_token(&s, &t).unwrap();
        assert_eq!(got.dom, "shop.example.com");
        let a = ages(&got, 1100, "shop.example.com", &[]);
        assert_eq!(a.challenge_age_secs, Some(100));
        assert_eq!(a.captcha_age_secs, None);
    }

    #[test]
    fn forged_or_stretched_tokens_are_refused() {
        let s = Secrets::fixed(1);
        let t = issue_token(&s, "example.com", Some(1000), Some(1000));
        // Another deployment's key.
        assert!(read_token(&Secrets::fixed(9), &t).is_none());
        // A payload rewritten with a later time keeps the old MAC.
        let (_, tag) = t.split_once('.').unwrap();
        let stretched = Token {
            v: 1,
            dom: "example.com".into(),
            ch: Some(999_999),
            ca: Some(999_999),
            n: "x".into(),
        };
        let forged = format!(
            "{}.{tag}",
            B64.encode(serde_json::to_vec(&stretched).unwrap())
        );
        assert!(read_token(&s, &forged).is_none());
        // Garbage.
        assert!(read_token(&s, "abc").is_none());
        assert!(read_token(&s, "....").is_none());
        // A token from the future proves nothing.
        let future = read_token(&s, &issue_token(&s, "example.com", Some(5000), None)).unwrap();
        assert_eq!(ages(&future, 1000, "example.com", &[]), Tokens::default());
    }

    #[test]
    fn expiry_is_the_engines_comparison_of_age_and_immunity() {
        let s = Secrets::fixed(1);
        let t = read_token(&s, &issue_token(&s, "h.test", None, Some(0))).unwrap();
        assert_eq!(ages(&t, 300, "h.test", &[]).captcha_age_secs, Some(300));
        assert_eq!(ages(&t, 301, "h.test", &[]).captcha_age_secs, Some(301));
    }

    #[test]
    fn token_domains() {
        let list = vec!["example.com".to_owned(), ".other.org".to_owned()];
        assert_eq!(issue_domain("a.b.example.com", &list), "example.com");
        assert_eq!(issue_domain("example.net", &list), "example.net");
        assert!(accepted("example.com", "shop.example.com", &list));
        assert!(accepted("shop.example.com", "shop.example.com", &[]));
        assert!(!accepted("example.com", "shop.example.com", &[]));
        assert!(!accepted("example.com", "badexample.com", &list));
        assert!(!accepted("other.org", "example.com", &list));
        assert_eq!(host_only("Shop.Example.com:8080"), "shop.example.com");
        assert_eq!(host_only("[::1]:80"), "[::1]");
    }

    #[test]
    fn proof_of_work_is_checked() {
        let s = Secrets::fixed(2);
        let c = new_challenge(&s, "127.0.0.1", 1000);
        let n = solve(&c);
        assert_eq!(check_work(&s, &c, &n, "127.0.0.1", 1010), Some(1000));
        assert_eq!(check_work(&s, &c, &n, "other.host", 1010), None);
        assert_eq!(
            check_work(&s, &c, &n, "127.0.0.1", 1000 + SOLVE_WITHIN + 1),
            None
        );
        let wrong = (0u64..)
            .map(|n| n.to_string())
            .find(|n| !work_done(&c, n, DIFFICULTY))
            .unwrap();
        assert_eq!(check_work(&s, &c, &wrong, "127.0.0.1", 1010), None);
        // A challenge signed by someone else.
        let theirs = new_challenge(&Secrets::fixed(3), "127.0.0.1", 1000);
        assert_eq!(
            check_work(&s, &theirs, &solve(&theirs), "127.0.0.1", 1010),
            None
        );
    }

    #[test]
    fn captcha_answers_are_checked_statelessly() {
        let s = Secrets::fixed(4);
        let (p, a) = new_puzzle(&s, "example.com", 1000);
        assert_eq!(a.len(), ANSWER_LEN);
        assert!(a.bytes().all(|b| ALPHABET.contains(&b)));
        assert_eq!(check_answer(&s, &p, &a, "example.com", 1100), Some(1000));
        assert_eq!(
            check_answer(
                &s,
                &p,
                &format!(" {} ", a.to_lowercase()),
                "example.com",
                1100
            ),
            Some(1000)
        );
        let mut wrong = a.clone().into_bytes();
        wrong[0] = if wrong[0] == b'A' { b'C' } else { b'A' };
        let wrong = String::from_utf8(wrong).unwrap();
        assert_eq!(check_answer(&s, &p, &wrong, "example.com", 1100), None);
        assert_eq!(check_answer(&s, &p, &a, "example.org", 1100), None);
        assert_eq!(
            check_answer(&s, &p, &a, "example.com", 1000 + SOLVE_WITHIN + 1),
            None
        );
        assert_eq!(
            check_answer(&Secrets::fixed(5), &p, &a, "example.com", 1100),
            None
        );
    }

    #[test]
    fn the_puzzle_image_does_not_contain_its_answer_as_text() {
        let s = Secrets::fixed(4);
        let (_, a) = new_puzzle(&s, "example.com", 1000);
        let svg = puzzle_svg(&a, 42);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains(&a) && !svg.contains("<text"));
        assert!(svg.matches("<path").count() >= ANSWER_LEN);
        for c in ALPHABET {
            assert!(!glyph(*c).is_empty(), "{}", char::from(*c));
        }
    }

    #[test]
    fn returns_stay_local() {
        assert_eq!(safe_return("/a?b=1"), "/a?b=1");
        assert_eq!(safe_return("//evil.example"), "/");
        assert_eq!(safe_return("https://evil.example"), "/");
    }
}
