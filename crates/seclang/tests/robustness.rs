//! Robustness against the unmodified OWASP CRS (`RAMPART_CRS_DIR`, else the shared copy): a
//! broken rule fails the load with file, line and reason, and requests built to make CRS's
//! heaviest rules run long are bounded.
//!
//! Time bounds are independent of the build profile: each heavy request is compared with a
//! calibration request (a 2 KiB form POST) measured in the same process:
//! heavy ≤ calibration × (heavy size / calibration size) × [`MAX_RATIO`] + [`SLACK`], the least
//! of three runs each. Linear work passes with a wide margin; a regex that backtracks or a
//! transformation that grows quadratically does not. The absolute figures are printed
//! (`--nocapture`); in a release build every case here takes well under a second.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use rampart_seclang::{Engine, EngineConfig, LoadError, Request};

fn crs_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("RAMPART_CRS_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs/v4.28.0"),
        PathBuf::from,
    );
    let dir = if dir.join("rules").is_dir() {
        dir
    } else {
        PathBuf::from("/work/shared/crs/v4.28.0")
    };
    if dir.join("rules").is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: no CRS (set RAMPART_CRS_DIR to a coreruleset v4 directory)");
        None
    }
}

/// Copies `crs-setup.conf.example` and `rules/` to a temporary directory (the copy lives only
/// as long as the test).
fn copy_crs(src: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        src.join("crs-setup.conf.example"),
        tmp.path().join("crs-setup.conf.example"),
    )
    .expect("copy setup");
    std::fs::create_dir(tmp.path().join("rules")).expect("mkdir");
    for e in std::fs::read_dir(src.join("rules")).expect("rules dir") {
        let p = e.expect("entry").path();
        if p.is_file() {
            std::fs::copy(
                &p,
                tmp.path().join("rules").join(p.file_name().expect("name")),
            )
            .expect("copy rule file");
        }
    }
    tmp
}

/// Appends `rule` to `file` in the copy and loads it, expecting a parse error at its line.
fn load_with_appended(file: &str, rule: &str) -> Option<(PathBuf, usize, usize, String)> {
    let crs = crs_dir()?;
    let tmp = copy_crs(&crs);
    let path = tmp.path().join("rules").join(file);
    let mut text = std::fs::read_to_string(&path).expect("read");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let line = text.lines().count() + 2;
    text.push('\n');
    text.push_str(rule);
    text.push('\n');
    std::fs::write(&path, text).expect("write");
    match Engine::load(tmp.path(), &EngineConfig::default()) {
        Err(LoadError::Parse {
            file,
            line: got,
            reason,
        }) => Some((
            file.strip_prefix(tmp.path())
                .expect("in copy")
                .to_path_buf(),
            got,
            line,
            reason,
        )),
        Err(e) => panic!("expected a parse error, got {e}"),
        Ok(_) => panic!("a broken rule loaded"),
    }
}

#[test]
fn broken_regex_fails_with_file_line_and_reason() {
    let Some((file, got, want, reason)) = load_with_appended(
        "REQUEST-942-APPLICATION-ATTACK-SQLI.conf",
        "SecRule ARGS \"@rx (unclosed[\" \"id:9420999,phase:2,block,t:none\"",
    ) else {
        return;
    };
    assert_eq!(
        file,
        Path::new("rules/REQUEST-942-APPLICATION-ATTACK-SQLI.conf")
    );
    assert_eq!(got, want);
    assert!(
        reason.contains("9420999") || reason.to_lowercase().contains("regex"),
        "{reason}"
    );
}

#[test]
fn unknown_operator_fails_with_file_line_and_reason() {
    let Some((file, got, want, reason)) = load_with_appended(
        "REQUEST-932-APPLICATION-ATTACK-RCE.conf",
        "SecRule REQUEST_URI \"@noSuchOperator x\" \\\n    \"id:9320999,phase:1,pass\"",
    ) else {
        return;
    };
    assert_eq!(
        file,
        Path::new("rules/REQUEST-932-APPLICATION-ATTACK-RCE.conf")
    );
    assert_eq!(got, want);
    assert!(reason.contains("nosuchoperator"), "{reason}");
}

#[test]
fn unterminated_quote_and_unknown_action_fail_with_line() {
    let Some((_, got, want, reason)) = load_with_appended(
        "REQUEST-941-APPLICATION-ATTACK-XSS.conf",
        "SecRule ARGS \"@rx a\" \"id:9410999,phase:2,pass,frobnicate\"",
    ) else {
        return;
    };
    assert_eq!(got, want);
    assert!(reason.contains("frobnicate"), "{reason}");
    let Some((_, got, want, reason)) = load_with_appended(
        "REQUEST-941-APPLICATION-ATTACK-XSS.conf",
        "SecRule ARGS \"@rx a \"id:9410998,phase:2,pass",
    ) else {
        return;
    };
    assert_eq!(got, want, "{reason}");
}

/// Most a heavy request may cost relative to the calibration request, per byte.
const MAX_RATIO: f64 = 8.0;
/// Fixed allowance for scheduling noise on a shared machine.
const SLACK: Duration = Duration::from_millis(200);

static ENGINE: LazyLock<Option<Engine>> = LazyLock::new(|| {
    let dir = crs_dir()?;
    let cfg = EngineConfig {
        blocking_paranoia_level: 4,
        ..EngineConfig::default()
    };
    Some(Engine::load(&dir, &cfg).expect("CRS loads"))
});

