//! The PKCS#11 root-key provider against Debian's SoftHSM v2.
//!
//! Everything that touches SoftHSM is in one test function: `SOFTHSM2_CONF` is process-global.
//! Without softhsm2 installed the test says so loudly and passes, unless
//! `RAMPART_REQUIRE_SOFTHSM=1` (set by CI), in which case it fails.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, AttributeType};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use rampart_crypto::{provider_from_config, CryptoError};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const UTIL: &str = "softhsm2-util";
const PIN_VAR: &str = "RAMPART_TEST_PKCS11_PIN";
const WRONG_PIN_VAR: &str = "RAMPART_TEST_PKCS11_WRONG_PIN";

fn softhsm_available() -> bool {
    let util = Command::new(UTIL).arg("--version").output();
    Path::new(MODULE).exists() && util.is_ok_and(|o| o.status.success())
}

fn spec(pin_var: &str, extra: &str) -> String {
    format!("pkcs11:module={MODULE};token=rampart;pin-env={pin_var};key=rampart-root{extra}")
}

#[test]
fn pkcs11_root_key_is_stable_across_loads_and_stays_in_the_hsm() {
    if !softhsm_available() {
        let required = std::env::var("RAMPART_REQUIRE_SOFTHSM").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "RAMPART_REQUIRE_SOFTHSM=1 but softhsm2 is not installed ({MODULE}, {UTIL})"
        );
        // Written to stderr directly so the test harness does not capture it.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: softhsm2 not installed (apt-get install softhsm2) ***\n"
        );
        return;
    }

    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    fs::create_dir(&tokens).unwrap();
    let conf = tmp.path().join("softhsm2.conf");
    fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let init = Command::new(UTIL)
        .args(["--init-token", "--free", "--label", "rampart"])
        .args(["--pin", "1234", "--so-pin", "5678"])
        .output()
        .unwrap();
    assert!(init.status.success(), "softhsm2-util: {init:?}");
    std::env::set_var(PIN_VAR, "1234");
    std::env::set_var(WRONG_PIN_VAR, "9999-wrong");

    let data_dir = tmp.path().join("data");
    let provider = provider_from_config(&spec(PIN_VAR, ""), &data_dir).unwrap();
    assert_eq!(provider.name(), "pkcs11");

    // First start: generates the HSM key and the wrapped data key.
    let first = provider.load().unwrap();
    let wrapped = data_dir.join("root.key.wrapped");
    let meta = fs::metadata(&wrapped).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 61);
    let sealed = first
        .seal(b"secret value", b"secretsmanager/secret/x")
        .unwrap();

    // Later starts (a fresh provider, as after a restart) unwrap the same data key.
    for _ in 0..2 {
        let again = provider_from_config(&spec(PIN_VAR, ""), &data_dir)
            .unwrap()
            .load()
            .unwrap();
        assert_eq!(again.key_id(), first.key_id());
        let opened = again.open(&sealed, b"secretsmanager/secret/x").unwrap();
        assert_eq!(opened.expose(), b"secret value");
    }

    // The wrapped blob alone is useless: tampering is detected inside the HSM.
    let mut tampered = fs::read(&wrapped).unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let tampered_path = tmp.path().join("tampered.wrapped");
    fs::write(&tampered_path, &tampered).unwrap();
    fs::set_permissions(&tampered_path, fs::Permissions::from_mode(0o600)).unwrap();
    let extra = format!(";wrapped={}", tampered_path.display());
    let err = provider_from_config(&spec(PIN_VAR, &extra), &data_dir)
        .unwrap()
        .load()
        .unwrap_err();
    assert!(matches!(err, CryptoError::Pkcs11 { .. }), "{err:?}");

    // A wrong PIN is refused, and the PIN never appears in the error.
    let err = provider_from_config(&spec(WRONG_PIN_VAR, ""), &data_dir)
        .unwrap()
        .load()
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(matches!(err, CryptoError::Pkcs11 { .. }), "{shown}");
    assert!(!shown.contains("9999-wrong"), "{shown}");

    // An unknown token is named in the error.
    let spec_other_token = spec(PIN_VAR, "").replace("token=rampart", "token=absent");
    let err = provider_from_config(&spec_other_token, &data_dir)
        .unwrap()
        .load()
        .unwrap_err();
    assert!(matches!(err, CryptoError::TokenNotFound { .. }), "{err:?}");

    // The HSM key exists exactly once, sensitive and not extractable.
    let pkcs11 = Pkcs11::new(MODULE).unwrap();
    pkcs11
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = pkcs11.get_slots_with_initialized_token().unwrap()[0];
    let session = pkcs11.open_ro_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::new("1234".into())))
        .unwrap();
    let keys = session
        .find_objects(&[Attribute::Label(b"rampart-root".to_vec())])
        .unwrap();
    assert_eq!(keys.len(), 1);
    let attrs = session
        .get_attributes(
            keys[0],
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::Token,
            ],
        )
        .unwrap();
    for attr in attrs {
        match attr {
            Attribute::Sensitive(v) | Attribute::Token(v) => assert!(v, "{attr:?}"),
            Attribute::Extractable(v) => assert!(!v, "{attr:?}"),
            other => panic!("unexpected attribute {other:?}"),
        }
    }
    session.logout().unwrap();
    drop(session);
    pkcs11.finalize().unwrap();
}
