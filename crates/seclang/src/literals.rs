//! Required literals of a regular expression: a set of strings such that every match of the
//! pattern contains one of them (compared ignoring ASCII case). A value containing none of them
//! cannot match, so the regex need not run: `(?i)\b(?:union|select)\s+all\b` needs `union` or
//! `select`. The analysis keeps the longest runs of literal characters every match has; the
//! engine searches a value once for the literals of all the rules reading it
//! ([`crate::screen`]).
//!
//! The analysis walks the pattern's syntax tree (`regex-syntax`, parsed with the flags the
//! engine compiles the pattern with) and is conservative: anything it does not understand
//! (large classes, optional repetitions, look-around) has no requirement, and a pattern that
//! can match without one of the literals has none.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Most strings an exact set (every string a piece of the pattern can match) holds.
const MAX_EXACT: usize = 64;
/// Most characters a class may have to count as a set of one-character strings.
const MAX_CLASS: usize = 10;
/// Most literals a requirement may have.
const MAX_REQUIRED: usize = 400;

/// Strings, lower-cased (ASCII), sorted and without duplicates.
type Set = Vec<Vec<u8>>;

fn normalise(mut s: Set) -> Set {
    s.sort_unstable();
    s.dedup();
    s
}

/// What a piece of a pattern tells about its matches.
#[derive(Debug, Default)]
struct Facts {
    /// Every string the piece can match (a superset), when there are few.
    exact: Option<Set>,
    /// Strings one of which every match contains, never the empty string (besides `exact`,
    /// which is such a set too when it is [`usable`]).
    required: Option<Set>,
}

impl Facts {
    /// The best requirement known.
    fn into_required(self) -> Option<Set> {
        match self.exact {
            Some(e) if usable(&e) => better(self.required, Some(e)),
            _ => self.required,
        }
    }
}

/// A set is a requirement only if each string is non-empty (the empty string is in every
/// value) and there are not too many.
fn usable(set: &Set) -> bool {
    !set.is_empty() && set.len() <= MAX_REQUIRED && set.iter().all(|s| !s.is_empty())
}

/// How selective a requirement is: longer shortest literal first, then fewer literals.
fn score(set: &Set) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = set.iter().map(Vec::len).min().unwrap_or(0);
    (shortest, std::cmp::Reverse(set.len()))
}

fn beats(a: &Set, b: Option<&Set>) -> bool {
    b.is_none_or(|b| score(a) > score(b))
}

fn better(a: Option<Set>, b: Option<Set>) -> Option<Set> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if score(&b) > score(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

fn product(a: &Set, b: &Set) -> Option<Set> {
    if a.len().saturating_mul(b.len()) > MAX_EXACT {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut s = Vec::with_capacity(x.len() + y.len());
            s.extend_from_slice(x);
            s.extend_from_slice(y);
            out.push(s);
        }
    }
    Some(normalise(out))
}

fn class_members(c: &Class) -> Option<Set> {
    let mut out = Set::new();
    match c {
        Class::Bytes(b) => {
            for r in b.ranges() {
                if usize::from(r.end() - r.start()) >= MAX_CLASS {
                    return None;
                }
                for byte in r.start()..=r.end() {
                    out.push(vec![byte.to_ascii_lowercase()]);
                }
            }
        }
        Class::Unicode(u) => {
            for r in u.ranges() {
                let (lo, hi) = (u32::from(r.start()), u32::from(r.end()));
                if hi - lo >= MAX_CLASS as u32 {
                    return None;
                }
                for cp in lo..=hi {
                    let ch = char::from_u32(cp)?;
                    let mut buf = [0u8; 4];
                    out.push(ch.encode_utf8(&mut buf).as_bytes().to_ascii_lowercase());
                }
            }
        }
    }
    let out = normalise(out);
    (out.len() <= MAX_CLASS).then_some(out)
}

