//! Feeds arbitrary bytes, split on newlines into method, path, query, Authorization,
//! X-Amz-Date, x-amz-content-sha256 and body, to `parse` and `verify`: neither may panic.
#![no_main]

use chrono::{TimeZone, Utc};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use rampart_sigv4::{parse, SigningKeyCache};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(7, |&b| b == b'\n');
    let mut next = || parts.next().unwrap_or_default();
    let method = String::from_utf8_lossy(next()).into_owned();
    let path = String::from_utf8_lossy(next()).into_owned();
    let query = next();
    let query = (!query.is_empty()).then(|| String::from_utf8_lossy(query).into_owned());

    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
    for name in ["authorization", "x-amz-date", "x-amz-content-sha256"] {
        let value = next();
        if !value.is_empty() {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                headers.insert(name, value);
            }
        }
    }
    let body = next();

    if let Ok(Some(request)) = parse(&method, &path, query.as_deref(), &headers) {
        let now = Utc
            .with_ymd_and_hms(2015, 8, 30, 12, 36, 0)
            .single()
            .unwrap_or_else(Utc::now);
        let _ = request.verify(
            &method,
            &path,
            query.as_deref(),
            &headers,
            body,
            b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            now,
            &SigningKeyCache::new(),
        );
    }
});
