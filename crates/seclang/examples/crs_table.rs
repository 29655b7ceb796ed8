//! Prints the CRS regression pass rates per rule family and paranoia level, and each failure.
//! `cargo run -p rampart-seclang --example crs_table [-- --failures]`

#[path = "../tests/ftw/mod.rs"]
mod ftw;

fn main() {
    let crs = ftw::crs_dir();
    let engine = match rampart_seclang::Engine::load(&crs, &ftw::regression_config()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot load CRS from {}: {e}", crs.display());
            std::process::exit(1);
        }
    };
    let info = engine.info();
    println!(
        "{} rules loaded; {} use the fancy-regex fallback: {:?}; {} need Unicode mode: {:?}",
        info.rules,
        info.fallback_regex_rules.len(),
        info.fallback_regex_rules,
        info.unicode_regex_rules.len(),
        info.unicode_regex_rules
    );
    if let Some(pos) = std::env::args().position(|a| a == "--explain") {
        let which = std::env::args().nth(pos + 1).unwrap_or_default();
        let (r, t) = which.split_once('/').unwrap_or((&which, "1"));
        let (r, t) = (r.parse().unwrap_or(0), t.parse().unwrap_or(1));
        print!("{}", ftw::explain(&crs, &engine, r, t));
        return;
    }
    let start = std::time::Instant::now();
    let results = ftw::run_all(&crs, &engine);
    println!(
        "{} tests in {:.1}s\n",
        results.len(),
        start.elapsed().as_secs_f64()
    );
    print!("{}", ftw::table(&results));
    if std::env::args().any(|a| a == "--failures") {
        for r in &results {
            match &r.verdict {
                ftw::Verdict::Fail(why) => {
                    println!("FAIL {}/{} [{}]: {why}", r.rule_id, r.test_id, r.family)
                }
                ftw::Verdict::Excluded(why) => println!("EXCL {}/{}: {why}", r.rule_id, r.test_id),
                ftw::Verdict::Pass => {}
            }
        }
    }
}
