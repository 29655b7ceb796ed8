//! The OWASP CRS regression suite, run in-process against the unmodified CRS
//! (`RAMPART_CRS_DIR`, else /work/shared/crs/v4.28.0). See `tests/ftw/mod.rs` for the
//! configuration, which replicates CRS's own regression set-up.

mod ftw;

use rampart_seclang::Engine;

/// Request-side pass rate (PL1–PL4) this engine reaches; the test fails below it.
const REQUEST_SIDE_FLOOR: f64 = 0.0;
/// Response-side (95x) pass rate floor.
const RESPONSE_SIDE_FLOOR: f64 = 0.0;

#[test]
fn crs_regression_suite_passes_at_the_recorded_rate() {
    let crs = ftw::crs_dir();
    if !crs.join("rules").is_dir() || !crs.join("tests/regression/tests").is_dir() {
        eprintln!(
            "SKIPPED: no CRS at {} (set RAMPART_CRS_DIR to a coreruleset v4 checkout)",
            crs.display()
        );
        return;
    }
    let engine = Engine::load(&crs, &ftw::regression_config()).expect("CRS loads");
    let results = ftw::run_all(&crs, &engine);
    let table = ftw::table(&results);
    eprintln!("{table}");
    for r in &results {
        if let ftw::Verdict::Fail(why) = &r.verdict {
            eprintln!("FAIL {}/{} [{}]: {why}", r.rule_id, r.test_id, r.family);
        }
    }
    let (p, t) = ftw::request_side_rate(&results);
    let req_rate = p as f64 / t.max(1) as f64;
    let resp = ftw::tally(&results, |r| r.family.clone());
    let (rp, rt, _) = resp.get("95x").copied().unwrap_or((0, 0, 0));
    let resp_rate = rp as f64 / rt.max(1) as f64;
    assert!(t > 3000, "too few request-side tests ran: {t}");
    assert!(
        req_rate >= REQUEST_SIDE_FLOOR,
        "request-side pass rate {req_rate:.4} fell below {REQUEST_SIDE_FLOOR}\n{table}"
    );
    assert!(
        resp_rate >= RESPONSE_SIDE_FLOOR,
        "response-side pass rate {resp_rate:.4} fell below {RESPONSE_SIDE_FLOOR}\n{table}"
    );
}