fn facts(h: &Hir) -> Facts {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Facts {
            exact: Some(vec![Vec::new()]),
            required: None,
        },
        HirKind::Literal(l) => Facts {
            exact: Some(vec![l.0.to_ascii_lowercase()]),
            required: None,
        },
        HirKind::Class(c) => Facts {
            exact: class_members(c),
            required: None,
        },
        HirKind::Capture(c) => facts(&c.sub),
        HirKind::Repetition(r) => {
            let sub = facts(&r.sub);
            match (r.min, r.max) {
                (1, Some(1)) => sub,
                (0, Some(1)) => Facts {
                    exact: sub.exact.map(|mut e| {
                        e.push(Vec::new());
                        normalise(e)
                    }),
                    required: None,
                },
                (0, _) => Facts::default(),
                // At least one repetition: every match has one of the piece's matches.
                _ => Facts {
                    exact: None,
                    required: sub.into_required(),
                },
            }
        }
        HirKind::Concat(subs) => {
            let mut best: Option<Set> = None;
            // The strings a run of consecutive exactly-known pieces matches, together.
            let mut run: Set = vec![Vec::new()];
            let mut all_exact = true;
            for s in subs {
                let f = facts(s);
                best = better(best, f.required);
                match f.exact {
                    Some(e) => {
                        if let Some(joined) = product(&run, &e) {
                            run = joined;
                        } else {
                            all_exact = false;
                            if usable(&run) && beats(&run, best.as_ref()) {
                                best = Some(std::mem::replace(&mut run, e));
                            } else {
                                run = e;
                            }
                        }
                    }
                    None => {
                        all_exact = false;
                        if usable(&run) && beats(&run, best.as_ref()) {
                            best = Some(std::mem::replace(&mut run, vec![Vec::new()]));
                        } else {
                            run = vec![Vec::new()];
                        }
                    }
                }
            }
            if all_exact {
                Facts {
                    exact: Some(run),
                    required: best,
                }
            } else {
                Facts {
                    exact: None,
                    required: better(best, Some(run).filter(usable)),
                }
            }
        }
        HirKind::Alternation(subs) => {
            let all: Vec<Facts> = subs.iter().map(facts).collect();
            let exact_size: usize = all
                .iter()
                .map(|f| f.exact.as_ref().map_or(usize::MAX, Vec::len))
                .fold(0, usize::saturating_add);
            if exact_size <= MAX_EXACT {
                let exact = all.into_iter().flat_map(|f| f.exact.unwrap_or_default());
                return Facts {
                    exact: Some(normalise(exact.collect())),
                    required: None,
                };
            }
            let mut required = Set::new();
            for f in all {
                required.extend(match f.into_required() {
                    Some(r) => r,
                    None => return Facts::default(),
                });
                if required.len() > MAX_REQUIRED {
                    return Facts::default();
                }
            }
            Facts {
                exact: None,
                required: Some(normalise(required)),
            }
        }
    }
}

/// Removes literals that contain another literal of the set: finding the shorter one is
/// enough, and fewer literals search faster.
fn minimise(set: Set) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = set.into_iter().collect();
    v.sort_by_key(Vec::len);
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for s in v {
        if !kept.iter().any(|k| memchr::memmem::find(&s, k).is_some()) {
            kept.push(s);
        }
    }
    kept
}

/// The literals one of which every match of `pattern` contains (lower-cased; compare
/// ignoring ASCII case), as the `regex` crate compiles it (bytes API; `unicode` as given), or
/// `None` when the pattern requires no literal the analysis can see.
pub(crate) fn required_literals(pattern: &str, unicode: bool) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(unicode)
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?;
    facts(&hir).into_required().map(minimise)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn required(p: &str) -> Option<Vec<String>> {
        required_literals(p, false).map(|s| {
            s.into_iter()
                .map(|l| String::from_utf8(l).unwrap())
                .collect()
        })
    }

    #[test]
    fn the_longest_literal_run_every_match_has_is_required() {
        assert_eq!(required("abc"), Some(vec!["abc".into()]));
        assert_eq!(required("(?i)SeLeCt\\s+x"), Some(vec!["select".into()]));
        let words = |w: &[&str]| Some(w.iter().map(|s| (*s).to_string()).collect::<Vec<_>>());
        assert_eq!(
            required("(?:union|select)\\s+all"),
            words(&["union", "select"])
        );
        assert_eq!(
            required("x(?:union|select)\\s*"),
            words(&["xunion", "xselect"])
        );
        assert_eq!(required("a[bB]c"), Some(vec!["abc".into()]));
        assert_eq!(required("on[a-z]+="), Some(vec!["on".into()]));
    }

    #[test]
    fn patterns_that_can_match_without_a_literal_have_no_prefilter() {
        assert_eq!(required("a?"), None);
        assert_eq!(required("a*b*"), None);
        assert_eq!(required("[a-z]+"), None);
        assert_eq!(required("abc|[a-z]+"), None);
        assert_eq!(required("^$"), None);
        assert_eq!(required(""), None);
    }

    #[test]
    fn a_match_always_contains_a_required_literal() {
        let cases = [
            ("(?i)union\\s+select", "1 UNION  SELECT"),
            ("(?i)\\bon(?:load|error)\\s*=", "<img OnErRoR =x>"),
            ("a(?:bc)?d", "ad"),
            ("\\xe2\\x80", "\u{2028}"),
        ];
        for (p, v) in cases {
            let re = regex::bytes::RegexBuilder::new(p)
                .unicode(false)
                .build()
                .unwrap();
            assert!(re.is_match(v.as_bytes()), "{p}");
            let lits = required_literals(p, false).expect("literals");
            let v = v.to_ascii_lowercase();
            assert!(
                lits.iter()
                    .any(|l| memchr::memmem::find(v.as_bytes(), l).is_some()),
                "{p} on {v}"
            );
        }
    }
}
