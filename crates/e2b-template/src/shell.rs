//! Dockerfile word processing (BuildKit's shell lexer, as the official SDKs port it):
//! quotes and escapes are resolved; variable references are kept for the sandbox's shell
//! to expand, or expanded from known values where the importer needs a value now.

use std::collections::HashMap;

/// How variable references are treated.
#[derive(Clone, Copy)]
pub(crate) enum Vars<'a> {
    /// Kept verbatim (`$A`, `${A:-x}`).
    Keep,
    /// Expanded from the map; unknown ones are empty.
    Expand(&'a HashMap<String, String>),
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    vars: Vars<'a>,
    /// How deeply `${…}` substitutions are nested here.
    depth: usize,
}

/// Deeper nesting of `${…}` is refused rather than recursed into.
const MAX_DEPTH: usize = 64;

pub(crate) fn process_word(word: &str, escape: char, vars: Vars<'_>) -> Result<String, String> {
    let mut lexer = Lexer {
        chars: word.chars().collect(),
        pos: 0,
        escape,
        vars,
        depth: 0,
    };
    lexer
        .process_stop_on(None)
        .map_err(|e| format!("failed to process {word:?}: {e}"))
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn process_stop_on(&mut self, stop: Option<char>) -> Result<String, String> {
        let mut out = String::new();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.next();
                return Ok(out);
            }
            match ch {
                '$' => out.push_str(&self.dollar()?),
                '<' => out.push_str(&self.heredoc_marker()),
                '\'' => out.push_str(&self.single_quote()?),
                '"' => out.push_str(&self.double_quote()?),
                _ => {
                    self.next();
                    if ch == self.escape {
                        match self.next() {
                            Some(next) => out.push(next),
                            None => break,
                        }
                    } else {
                        out.push(ch);
                    }
                }
            }
        }
        match stop {
            Some(stop) => Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            )),
            None => Ok(out),
        }
    }

    fn single_quote(&mut self) -> Result<String, String> {
        self.next();
        let mut out = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    );
                }
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, String> {
        self.next();
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    );
                }
                Some('"') => {
                    self.next();
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(_) => {
                    let mut ch = self.next().unwrap_or_default();
                    if ch == self.escape {
                        match self.peek() {
                            None => continue,
                            Some(after) if after == '"' || after == '$' || after == self.escape => {
                                ch = after;
                                self.next();
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_numeric() {
                while let Some(d) = self.peek().filter(|d| d.is_numeric()) {
                    name.push(d);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && "@*#?-$!0".contains(ch) {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphanumeric() && ch != '_' {
                break;
            }
            name.push(ch);
            self.next();
        }
        name
    }

    fn lookup(&self, name: &str) -> Option<String> {
        match self.vars {
            Vars::Keep => None,
            Vars::Expand(map) => map.get(name).cloned(),
        }
    }

    fn dollar(&mut self) -> Result<String, String> {
        self.depth += 1;
        let result = if self.depth > MAX_DEPTH {
            Err("variable substitutions are nested too deeply".to_owned())
        } else {
            self.dollar_inner()
        };
        self.depth -= 1;
        result
    }

    fn dollar_inner(&mut self) -> Result<String, String> {
        self.next();
        let keep = matches!(self.vars, Vars::Keep);
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.lookup(&name) {
                Some(v) => v,
                None if keep => format!("${name}"),
                None => String::new(),
            });
        }
        self.next();
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let Some(ch) = self.next() else {
            return Err("syntax error: missing '}'".into());
        };
        let value = self.lookup(&name);
        if ch == '}' {
            return Ok(match value {
                Some(v) => v,
                None if keep => format!("${{{name}}}"),
                None => String::new(),
            });
        }
        let mut modifier = ch.to_string();
        let mut op = ch;
        let null_is_unset = ch == ':';
        if null_is_unset {
            op = self.next().ok_or("syntax error: missing '}'")?;
            modifier.push(op);
        }
        if !null_is_unset && op == '/' {
            return self.replace(&name, keep);
        }
        if !"+-?#%".contains(op) || (null_is_unset && (op == '#' || op == '%')) {
            return Err(format!("unsupported modifier ({modifier}) in substitution"));
        }
        let word = self
            .process_stop_on(Some('}'))
            .map_err(|_| "syntax error: missing '}'".to_owned())?;
        if value.is_none() && keep {
            return Ok(format!("${{{name}{modifier}{word}}}"));
        }
        let unset = value.is_none() || (null_is_unset && value.as_deref() == Some(""));
        match op {
            '-' => Ok(if unset {
                word
            } else {
                value.unwrap_or_default()
            }),
            '+' => Ok(if unset { String::new() } else { word }),
            '?' if unset => Err(format!(
                "{name}: {}",
                if word.is_empty() {
                    "is not allowed to be unset"
                } else {
                    &word
                }
            )),
            '?' => Ok(value.unwrap_or_default()),
            _ => Err(format!(
                "unsupported modifier ({modifier}) in substitution for a value needed now"
            )),
        }
    }

    fn replace(&mut self, name: &str, keep: bool) -> Result<String, String> {
        let mut op = "/".to_owned();
        if self.peek() == Some('/') {
            self.next();
            op.push('/');
        }
        let pattern = self
            .process_stop_on(Some('/'))
            .map_err(|_| "syntax error: missing '/' in ${}".to_owned())?;
        let replacement = self
            .process_stop_on(Some('}'))
            .map_err(|_| "syntax error: missing '}'".to_owned())?;
        if keep || self.lookup(name).is_none() {
            return Ok(format!("${{{name}{op}{pattern}/{replacement}}}"));
        }
        Err("pattern substitution is not supported for a value needed now".into())
    }

    fn heredoc_marker(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".into();
        }
        self.next();
        let mut out = "<<".to_owned();
        while let Some(c) = self.peek().filter(|c| matches!(c, '\t' | '\r' | ' ')) {
            out.push(c);
            self.next();
        }
        out
    }
}

/// BuildKit's `parseWords`: split on whitespace outside quotes; quotes and escapes stay
/// in the words.
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for ch in rest.chars() {
        if !in_word {
            if ch.is_whitespace() {
                continue;
            }
            in_word = true;
        }
        if ch.is_whitespace() && quote.is_none() && !escaped {
            words.push(std::mem::take(&mut word));
            in_word = false;
            continue;
        }
        if escaped {
            escaped = false;
        } else if Some(ch) == quote {
            quote = None;
        } else if quote.is_none() && (ch == '\'' || ch == '"') {
            quote = Some(ch);
        } else if ch == escape && quote != Some('\'') {
            escaped = true;
        }
        word.push(ch);
    }
    if in_word && !word.is_empty() {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keep(w: &str) -> String {
        process_word(w, '\\', Vars::Keep).unwrap()
    }

    #[test]
    fn words_resolve_quotes_and_keep_variables() {
        assert_eq!(keep("\"hello world\""), "hello world");
        assert_eq!(keep("'a b'c"), "a bc");
        assert_eq!(keep("a\\ b"), "a b");
        assert_eq!(keep("$HOME/x"), "$HOME/x");
        assert_eq!(keep("${A:-\"d e\"}"), "${A:-d e}");
        assert_eq!(keep("\"$A\""), "$A");
        assert_eq!(keep("$"), "$");
        assert!(process_word("\"open", '\\', Vars::Keep).is_err());
        // Deep nesting is refused, not recursed into until the stack runs out.
        let deep = "${a:-".repeat(10_000) + &"}".repeat(10_000);
        assert!(process_word(&deep, '\\', Vars::Keep).is_err());
        let fine = "${a:-".repeat(10) + &"}".repeat(10);
        assert_eq!(process_word(&fine, '\\', Vars::Keep).unwrap(), fine);
        let vars: HashMap<String, String> = [("M".to_owned(), "755".to_owned())].into();
        assert_eq!(
            process_word("0$M", '\\', Vars::Expand(&vars)).unwrap(),
            "0755"
        );
        assert_eq!(
            process_word("${X:-644}", '\\', Vars::Expand(&vars)).unwrap(),
            "644"
        );
    }

    #[test]
    fn words_split_outside_quotes() {
        assert_eq!(
            parse_words("A=1 B=\"two words\" C='x y'", '\\'),
            ["A=1", "B=\"two words\"", "C='x y'"]
        );
        assert_eq!(parse_words("  a\\ b  c ", '\\'), ["a\\ b", "c"]);
    }
}