fn post(uri: &str, content_type: &str, body: Vec<u8>) -> Request {
    let mut r = Request::get(uri);
    r.method = "POST".into();
    r.headers
        .push(("Content-Type".into(), content_type.as_bytes().to_vec()));
    r.headers
        .push(("Content-Length".into(), body.len().to_string().into_bytes()));
    r.body = body;
    r
}

/// The least of three runs (the machine is shared; a pathological input is slow every time).
fn cost(engine: &Engine, req: &Request) -> Duration {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            let _ = engine.transaction(req, None);
            t.elapsed()
        })
        .min()
        .expect("three runs")
}

fn size(req: &Request) -> usize {
    req.uri.len()
        + req.body.len()
        + req
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len())
            .sum::<usize>()
}

/// Asserts that each of `cases` costs no more than linear work at [`MAX_RATIO`] times the
/// calibration request's rate.
fn assert_bounded(cases: &[(&str, Request)]) {
    let Some(engine) = ENGINE.as_ref() else {
        return;
    };
    let form: Vec<u8> = (0..64)
        .map(|i| format!("field{i:02}=some+value+{i:04}+abcdefgh"))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes();
    let calib = post("/submit", "application/x-www-form-urlencoded", form);
    let _ = cost(engine, &calib); // warm the regex caches
    let base = cost(engine, &calib);
    let per_byte = base.as_secs_f64() / size(&calib) as f64;
    for (name, req) in cases {
        let got = cost(engine, req);
        let bound = Duration::from_secs_f64(per_byte * size(req) as f64 * MAX_RATIO) + SLACK;
        eprintln!(
            "{name}: {got:?} for {} bytes (calibration {base:?} for {} bytes; bound {bound:?})",
            size(req),
            size(&calib)
        );
        assert!(got <= bound, "{name} took {got:?}, bound {bound:?}");
    }
}

#[test]
fn long_repetitive_arguments_against_sqli_rce_xss_rules_are_bounded() {
    let n = 4000;
    let cases = [
        ("942 quotes and comments", "'/**/or/**/'".repeat(n)),
        (
            "942 nested parentheses",
            "(".repeat(n * 4) + &")".repeat(n * 4),
        ),
        ("942 select chains", "select+1,".repeat(n)),
        ("932 command separators", ";${IFS}".repeat(n)),
        ("932 backslashes", "\\a".repeat(n * 4)),
        ("941 tags", "<a ".repeat(n * 2)),
        ("941 attributes", " onx=".repeat(n * 2)),
        ("930 traversal", "../".repeat(n * 3)),
        ("spaces", " ".repeat(n * 8)),
        ("percent escapes", "%25".repeat(n * 4)),
    ];
    let reqs: Vec<(&str, Request)> = cases
        .into_iter()
        .map(|(name, v)| {
            let body = format!("a={}", v.replace('&', "%26"));
            (
                name,
                post("/", "application/x-www-form-urlencoded", body.into_bytes()),
            )
        })
        .collect();
    assert_bounded(&reqs);
}

#[test]
fn one_mebibyte_bodies_are_bounded() {
    let mib = 1 << 20;
    let form = format!("a={}", "x'or(1)=1--+".repeat(mib / 12)).into_bytes();
    let json = format!("{{\"a\":\"{}\"}}", "<script>".repeat(mib / 8)).into_bytes();
    let xml = format!("<a>{}</a>", "<b x='1'>t</b>".repeat(mib / 14)).into_bytes();
    let boundary = "XyZ";
    let mut multipart = Vec::new();
    for i in 0..(mib / 100) {
        multipart.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nvalue\r\n"
            )
            .as_bytes(),
        );
    }
    multipart.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let raw = "A".repeat(mib).into_bytes();
    assert_bounded(&[
        ("form", post("/", "application/x-www-form-urlencoded", form)),
        ("json", post("/", "application/json", json)),
        ("xml", post("/", "text/xml", xml)),
        (
            "multipart",
            post(
                "/",
                &format!("multipart/form-data; boundary={boundary}"),
                multipart,
            ),
        ),
        ("octet-stream", post("/", "application/octet-stream", raw)),
    ]);
}

#[test]
fn ten_thousand_arguments_and_deep_nesting_are_bounded() {
    let args: String = (0..10_000)
        .map(|i| format!("a{i}=v{i}"))
        .collect::<Vec<_>>()
        .join("&");
    let query = format!(
        "/?{}",
        (0..10_000)
            .map(|i| format!("q{i}=1"))
            .collect::<Vec<_>>()
            .join("&")
    );
    let deep_json = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    let key = "k".repeat(4000);
    let long_key_json =
        format!("{{\"{key}\":{}1{}}}", "[".repeat(120), "]".repeat(120)).into_bytes();
    let deep_xml = format!("{}x{}", "<a>".repeat(50_000), "</a>".repeat(50_000)).into_bytes();
    let mut cookies = Request::get("/");
    cookies.headers.push((
        "Cookie".into(),
        (0..5000)
            .map(|i| format!("c{i}=v"))
            .collect::<Vec<_>>()
            .join("; ")
            .into_bytes(),
    ));
    assert_bounded(&[
        (
            "10k body arguments",
            post("/", "application/x-www-form-urlencoded", args.into_bytes()),
        ),
        ("10k query arguments", Request::get(&query)),
        ("5k cookies", cookies),
        (
            "JSON nested 100k deep",
            post("/", "application/json", deep_json),
        ),
        (
            "JSON long key in nested arrays",
            post("/", "application/json", long_key_json),
        ),
        ("XML nested 50k deep", post("/", "text/xml", deep_xml)),
    ]);
}
