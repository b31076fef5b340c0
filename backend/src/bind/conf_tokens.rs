//! Tokens of BIND's configuration syntax (named.conf, rndc.conf, `rndc showzone` output):
//! `{`, `}`, `;`, quoted strings (kept with their quotes) and bare words; comments skipped.

pub fn tokenize(text: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '#' => skip_line(&mut chars),
            '/' if starts(&chars, "//") => skip_line(&mut chars),
            '/' if starts(&chars, "/*") => {
                chars.next();
                chars.next();
                let mut previous = ' ';
                let mut closed = false;
                for c in chars.by_ref() {
                    if previous == '*' && c == '/' {
                        closed = true;
                        break;
                    }
                    previous = c;
                }
                if !closed {
                    return Err("unterminated /* comment".into());
                }
            }
            '{' | '}' | ';' => {
                tokens.push(c.to_string());
                chars.next();
            }
            '"' => {
                let mut token = String::from('"');
                chars.next();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    token.push(c);
                    if c == '\\' {
                        if let Some(escaped) = chars.next() {
                            token.push(escaped);
                        }
                    } else if c == '"' {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return Err("unterminated string".into());
                }
                tokens.push(token);
            }
            _ => {
                let mut token = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '{' | '}' | ';' | '"') {
                        break;
                    }
                    token.push(c);
                    chars.next();
                }
                tokens.push(token);
            }
        }
    }
    Ok(tokens)
}

/// A quoted token without its quotes (escapes resolved); a bare word as is.
pub fn unquote(token: &str) -> String {
    match token.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => token.to_string(),
    }
}

fn starts(chars: &std::iter::Peekable<std::str::Chars<'_>>, prefix: &str) -> bool {
    chars.clone().take(prefix.len()).eq(prefix.chars())
}

fn skip_line(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if c == '\n' {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn tokens_and_comments() {
        let text = "key \"rndc-key\" { # comment\n algorithm hmac-sha256; // x\n /* y */ secret \"a\\\"b\"; };";
        assert_eq!(
            tokenize(text).unwrap(),
            [
                "key",
                "\"rndc-key\"",
                "{",
                "algorithm",
                "hmac-sha256",
                ";",
                "secret",
                "\"a\\\"b\"",
                ";",
                "}",
                ";"
            ]
        );
        assert_eq!(unquote("\"a\\\"b\""), "a\"b");
        assert!(tokenize("\"open").is_err());
        assert!(tokenize("/* open").is_err());
    }
}
