//! Feeds arbitrary bytes to the SQL injection and XSS detectors: nothing may panic, and a
//! reported fingerprint is one to five token-type characters.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(f) = rampart_injection::sqli(data) {
        let s = f.as_str();
        assert!(!s.is_empty() && s.len() <= 5);
    }
    let _ = rampart_injection::xss(data);
});
