//! Feeds arbitrary bytes to the Smithy RPC v2 CBOR decoder, generically and along the input shape
//! of an operation of a CBOR service (chosen by the first byte): nothing may panic, and whatever
//! decodes must survive the encoder unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_protocol::{cbor, model};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = cbor::decode_value(data) {
        let again = cbor::decode_value(&cbor::encode_value(&value));
        assert_eq!(again.ok().as_ref(), Some(&value), "generic round trip");
    }

    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let key = ["acm-pca", "shield", "fms"][usize::from(selector % 3)];
    let Some(service) = model::service(key) else {
        return;
    };
    let Some(op) = service
        .operations
        .get(usize::from(selector / 3) % service.operations.len().max(1))
    else {
        return;
    };
    if let Ok(input) = cbor::decode_input(service, op.input, body) {
        let encoded = cbor::encode_output(service, op.input, &input);
        let _ = cbor::decode_input(service, op.input, &encoded);
        let _ = cbor::encode_output(service, op.output, &input);
    }
});
