//! Reading `rndc showzone` output back, so PATCH can replace a few statements and hand every
//! other statement to `modzone` exactly as BIND printed it (CIDRs, keys, ACL names included).

use std::fmt::Display;

use super::conf_tokens::{tokenize, unquote};
use super::options::list_statement;

/// One top-level statement of a zone block, e.g. `allow-transfer { 10.0.0.0/8; }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub keyword: String,
    /// The whole statement without its final `;`, tokens re-joined by single spaces.
    pub text: String,
}

/// A zone statement as BIND shows it: `zone "name" [class] { statements };`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownZone {
    pub statements: Vec<Statement>,
}

impl ShownZone {
    pub fn parse(text: &str) -> Result<ShownZone, String> {
        let tokens = tokenize(text)?;
        let open = tokens
            .iter()
            .position(|t| t == "{")
            .ok_or_else(|| "no '{' in showzone output".to_string())?;
        if tokens.first().map(String::as_str) != Some("zone") {
            return Err("showzone output does not start with 'zone'".into());
        }
        let mut statements = Vec::new();
        let mut current: Vec<&str> = Vec::new();
        let mut depth = 0usize;
        let mut closed = false;
        for token in &tokens[open + 1..] {
            match token.as_str() {
                "{" => {
                    depth += 1;
                    current.push(token);
                }
                "}" if depth == 0 => {
                    closed = true;
                    break;
                }
                "}" => {
                    depth -= 1;
                    current.push(token);
                }
                ";" if depth == 0 => {
                    if let Some(first) = current.first() {
                        statements.push(Statement {
                            keyword: first.to_string(),
                            text: join(&current),
                        });
                    }
                    current.clear();
                }
                _ => current.push(token),
            }
        }
        if !closed || !current.is_empty() {
            return Err("unbalanced showzone output".into());
        }
        Ok(ShownZone { statements })
    }

    pub fn get(&self, keyword: &str) -> Option<&Statement> {
        self.statements.iter().find(|s| s.keyword == keyword)
    }

    /// The first value of a simple statement such as `type primary` or `file "x"` (unquoted).
    pub fn value(&self, keyword: &str) -> Option<String> {
        let statement = self.get(keyword)?;
        let rest = statement.text.strip_prefix(keyword)?.trim();
        Some(unquote(rest))
    }

    /// Replaces (or with `None`, removes) the statement named `keyword`, keeping its position.
    pub fn set(&mut self, keyword: &str, statement: Option<String>) {
        let position = self.statements.iter().position(|s| s.keyword == keyword);
        match (position, statement) {
            (Some(i), Some(text)) => self.statements[i].text = text,
            (Some(i), None) => {
                self.statements.remove(i);
            }
            (None, Some(text)) => self.statements.push(Statement {
                keyword: keyword.to_string(),
                text,
            }),
            (None, None) => {}
        }
    }

    /// Replaces a list statement such as `allow-transfer { ... }` with `list`; an empty list
    /// removes the statement (BIND then applies its default).
    pub fn set_list<T: Display>(&mut self, keyword: &str, list: &[T]) {
        let statement = (!list.is_empty()).then(|| {
            list_statement(keyword, list)
                .trim_end()
                .trim_end_matches(';')
                .to_string()
        });
        self.set(keyword, statement);
    }

    /// The `{ ... };` block for `rndc modzone`.
    pub fn render_block(&self) -> String {
        let mut out = String::from("{ ");
        for statement in &self.statements {
            out.push_str(&statement.text);
            out.push_str("; ");
        }
        out.push_str("};");
        out
    }
}

fn join(tokens: &[&str]) -> String {
    let mut out = String::new();
    for token in tokens {
        if !out.is_empty() && *token != ";" {
            out.push(' ');
        }
        out.push_str(token);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const SHOWN: &str = "zone \"ok.test\" { type primary; file \"/tmp/bx/zones/ok.test.zone\"; \
        allow-transfer  { 127.0.0.1/32; 10.0.0.0/8; }; allow-update { key \"rndc-key\"; }; \
        also-notify { 10.0.0.1 port 53; }; };";

    #[test]
    fn parses_what_bind_9_18_prints() {
        let zone = ShownZone::parse(SHOWN).unwrap();
        let keywords: Vec<_> = zone.statements.iter().map(|s| s.keyword.as_str()).collect();
        assert_eq!(
            keywords,
            [
                "type",
                "file",
                "allow-transfer",
                "allow-update",
                "also-notify"
            ]
        );
        assert_eq!(zone.value("type").as_deref(), Some("primary"));
        assert_eq!(
            zone.value("file").as_deref(),
            Some("/tmp/bx/zones/ok.test.zone")
        );
        assert_eq!(
            zone.get("allow-update").map(|s| s.text.as_str()),
            Some("allow-update { key \"rndc-key\"; }")
        );
    }

    #[test]
    fn replaces_and_removes_statements_and_keeps_the_rest_verbatim() {
        let mut zone = ShownZone::parse(SHOWN).unwrap();
        zone.set("also-notify", None);
        zone.set("allow-update", Some("allow-update { 192.0.2.1; }".into()));
        assert_eq!(
            zone.render_block(),
            "{ type primary; file \"/tmp/bx/zones/ok.test.zone\"; allow-transfer { 127.0.0.1/32; \
             10.0.0.0/8; }; allow-update { 192.0.2.1; }; };"
        );
    }

    #[test]
    fn set_list_renders_or_removes_a_list_statement() {
        let mut zone = ShownZone::parse(SHOWN).unwrap();
        let ips: Vec<std::net::IpAddr> = vec!["192.0.2.1".parse().unwrap()];
        zone.set_list("allow-transfer", &ips);
        zone.set_list::<std::net::IpAddr>("also-notify", &[]);
        assert_eq!(
            zone.get("allow-transfer").map(|s| s.text.as_str()),
            Some("allow-transfer { 192.0.2.1; }")
        );
        assert!(zone.get("also-notify").is_none());
    }

    #[test]
    fn refuses_garbage() {
        for bad in [
            "",
            "zone \"x\" { type primary;",
            "not a zone",
            "zone \"x { };",
        ] {
            assert!(ShownZone::parse(bad).is_err(), "{bad}");
        }
    }
}
