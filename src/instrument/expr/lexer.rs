//! Turns expression text into tokens, each with its span in file offsets.
//!
//! The lexer never stops at the first problem: it records every error and
//! goes on with the next character, so one run reports all of them. It works
//! on bytes for speed but only splits at ASCII characters, so every span is
//! on a UTF-8 boundary.

use jiff::civil::Date;

use super::ast::Span;
use super::error::ExprError;

/// The words that cannot be item ids: `and or not in true false`.
pub const KEYWORDS: [&str; 6] = ["and", "or", "not", "in", "true", "false"];

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    Int(i64),
    Decimal(f64),
    Text(String),
    Date(Date),
    Name(String),
    True,
    False,
    And,
    Or,
    Not,
    In,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    /// The end of the expression (an empty span just past it).
    Eof,
}

impl TokenKind {
    /// How the token is named in "expected ..., found ..." messages.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Int(n) => format!("number `{n}`"),
            TokenKind::Decimal(x) => format!("number `{x}`"),
            TokenKind::Text(_) => "text".to_string(),
            TokenKind::Date(d) => format!("date `@{d}`"),
            TokenKind::Name(n) => format!("name `{n}`"),
            TokenKind::True => "`true`".to_string(),
            TokenKind::False => "`false`".to_string(),
            TokenKind::And => "`and`".to_string(),
            TokenKind::Or => "`or`".to_string(),
            TokenKind::Not => "`not`".to_string(),
            TokenKind::In => "`in`".to_string(),
            TokenKind::LParen => "`(`".to_string(),
            TokenKind::RParen => "`)`".to_string(),
            TokenKind::LBracket => "`[`".to_string(),
            TokenKind::RBracket => "`]`".to_string(),
            TokenKind::Comma => "`,`".to_string(),
            TokenKind::Plus => "`+`".to_string(),
            TokenKind::Minus => "`-`".to_string(),
            TokenKind::Star => "`*`".to_string(),
            TokenKind::Slash => "`/`".to_string(),
            TokenKind::EqEq => "`==`".to_string(),
            TokenKind::NotEq => "`!=`".to_string(),
            TokenKind::Lt => "`<`".to_string(),
            TokenKind::Le => "`<=`".to_string(),
            TokenKind::Gt => "`>`".to_string(),
            TokenKind::Ge => "`>=`".to_string(),
            TokenKind::Eof => "the end of the expression".to_string(),
        }
    }
}

