//! Arbitrary request bytes never panic the engine, the transformations or the detectors.

use std::net::IpAddr;

use proptest::prelude::*;
use rampart_waf::model::TextTransformationType as T;
use rampart_waf::{detect, transform};

const ALL: [T; 31] = [
    T::None,
    T::CompressWhiteSpace,
    T::HtmlEntityDecode,
    T::Lowercase,
    T::CmdLine,
    T::UrlDecode,
    T::Base64Decode,
    T::HexDecode,
    T::Md5,
    T::ReplaceComments,
    T::EscapeSeqDecode,
    T::SqlHexDecode,
    T::CssDecode,
    T::JsDecode,
    T::NormalizePath,
    T::NormalizePathWin,
    T::RemoveNulls,
    T::ReplaceNulls,
    T::Base64DecodeExt,
    T::UrlDecodeUni,
    T::Utf8ToUnicode,
    T::RemoveWhitespace,
    T::Trim,
    T::TrimLeft,
    T::TrimRight,
    T::RemoveCommentsChar,
    T::Uppercase,
    T::CmdLineWin,
    T::CmdLineUnix,
    T::JsDecodeExt,
    T::Sha256,
];

proptest! {
    #[test]
    fn transformations_and_detectors_accept_any_bytes(input in proptest::collection::vec(any::<u8>(), 0..512)) {
        for t in ALL {
            let out = transform::apply(t, &input);
            let _ = detect::is_sqli(&out, true);
            let _ = detect::is_xss(&out);
        }
        let _ = detect::is_sqli(&input, false);
    }

    #[test]
    fn corpus_acl_accepts_any_request(path in ".{0,64}", query in ".{0,128}", body in proptest::collection::vec(any::<u8>(), 0..256), hv in proptest::collection::vec(any::<u8>(), 0..64)) {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/attacks.json")).expect("corpus");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        let rules: Vec<rampart_waf::model::Rule> = serde_json::from_value(v["rules"].clone()).expect("rules");
        let acl = rampart_waf::WebAcl::compile(&serde_json::from_value(v["default_action"].clone()).expect("default"), &rules, &rampart_waf::NoEntities, &rampart_waf::CompileOptions::default()).expect("compile");
        let headers: Vec<(&str, &[u8])> = vec![("cookie", &hv), ("x-forwarded-for", &hv)];
        let req = rampart_waf::Request { query: &query, headers: &headers, body_prefix: &body, body_len: body.len() as u64, ..rampart_waf::Request::new("POST", &path, IpAddr::from([10, 0, 0, 1])) };
        let _ = acl.evaluate(&req);
    }
}
