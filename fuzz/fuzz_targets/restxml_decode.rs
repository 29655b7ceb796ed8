//! The restXml (S3) request path: routing by method, path, query and host, then the XML body
//! decoded along the operation's input shape, and the XML reader on its own. Input is
//! `path\nquery\nhost\nbody`; no input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_protocol::http::{decode, identify, Head, Routing};
use rampart_protocol::limits::Limits;

fuzz_target!(|data: &[u8]| {
    let _ = rampart_protocol::xml::parse(data);
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let path = parts.next().and_then(|p| std::str::from_utf8(p).ok()).unwrap_or("/");
    let query = parts.next().and_then(|q| std::str::from_utf8(q).ok());
    let host = parts.next().unwrap_or(b"localhost");
    let body = parts.next().unwrap_or_default();
    let mut headers = http::HeaderMap::new();
    if let Ok(h) = http::HeaderValue::from_bytes(host) {
        headers.insert(http::header::HOST, h);
    }
    let routing = Routing::default();
    let limits = Limits::default();
    for method in ["GET", "PUT", "POST", "DELETE", "HEAD"] {
        let head = Head {
            method,
            path,
            query,
            headers: &headers,
        };
        if let Ok(id) = identify(&head, body, Some("s3"), &routing) {
            let _ = decode(&id, &head, body, &limits);
        }
    }
});
