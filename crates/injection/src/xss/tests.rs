use super::*;

#[test]
fn script_capable_tags_are_detected() {
    assert!(xss(b"<script>alert(1)</script>"));
    assert!(xss(b"hello <IFRAME src=//evil>"));
    assert!(xss(
        b"<x:script xmlns:x=\"http://www.w3.org/1999/xhtml\" src=\"data:,alert(1)\" />"
    ));
    assert!(xss(b"<svg/onload=alert()>"));
    assert!(xss(b"<!DOCTYPE html>"));
    assert!(xss(b"<!--[if IE]><script>x</script><![endif]-->"));
}

#[test]
fn event_handlers_are_detected_in_tags_and_after_a_broken_attribute() {
    assert!(xss(b"<img src=x onerror=alert(1)>"));
    assert!(xss(b"<xss onbeforehellfreezes=alerw(1)>"));
    assert!(xss(b"\"onmouseover='prompt(document.cookie)'"));
    assert!(xss(b"x' onfocus='alert(1)' autofocus='"));
    assert!(xss(b"x onclick=alert(1)"));
}

#[test]
fn script_urls_are_detected_after_reference_decoding() {
    assert!(xss(b"<a href=\"javascript:alert(1)\">x</a>"));
    assert!(xss(b"<a href=\"jav&#x09;ascript:alert(1)\">x</a>"));
    assert!(xss(b"<a href=\"&#106;&#97;vascript&colon;alert(1)\">x</a>"));
    assert!(xss(b"<form action=vbscript:msgbox(1)>"));
    assert!(xss(b"<object data=\"data:text/html;base64,PHNjcmlwdD4=\">"));
    assert!(!xss(b"<img src=\"data:image/png;base64,iVBORw0KGgo=\">"));
    assert!(!xss(b"<a href=\"https://example.com/\">link</a>"));
}

#[test]
fn style_with_script_is_detected() {
    assert!(xss(b"<div style=\"width: expression(alert(1))\">"));
    assert!(xss(b"<div style=\"background:url(javascript:alert(1))\">"));
    assert!(xss(b"<div style=\"width: exp\\72 ession(alert(1))\">"));
    assert!(!xss(b"<span style=\"color: red\">hi</span>"));
}

#[test]
fn everyday_text_is_not_xss() {
    for s in [
        "a < b > c",
        "x<y and y>z",
        "I <3 you",
        "<b>bold</b> and <i>italic</i>",
        "it's only one of the onions",
        "\"quoted\" words and more",
        "{\"online\": true, \"once\": 1}",
        "Contact <john@example.com>",
        "O'Brien's <em>notes</em>",
        "5 > 3 && 2 < 4",
        "https://example.com/?a=1&b=2",
        "<p>Hello, world</p>",
        "javascript: the good parts",
    ] {
        assert!(!xss(s.as_bytes()), "{s}");
    }
}

#[test]
fn an_input_that_is_a_script_url_is_detected() {
    assert!(xss(b"javascript:alert(document.domain)"));
    assert!(xss(b" JaVaScRiPt&colon;alert(1)"));
    assert!(xss(b"javascript://\nalert(1)"));
    assert!(!xss(b"javascript: the good parts"));
    assert!(!xss(b"data: see the attached file"));
}
