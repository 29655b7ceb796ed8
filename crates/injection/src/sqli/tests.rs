use super::*;

fn fp(input: &str) -> Option<String> {
    sqli(input.as_bytes()).map(|f| f.as_str().to_owned())
}

#[test]
fn classic_tautologies_in_a_quoted_literal_are_detected() {
    assert_eq!(fp("1' OR '1'='1").as_deref(), Some("s&sos"));
    assert_eq!(fp("-1839\" or \"1\"=\"2").as_deref(), Some("s&sos"));
    assert!(fp("EmptyValue' and 526=527").is_some());
    assert!(fp("admin'--").is_some());
    assert!(fp("admin')#").is_some());
}

#[test]
fn bare_numeric_injections_are_detected() {
    assert!(fp("1234 OR 1=1").is_some());
    assert!(fp("-1 UNION ALL SELECT 1,2,3").is_some());
    assert!(fp("1) or (1=1").is_some());
    assert!(fp("1; DROP TABLE users").is_some());
    assert!(fp("1 and sleep(5)").is_some());
}

#[test]
fn union_stacked_and_time_based_injections_are_detected() {
    assert!(fp("foo') UNION ALL select NULL --").is_some());
    assert!(fp("foo')waitfor delay'5:0:20'--").is_some());
    assert!(fp("2010-01-01'+sleep(20.to_i)+'").is_some());
    assert!(fp("x'; exec master..xp_cmdshell 'dir'--").is_some());
    assert!(fp("sleep(20)").is_some());
    assert!(fp("' order by 3--").is_some());
    assert!(fp("1'/**/union/**/select/**/1,2").is_some());
    assert!(fp("1'/*!50000union*/ select 1").is_some());
}

#[test]
fn everyday_text_is_not_injection() {
    for s in [
        "O'Brien",
        "Tom & Jerry",
        "5'11\"",
        "2+2=4",
        "it's a nice day, isn't it?",
        "rock 'n' roll",
        "don't stop -- believing",
        "select your size",
        "1 or 2",
        "Please order by phone",
        "{\"a\": 1, \"b\": \"c\"}",
        "The \"quick\" brown fox",
        "john.doe@example.com",
        "https://example.com/a?b=c&d=e",
        "D'Angelo and O'Neil",
        "user's guide (2nd edition)",
    ] {
        assert_eq!(fp(s), None, "{s}");
    }
}

#[test]
fn folding_removes_unary_operators_arithmetic_and_padding_comments() {
    assert_eq!(fingerprint_of(b"-1+2*3", Context::None, Flavor::Ansi), "n");
    assert_eq!(
        fingerprint_of(b"1/**/or/**/1", Context::None, Flavor::Ansi),
        "n&n"
    );
    assert_eq!(fingerprint_of(b"'a' 'b'", Context::None, Flavor::Ansi), "s");
    assert_eq!(
        fingerprint_of(b"x' union all select", Context::SingleQuote, Flavor::Ansi),
        "sUE"
    );
    assert_eq!(fingerprint_of(b"1 --x", Context::None, Flavor::Ansi), "nc");
    assert_eq!(fingerprint_of(b"1 --x", Context::None, Flavor::Mysql), "1");
    assert_eq!(fingerprint_of(b"1 #x", Context::None, Flavor::Mysql), "nc");
}

#[test]
fn fingerprint_reports_its_reading() {
    let f = sqli(b"x' or 1=1--").expect("detected");
    assert_eq!(f.context(), Context::SingleQuote);
    let f = sqli(b"1 union select 2").expect("detected");
    assert_eq!(f.context(), Context::None);
}

#[test]
fn stacked_statements_and_subquery_list_items_are_detected() {
    assert!(fp("id = 1; DROP TABLE users").is_some());
    assert!(fp("name,(CASE WHEN (1=1) THEN 1 ELSE 1/0 END)").is_some());
    assert!(fp("1 rlike (select 1)").is_some());
    assert!(fp("1(select*from(select(sleep(5)))d)").is_some());
    assert!(fp("if(sleep(5),1,0)").is_some());
    assert!(fp("Select all that apply").is_none());
    assert!(fp("Hello; select the best option and click submit.").is_none());
    assert!(fp("Should we drop the table tennis from the agenda or select a new venue?").is_none());
}
