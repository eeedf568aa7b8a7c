//! Glob-style pattern matching as Redis uses it for KEYS, SCAN MATCH and CONFIG GET:
//! `*`, `?`, `[abc]`, `[^abc]`, `[a-z]` and `\` escapes, optionally ignoring case.

/// Nesting of `*` is resolved by backtracking; this bounds the work on hostile patterns
/// (Redis bounds it too: a pattern with many stars against a long string).
const BACKTRACK_STEPS_MAX: usize = 1 << 20;

/// Whether `text` matches `pattern`.
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let mut steps = 0;
    match_from(pattern, text, nocase, &mut steps)
}

fn match_from(mut pattern: &[u8], mut text: &[u8], nocase: bool, steps: &mut usize) -> bool {
    while let Some(&p) = pattern.first() {
        *steps += 1;
        if *steps > BACKTRACK_STEPS_MAX {
            return false;
        }
        match p {
            b'*' => {
                while pattern.first() == Some(&b'*') {
                    pattern = &pattern[1..];
                }
                if pattern.is_empty() {
                    return true;
                }
                return (0..=text.len())
                    .any(|skip| match_from(pattern, &text[skip..], nocase, steps));
            }
            b'?' => {
                let Some((_, rest)) = text.split_first() else {
                    return false;
                };
                text = rest;
                pattern = &pattern[1..];
            }
            b'[' => {
                let Some((&c, rest)) = text.split_first() else {
                    return false;
                };
                let (matched, after_class) = match_class(&pattern[1..], c, nocase);
                if !matched {
                    return false;
                }
                text = rest;
                pattern = after_class;
            }
            _ => {
                let (literal, after) = match (p, pattern.get(1)) {
                    (b'\\', Some(&escaped)) => (escaped, &pattern[2..]),
                    _ => (p, &pattern[1..]),
                };
                let Some((&c, rest)) = text.split_first() else {
                    return false;
                };
                if !same_byte(literal, c, nocase) {
                    return false;
                }
                text = rest;
                pattern = after;
            }
        }
    }
    text.is_empty()
}

/// Matches `c` against a character class starting just after `[`; returns whether it matched
/// and the pattern after the closing `]` (an unclosed class runs to the end, as in Redis).
fn match_class(mut pattern: &[u8], c: u8, nocase: bool) -> (bool, &[u8]) {
    let negate = pattern.first() == Some(&b'^');
    if negate {
        pattern = &pattern[1..];
    }
    let mut matched = false;
    loop {
        match pattern {
            [] => break,
            [b']', rest @ ..] => {
                pattern = rest;
                break;
            }
            [b'\\', escaped, rest @ ..] => {
                matched |= same_byte(*escaped, c, nocase);
                pattern = rest;
            }
            [start, b'-', end, rest @ ..] if *end != b']' => {
                let (mut lo, mut hi) = (*start, *end);
                if lo > hi {
                    std::mem::swap(&mut lo, &mut hi);
                }
                let (lo, hi, c) = if nocase {
                    (
                        lo.to_ascii_lowercase(),
                        hi.to_ascii_lowercase(),
                        c.to_ascii_lowercase(),
                    )
                } else {
                    (lo, hi, c)
                };
                matched |= (lo..=hi).contains(&c);
                pattern = rest;
            }
            [single, rest @ ..] => {
                matched |= same_byte(*single, c, nocase);
                pattern = rest;
            }
        }
    }
    (matched != negate, pattern)
}

fn same_byte(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(pattern: &str, text: &str) -> bool {
        glob_match(pattern.as_bytes(), text.as_bytes(), false)
    }

    #[test]
    fn stars_and_questions() {
        assert!(m("*", ""));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("*o", "hello"));
        assert!(!m("*x", "hello"));
        assert!(m("a*b*c", "aXbYc"));
    }

    #[test]
    fn classes_and_escapes() {
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(glob_match(b"HELLO", b"hello", true));
    }

    #[test]
    fn hostile_patterns_terminate() {
        let pattern = "*a".repeat(40) + "b";
        assert!(!m(&pattern, &"a".repeat(200)));
    }
}
