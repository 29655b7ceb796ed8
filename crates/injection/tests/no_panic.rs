//! Neither detector panics, whatever the bytes, and both run in linear time.

use proptest::prelude::*;

/// Bytes biased towards the characters the tokenizers branch on.
fn interesting() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: Vec<u8> = b"'\"`<>/=!-#*()&|;,.@:{}\\ \t\n0123456789aeSELECTunion or and<script onload=javascript:&#x;]]>[CDATA[--!>?"
        .to_vec();
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(alphabet),
            1 => any::<u8>(),
        ],
        0..300,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = rampart_injection::sqli(&input);
        let _ = rampart_injection::xss(&input);
    }

    #[test]
    fn syntax_heavy_bytes_never_panic(input in interesting()) {
        if let Some(f) = rampart_injection::sqli(&input) {
            prop_assert!(!f.as_str().is_empty() && f.as_str().len() <= 5);
        }
        let _ = rampart_injection::xss(&input);
    }
}

#[test]
fn long_pathological_inputs_finish_quickly() {
    let cases: Vec<Vec<u8>> = vec![
        b"/*".repeat(200_000),
        b"a ".repeat(200_000),
        b"'".repeat(400_000),
        b"<a ".repeat(150_000),
        b"<!--".repeat(100_000),
        b"&#x".repeat(150_000),
        b"<a style=\""
            .iter()
            .copied()
            .chain(b"\\&#".repeat(100_000))
            .collect(),
        b"(".repeat(400_000),
        b"- ".repeat(200_000),
    ];
    let start = std::time::Instant::now();
    for c in &cases {
        let _ = rampart_injection::sqli(c);
        let _ = rampart_injection::xss(c);
    }
    // Debug build; quadratic behaviour would take minutes on inputs this size.
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
}
