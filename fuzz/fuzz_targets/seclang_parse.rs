//! Feeds arbitrary bytes to the SecLang loader as a rules file: it must load or fail with an
//! error naming the file and a line, never panic, and finish quickly. The file lives in a
//! directory that does not exist, so `@pmFromFile` and `Include`-like references fail cleanly.
#![no_main]

use std::path::Path;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rampart_seclang::{Engine, EngineConfig, LoadError};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = Path::new("/nonexistent-rampart-fuzz/fuzz.conf");
    let start = Instant::now();
    match Engine::load_text(file, text, &EngineConfig::default()) {
        Ok(engine) => {
            let _ = engine.info();
        }
        Err(LoadError::Parse {
            file: f,
            line,
            reason,
        }) => {
            assert_eq!(f, file);
            assert!(line >= 1, "line 0 for {reason}");
            assert!(!reason.is_empty());
        }
        Err(e @ (LoadError::Io { .. } | LoadError::Config(_))) => panic!("unexpected error {e}"),
    }
    // A rules file of a few KiB compiles in well under a second even with large regexes.
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "slow load: {:?}",
        start.elapsed()
    );
});
