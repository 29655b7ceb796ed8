//! The request decoders: awsJson bodies validated against a KMS input shape, and awsQuery
//! form bodies decoded and validated along IAM's model. Neither may panic on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_protocol::limits::Limits;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Some(id) = rampart_protocol::identify_json("TrentService.Encrypt") {
        let _ = rampart_protocol::decode_json(&id, data, &limits);
    }
    if let Some(id) = rampart_protocol::identify_json("TrentService.CreateKey") {
        let _ = rampart_protocol::decode_json(&id, data, &limits);
    }
    let params = rampart_protocol::query::parse_form(data);
    if let Some(id) = rampart_protocol::identify_query("iam", "CreateUser") {
        let _ = rampart_protocol::decode_query(&id, &params);
    }
    if let Some(id) = rampart_protocol::identify_query("iam", "PutUserPolicy") {
        let _ = rampart_protocol::decode_query(&id, &params);
    }
});
