//! Engine behaviour on small rule files written for the test (no CRS needed).

use std::io::Write as _;
use std::path::PathBuf;

use rampart_seclang::{Engine, EngineConfig, EngineMode, InterruptAction, LoadError, Request};

fn rules(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rules.conf");
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(text.as_bytes()).expect("write");
    (dir, path)
}

fn engine(text: &str) -> Engine {
    let (_d, p) = rules(text);
    Engine::load_files(&[p], &EngineConfig::default()).expect("rules load")
}

fn post(uri: &str, ct: &str, body: &str) -> Request {
    let mut r = Request::get(uri);
    r.method = "POST".into();
    r.headers
        .push(("Content-Type".into(), ct.as_bytes().to_vec()));
    r.body = body.as_bytes().to_vec();
    r
}

#[test]
fn a_broken_rule_file_names_file_line_and_reason() {
    let (_d, p) = rules("SecRule ARGS \"@rx a\" \"id:1,phase:2,pass\"\n\nSecRule ARGS \"@nosuchop x\" \\\n  \"id:2\"\n");
    let err = Engine::load_files(std::slice::from_ref(&p), &EngineConfig::default()).unwrap_err();
    match &err {
        LoadError::Parse { file, line, reason } => {
            assert_eq!(file, &p);
            assert_eq!(*line, 3);
            assert!(reason.contains("nosuchop"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let (_d, p) = rules("SecRule ARGS \"@rx a\" \"id:1,phase:2,bogusaction\"\n");
    let err = Engine::load_files(&[p], &EngineConfig::default()).unwrap_err();
    assert!(err.to_string().contains(":1: unsupported action"), "{err}");
    let (_d, p) = rules("SecRule NOT_A_VAR \"@rx a\" \"id:1\"\n");
    assert!(Engine::load_files(&[p], &EngineConfig::default()).is_err());
}

#[test]
fn deny_interrupts_with_the_rule_status() {
    let e = engine("SecRule ARGS:q \"@rx attack\" \"id:10,phase:1,deny,status:406,msg:'hit %{MATCHED_VAR_NAME}'\"\n");
    let out = e.transaction(&Request::get("/?q=an+attack"), None);
    let i = out.interruption.expect("interrupted");
    assert_eq!(
        (i.action, i.status, i.rule_id, i.phase),
        (InterruptAction::Deny, 406, 10, 1)
    );
    assert_eq!(out.matched[0].msg, "hit ARGS:q");
    assert!(e
        .transaction(&Request::get("/?other=attack"), None)
        .interruption
        .is_none());
}

#[test]
fn chained_rules_see_the_previous_links_matched_vars() {
    let e = engine(concat!(
        "SecRule ARGS \"@rx clonetransformer\" \"id:20,phase:2,pass,t:none,t:lowercase,chain\"\n",
        "  SecRule MATCHED_VARS \"@rx processbuilder\" \"setvar:tx.hit=+1\"\n",
        "SecRule TX:hit \"@eq 1\" \"id:21,phase:2,deny\"\n",
    ));
    let out = e.transaction(
        &post(
            "/",
            "application/x-www-form-urlencoded",
            "test=ProcessBuilder.evil.clonetransformer",
        ),
        None,
    );
    assert_eq!(out.logged_ids(), vec![20, 21]);
}

#[test]
fn capture_setvar_macros_and_skip_after() {
    let e = engine(concat!(
        "SecRule REQUEST_HEADERS:Host \"@rx ^(\\w+)\" \"id:30,phase:1,pass,capture,setvar:'tx.h=%{tx.1}'\"\n",
        "SecRule TX:h \"@streq localhost\" \"id:31,phase:1,pass,skipAfter:END\"\n",
        "SecAction \"id:32,phase:1,deny\"\n",
        "SecMarker END\n",
        "SecRule TX:H \"@unconditionalMatch\" \"id:33,phase:1,pass,logdata:'%{tx.h}'\"\n",
    ));
    let out = e.transaction(&Request::get("/"), None);
    assert!(out.interruption.is_none());
    assert_eq!(out.logged_ids(), vec![30, 31, 33]);
    assert_eq!(out.matched[2].logdata, "localhost");
}

#[test]
fn json_xml_and_multipart_bodies_become_arguments() {
    let e = engine(concat!(
        "SecRule ARGS_POST:json.a.b \"@streq x\" \"id:40,phase:2,pass\"\n",
        "SecRule XML:/* \"@contains secret\" \"id:41,phase:2,pass\"\n",
        "SecRule FILES \"@endsWith .php\" \"id:42,phase:2,pass\"\n",
        "SecRule REQBODY_ERROR \"!@eq 0\" \"id:43,phase:2,pass\"\n",
    ));
    let ids = |r: Request| e.transaction(&r, None).logged_ids();
    assert_eq!(
        ids(post("/", "application/json", r#"{"a":{"b":"x"}}"#)),
        vec![40]
    );
    assert_eq!(
        ids(post("/", "text/xml", "<a><b>top secret</b></a>")),
        vec![41]
    );
    assert_eq!(ids(post("/", "application/json", "{broken")), vec![43]);
    let mp = "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.php\"\r\n\r\n<?php\r\n--B--\r\n";
    assert_eq!(
        ids(post("/", "multipart/form-data; boundary=B", mp)),
        vec![42]
    );
}

#[test]
fn ctl_rule_engine_and_removals_apply_to_this_transaction_only() {
    let e = engine(concat!(
        "SecRule ARGS:off \"@eq 1\" \"id:50,phase:1,pass,nolog,ctl:ruleEngine=DetectionOnly\"\n",
        "SecRule ARGS:skip \"@eq 1\" \"id:51,phase:1,pass,nolog,ctl:ruleRemoveById=53\"\n",
        "SecRule ARGS:t \"@eq 1\" \"id:52,phase:1,pass,nolog,ctl:ruleRemoveTargetById=53;ARGS:x\"\n",
        "SecRule ARGS \"@rx evil\" \"id:53,phase:2,deny\"\n",
    ));
    assert!(e
        .transaction(&Request::get("/?x=evil"), None)
        .interruption
        .is_some());
    let out = e.transaction(&Request::get("/?x=evil&off=1"), None);
    assert!(out.interruption.is_none());
    assert_eq!(out.logged_ids(), vec![53]);
    assert!(e
        .transaction(&Request::get("/?x=evil&skip=1"), None)
        .matched
        .iter()
        .all(|m| m.id != 53));
    assert!(e
        .transaction(&Request::get("/?x=evil&t=1"), None)
        .interruption
        .is_none());
    assert!(e
        .transaction(&Request::get("/?y=evil&t=1"), None)
        .interruption
        .is_some());
}

#[test]
fn detection_only_mode_logs_without_interrupting() {
    let (_d, p) = rules("SecRule ARGS \"@rx evil\" \"id:60,phase:1,deny\"\n");
    let cfg = EngineConfig {
        mode: EngineMode::DetectionOnly,
        ..EngineConfig::default()
    };
    let e = Engine::load_files(&[p], &cfg).expect("load");
    let out = e.transaction(&Request::get("/?a=evil"), None);
    assert!(out.interruption.is_none());
    assert_eq!(out.logged_ids(), vec![60]);
}

#[test]
fn engine_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Engine>();
}