/// A token and where it is in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Splits `source` into tokens ending with [`TokenKind::Eof`]; `offset` is
/// the file offset of `source[0]`. Returns every lexical error found.
pub fn lex(source: &str, offset: usize) -> Result<Vec<Token>, Vec<ExprError>> {
    let mut lexer = Lexer {
        src: source,
        bytes: source.as_bytes(),
        pos: 0,
        offset,
    };
    let mut tokens = Vec::new();
    let mut errors = Vec::new();
    loop {
        match lexer.next_token() {
            Ok(Some(tok)) => {
                let eof = tok.kind == TokenKind::Eof;
                tokens.push(tok);
                if eof {
                    break;
                }
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(tokens)
    } else {
        Err(errors)
    }
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    offset: usize,
}

impl Lexer<'_> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.offset + start, self.offset + end)
    }

    fn peek_at(&self, i: usize) -> Option<u8> {
        self.bytes.get(self.pos + i).copied()
    }

    fn token(&self, kind: TokenKind, start: usize) -> Result<Option<Token>, ExprError> {
        Ok(Some(Token {
            kind,
            span: self.span(start, self.pos),
        }))
    }

    /// The next token; `Ok(None)` after skipping whitespace only.
    fn next_token(&mut self) -> Result<Option<Token>, ExprError> {
        let start = self.pos;
        let Some(b) = self.peek_at(0) else {
            return self.token(TokenKind::Eof, start);
        };
        if b.is_ascii_whitespace() {
            self.pos += 1;
            return Ok(None);
        }
        let two = |me: &mut Self, kind| {
            me.pos += 2;
            me.token(kind, start)
        };
        let one = |me: &mut Self, kind| {
            me.pos += 1;
            me.token(kind, start)
        };
        match (b, self.peek_at(1)) {
            (b'=', Some(b'=')) => two(self, TokenKind::EqEq),
            (b'!', Some(b'=')) => two(self, TokenKind::NotEq),
            (b'<', Some(b'=')) => two(self, TokenKind::Le),
            (b'>', Some(b'=')) => two(self, TokenKind::Ge),
            (b'<', Some(b'>')) => {
                self.pos += 2;
                Err(self.unexpected('<', start, "write `!=` for not equal"))
            }
            (b'<', _) => one(self, TokenKind::Lt),
            (b'>', _) => one(self, TokenKind::Gt),
            (b'(', _) => one(self, TokenKind::LParen),
            (b')', _) => one(self, TokenKind::RParen),
            (b'[', _) => one(self, TokenKind::LBracket),
            (b']', _) => one(self, TokenKind::RBracket),
            (b',', _) => one(self, TokenKind::Comma),
            (b'+', _) => one(self, TokenKind::Plus),
            (b'-', _) => one(self, TokenKind::Minus),
            (b'*', _) => one(self, TokenKind::Star),
            (b'/', _) => one(self, TokenKind::Slash),
            (b'\'' | b'"', _) => self.text(b).map(Some),
            (b'@', _) => self.date().map(Some),
            (b'0'..=b'9', _) => self.number().map(Some),
            (b'a'..=b'z' | b'A'..=b'Z' | b'_', _) => self.name().map(Some),
            _ => {
                let ch = self.src[start..].chars().next().expect("pos is in bounds");
                self.pos += ch.len_utf8();
                let help = match ch {
                    '=' => "write `==` to compare",
                    '!' => "write `not` to negate, or `!=` for not equal",
                    '&' => "write `and`",
                    '|' => "write `or`",
                    '{' | '}' => "expressions are written without braces: `age > 18`",
                    '.' => "write decimals with digits before the point, as in 0.5",
                    '\u{2018}' | '\u{2019}' | '\u{201c}' | '\u{201d}' => {
                        "use straight quotes ' or \" (a word processor may have curled them)"
                    }
                    '\u{a0}' | '\u{2002}'..='\u{200b}' | '\u{3000}' => {
                        "an invisible non-breaking or special space: retype it as a plain space"
                    }
                    _ => {
                        "expressions use names, numbers, 'text', @dates and + - * / == != < <= > >= and or not in"
                    }
                };
                Err(self.unexpected(ch, start, help))
            }
        }
    }

    fn unexpected(&self, ch: char, start: usize, help: &str) -> ExprError {
        ExprError::UnexpectedChar {
            ch,
            span: self.span(start, self.pos),
            help: help.to_string(),
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) {
        while self.peek_at(0).is_some_and(&f) {
            self.pos += 1;
        }
    }

    fn name(&mut self) -> Result<Token, ExprError> {
        let start = self.pos;
        self.take_while(|b| b.is_ascii_alphanumeric() || b == b'_');
        let text = &self.src[start..self.pos];
        let kind = match text {
            "true" => TokenKind::True,
            "false" => TokenKind::False,
            "and" => TokenKind::And,
            "or" => TokenKind::Or,
            "not" => TokenKind::Not,
            "in" => TokenKind::In,
            _ if text.bytes().any(|b| b.is_ascii_uppercase()) => {
                return Err(ExprError::BadName {
                    name: text.to_string(),
                    lower: text.to_ascii_lowercase(),
                    span: self.span(start, self.pos),
                });
            }
            _ => TokenKind::Name(text.to_string()),
        };
        Ok(Token {
            kind,
            span: self.span(start, self.pos),
        })
    }

    fn number(&mut self) -> Result<Token, ExprError> {
        let start = self.pos;
        self.take_while(|b| b.is_ascii_digit());
        let mut decimal = false;
        if self.peek_at(0) == Some(b'.') {
            decimal = true;
            self.pos += 1;
            self.take_while(|b| b.is_ascii_digit());
        }
        // A name glued to a number (`3rd`) is one bad token, not two.
        self.take_while(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        let text = &self.src[start..self.pos];
        let span = self.span(start, self.pos);
        let bad = || ExprError::BadNumber {
            text: text.to_string(),
            span,
        };
        let kind = if decimal {
            let (_, frac) = text.split_once('.').expect("decimal has a point");
            if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            TokenKind::Decimal(text.parse().map_err(|_| bad())?)
        } else {
            TokenKind::Int(text.parse().map_err(|_| bad())?)
        };
        Ok(Token { kind, span })
    }

    fn date(&mut self) -> Result<Token, ExprError> {
        let start = self.pos;
        self.pos += 1;
        self.take_while(|b| b.is_ascii_alphanumeric() || b == b'-');
        let text = &self.src[start..self.pos];
        let span = self.span(start, self.pos);
        let bad = || ExprError::BadDate {
            text: text.to_string(),
            span,
        };
        let body = &text.as_bytes()[1..];
        let shaped = body.len() == 10
            && body[4] == b'-'
            && body[7] == b'-'
            && body
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
        if !shaped {
            return Err(bad());
        }
        let field = |r: std::ops::Range<usize>| text[1..][r].parse::<i16>().map_err(|_| bad());
        let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
        let month = i8::try_from(month).map_err(|_| bad())?;
        let day = i8::try_from(day).map_err(|_| bad())?;
        let date = Date::new(year, month, day).map_err(|_| bad())?;
        Ok(Token {
            kind: TokenKind::Date(date),
            span,
        })
    }

    fn text(&mut self, quote: u8) -> Result<Token, ExprError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut bad_escape = None;
        loop {
            let Some(b) = self.peek_at(0) else {
                return Err(ExprError::UnterminatedText {
                    span: self.span(start, start + 1),
                });
            };
            if b == quote {
                self.pos += 1;
                break;
            }
            if b == b'\\' {
                let Some(c) = self.src[self.pos + 1..].chars().next() else {
                    self.pos += 1;
                    continue;
                };
                match c {
                    '\\' | '\'' | '"' => out.push(c),
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    _ => {
                        let span = self.span(self.pos, self.pos + 1 + c.len_utf8());
                        bad_escape.get_or_insert(ExprError::BadEscape {
                            text: format!("\\{c}"),
                            span,
                        });
                    }
                }
                self.pos += 1 + c.len_utf8();
                continue;
            }
            let c = self.src[self.pos..]
                .chars()
                .next()
                .expect("pos is in bounds");
            out.push(c);
            self.pos += c.len_utf8();
        }
        match bad_escape {
            Some(e) => Err(e),
            None => Ok(Token {
                kind: TokenKind::Text(out),
                span: self.span(start, self.pos),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        lex(src, 0)
            .expect("lexes")
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    fn errors(src: &str) -> Vec<ExprError> {
        lex(src, 0).expect_err("fails")
    }

    #[test]
    fn lexes_operators_and_keywords() {
        use TokenKind::*;
        assert_eq!(
            kinds("a<=1 and not b!=2 or c in [x,y]"),
            vec![
                Name("a".into()),
                Le,
                Int(1),
                And,
                Not,
                Name("b".into()),
                NotEq,
                Int(2),
                Or,
                Name("c".into()),
                In,
                LBracket,
                Name("x".into()),
                Comma,
                Name("y".into()),
                RBracket,
                Eof
            ]
        );
    }

    #[test]
    fn lexes_literals() {
        use TokenKind::*;
        assert_eq!(
            kinds(r#"12 3.25 'a\'b' "c\nd" @2024-02-29 true false"#),
            vec![
                Int(12),
                Decimal(3.25),
                Text("a'b".into()),
                Text("c\nd".into()),
                Date(jiff::civil::date(2024, 2, 29)),
                True,
                False,
                Eof
            ]
        );
        assert_eq!(kinds("'été'"), vec![Text("été".into()), Eof]);
    }

    #[test]
    fn spans_are_file_offsets() {
        let toks = lex("ab + 'xy'", 100).expect("lexes");
        let spans: Vec<_> = toks.iter().map(|t| (t.span.start, t.span.end)).collect();
        assert_eq!(spans, vec![(100, 102), (103, 104), (105, 109), (109, 109)]);
    }

    #[test]
    fn reports_every_error() {
        let errs = lex("a = 1 && b $", 7).expect_err("fails");
        let spans: Vec<_> = errs.iter().map(|e| e.span()).collect();
        assert_eq!(
            spans,
            vec![
                Span::new(9, 10),
                Span::new(13, 14),
                Span::new(14, 15),
                Span::new(18, 19)
            ]
        );
        assert!(matches!(&errs[0], ExprError::UnexpectedChar { help, .. } if help.contains("==")));
    }

    #[test]
    fn rejects_bad_literals() {
        assert!(matches!(
            errors("99999999999999999999")[0],
            ExprError::BadNumber { .. }
        ));
        assert!(matches!(errors("1.")[0], ExprError::BadNumber { .. }));
        assert!(matches!(errors("3rd")[0], ExprError::BadNumber { .. }));
        assert!(matches!(
            errors("@2025-02-30")[0],
            ExprError::BadDate { .. }
        ));
        assert!(matches!(errors("@2025-2-3")[0], ExprError::BadDate { .. }));
        assert!(matches!(errors("@")[0], ExprError::BadDate { .. }));
        assert!(
            matches!(errors("'abc")[0], ExprError::UnterminatedText { span } if span == Span::new(0, 1))
        );
        assert!(
            matches!(errors(r"'a\qb'")[0], ExprError::BadEscape { span, .. } if span == Span::new(2, 4))
        );
        assert!(matches!(&errors("Age")[0], ExprError::BadName { lower, .. } if lower == "age"));
        assert!(matches!(
            errors("a <> b")[0],
            ExprError::UnexpectedChar { .. }
        ));
        assert!(
            matches!(errors("é")[0], ExprError::UnexpectedChar { ch: 'é', span, .. } if span == Span::new(0, 2))
        );
    }

    #[test]
    fn word_processor_characters_get_a_specific_help() {
        let curly = errors("sex == \u{2018}m\u{2019}");
        assert_eq!(curly.len(), 2);
        assert!(
            matches!(&curly[0], ExprError::UnexpectedChar { help, .. } if help.contains("straight"))
        );
        let nbsp = errors("a\u{a0}== 1");
        let ExprError::UnexpectedChar { help, span, .. } = &nbsp[0] else {
            panic!("{nbsp:?}")
        };
        assert!(help.contains("space"));
        assert_eq!(*span, Span::new(1, 3));
        assert!(
            matches!(&errors(".5")[0], ExprError::UnexpectedChar { help, .. } if help.contains("0.5"))
        );
    }

    #[test]
    fn trailing_backslash_is_unterminated() {
        assert!(matches!(
            errors("'abc\\")[0],
            ExprError::UnterminatedText { .. }
        ));
    }
}
