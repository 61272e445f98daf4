//! XLSForm expressions (ODK's XPath subset) into vicor's expression
//! language (`docs/instrument-language.md`).
//!
//! The translation is typed: `${sex} = 'female'` becomes `sex == 2` because
//! `sex` is a `select_one` whose list gives `female` the code 2, and
//! `${name} != ''` becomes `answered(name)`. What vicor's language cannot
//! say (`regex()`, `string-length()`, `mod`, paths such as `../x`) is
//! refused with a reason, which the importer lists with the cell; it never
//! emits an expression it is not sure of.

use std::collections::BTreeMap;

/// What a referenced question is, as far as expressions care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `select_one LIST`.
    Single(String),
    /// `select_multiple LIST`.
    Multiple(String),
    Number,
    Text,
    Date,
    /// A `calculate`: its type is not declared in XLSForm.
    Calculated,
    /// A `begin repeat`: usable only inside `count()`.
    Repeat,
    /// A note or a group: no value.
    NoValue,
}

/// A question as expressions see it.
#[derive(Debug, Clone)]
pub struct Question {
    /// The vicor id it was given.
    pub id: String,
    pub kind: Kind,
    /// The vicor ids of the rosters (repeats) it sits in, outermost first.
    pub rosters: Vec<String>,
}

/// Everything an expression may refer to.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// By XLSForm name.
    pub questions: BTreeMap<String, Question>,
    /// List name → (choice name → code).
    pub lists: BTreeMap<String, BTreeMap<String, i64>>,
    /// Names left out of the instrument, with why: a reference to one says so.
    pub dropped: BTreeMap<String, String>,
}

/// Where an expression is written.
#[derive(Debug, Clone, Default)]
pub struct Context<'a> {
    /// The XLSForm name `.` stands for (a constraint's own question).
    pub current: Option<&'a str>,
    /// The rosters the expression is evaluated in, outermost first.
    pub rosters: &'a [String],
    /// In a `choice_filter`: the choice's own columns (`name`, `region`),
    /// which stand for their values in that choice's row.
    pub choice_columns: Option<&'a BTreeMap<String, String>>,
}

/// A translated expression and the XLSForm names it refers to.
#[derive(Debug, Clone, PartialEq)]
pub struct Translated {
    pub text: String,
    pub refs: Vec<String>,
}

/// Translates one XLSForm expression; the error says what has no
/// equivalent, in words the form's author knows.
pub fn translate(source: &str, scope: &Scope, cx: &Context) -> Result<Translated, String> {
    let tokens = lex(source)?;
    let mut p = Parser { tokens, pos: 0 };
    let ast = p.expr()?;
    if let Some(t) = p.tokens.get(p.pos) {
        return Err(format!("unexpected `{}` after the expression", t.show()));
    }
    let mut em = Emitter {
        scope,
        cx,
        refs: Vec::new(),
    };
    let (text, _) = em.emit(&ast)?;
    let mut refs = em.refs;
    refs.sort();
    refs.dedup();
    Ok(Translated { text, refs })
}

/// The XLSForm names an expression mentions as `${name}`, whether or not
/// it translates: for cycle detection, which must see every dependency.
pub fn references(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else { break };
        out.push(after[..end].trim().to_string());
        rest = &after[end..];
    }
    out
}

/// Translates a label's `${name}` references into vicor fills `{id}`, and
/// doubles literal braces. Unknown names and roster items out of reach are
/// errors (listed by the importer), each with its reason.
pub fn label(source: &str, scope: &Scope, rosters: &[String]) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut errors = Vec::new();
    let mut rest = source;
    loop {
        let next = rest.find(['$', '{', '}']);
        let Some(i) = next else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..i]);
        let c = rest.as_bytes()[i];
        if c == b'$' && rest[i..].starts_with("${") {
            let after = &rest[i + 2..];
            if let Some(end) = after.find('}') {
                let name = after[..end].trim();
                match reference(scope, name, rosters) {
                    Ok(q) => {
                        out.push('{');
                        out.push_str(&q.id);
                        out.push('}');
                    }
                    Err(e) => {
                        errors.push(e);
                        out.push_str(name);
                    }
                }
                rest = &after[end + 1..];
                continue;
            }
        }
        match c {
            b'{' => out.push_str("{{"),
            b'}' => out.push_str("}}"),
            _ => out.push('$'),
        }
        rest = &rest[i + 1..];
    }
    (out, errors)
}

/// Looks up `${name}` and checks it can be read from `rosters`: a question
/// inside a repeat is visible only inside that repeat.
fn reference<'s>(scope: &'s Scope, name: &str, rosters: &[String]) -> Result<&'s Question, String> {
    let Some(q) = scope.questions.get(name) else {
        if let Some(why) = scope.dropped.get(name) {
            return Err(format!("`${{{name}}}` is left out: {why}"));
        }
        return Err(format!("`${{{name}}}` is not a question of this form"));
    };
    if !rosters.starts_with(&q.rosters) {
        let inner = q.rosters.last().map(String::as_str).unwrap_or("");
        return Err(format!(
            "`${{{name}}}` is inside repeat `{inner}` and is read from outside it; use sum(), count(), min() or max() over it"
        ));
    }
    Ok(q)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ref(String),
    Dot,
    Num(String),
    Str(String),
    Name(String),
    Op(&'static str),
}

impl Token {
    fn show(&self) -> String {
        match self {
            Token::Ref(n) => format!("${{{n}}}"),
            Token::Dot => ".".into(),
            Token::Num(n) => n.clone(),
            Token::Str(s) => format!("'{s}'"),
            Token::Name(n) => n.clone(),
            Token::Op(o) => (*o).into(),
        }
    }
}

fn lex(src: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '$' && chars.get(i + 1) == Some(&'{') {
            let start = i + 2;
            let Some(len) = chars[start..].iter().position(|&c| c == '}') else {
                return Err("a `${` is not closed with `}`".into());
            };
            out.push(Token::Ref(
                chars[start..start + len]
                    .iter()
                    .collect::<String>()
                    .trim()
                    .into(),
            ));
            i = start + len + 1;
            continue;
        }
        if c == '\'' || c == '"' {
            let start = i + 1;
            let Some(len) = chars[start..].iter().position(|&x| x == c) else {
                return Err(format!("a text started with {c} is not closed"));
            };
            out.push(Token::Str(chars[start..start + len].iter().collect()));
            i = start + len + 1;
            continue;
        }
        let next_digit = chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if c.is_ascii_digit() || (c == '.' && next_digit) {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let mut n: String = chars[start..i].iter().collect();
            if n.starts_with('.') {
                n.insert(0, '0');
            }
            if n.matches('.').count() > 1 || n.ends_with('.') {
                return Err(format!("`{n}` is not a number"));
            }
            out.push(Token::Num(n));
            continue;
        }
        if c == '.' {
            if chars.get(i + 1) == Some(&'.') {
                return Err(
                    "`..` (the parent group) has no equivalent; name the question with ${name}"
                        .into(),
                );
            }
            out.push(Token::Dot);
            i += 1;
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '/' {
            let start = i;
            // XPath names may hold `-`, `:` (jr:choice-name) and `/` (paths).
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '-' | ':' | '/' | '.'))
            {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            if name.contains('/') {
                return Err(format!(
                    "the path `{name}` has no equivalent; name the question with ${{name}}"
                ));
            }
            out.push(Token::Name(name));
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let op: &'static str = match two.as_str() {
            "!=" => "!=",
            "<=" => "<=",
            ">=" => ">=",
            _ => match c {
                '=' => "=",
                '<' => "<",
                '>' => ">",
                '+' => "+",
                '-' => "-",
                '*' => "*",
                '(' => "(",
                ')' => ")",
                ',' => ",",
                '|' => return Err("`|` (a union of node sets) has no equivalent".into()),
                '[' | ']' => {
                    return Err("`[...]` (a predicate on a node set) has no equivalent".into());
                }
                _ => return Err(format!("unexpected character `{c}`")),
            },
        };
        i += op.len();
        out.push(Token::Op(op));
    }
    Ok(out)
}

/// The XPath syntax tree, before types are known.
#[derive(Debug, Clone, PartialEq)]
enum Ast {
    Num(String),
    Str(String),
    Ref(String),
    Dot,
    Bare(String),
    Call(String, Vec<Ast>),
    Binary(&'static str, Box<Ast>, Box<Ast>),
    Neg(Box<Ast>),
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

/// XPath's binary operators by binding, loosest first.
const LEVELS: &[&[&str]] = &[
    &["or"],
    &["and"],
    &["=", "!="],
    &["<", "<=", ">", ">="],
    &["+", "-"],
    &["*", "div", "mod"],
];

impl Parser {
    fn peek_op(&self, level: usize) -> Option<&'static str> {
        let t = self.tokens.get(self.pos)?;
        LEVELS[level].iter().copied().find(|op| match t {
            Token::Op(o) => o == op,
            Token::Name(n) => n == op,
            _ => false,
        })
    }

    fn expr(&mut self) -> Result<Ast, String> {
        self.level(0)
    }

    fn level(&mut self, level: usize) -> Result<Ast, String> {
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.level(level + 1)?;
        while let Some(op) = self.peek_op(level) {
            self.pos += 1;
            let right = self.level(level + 1)?;
            left = Ast::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Ast, String> {
        if self.tokens.get(self.pos) == Some(&Token::Op("-")) {
            self.pos += 1;
            return Ok(Ast::Neg(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Ast, String> {
        let Some(t) = self.tokens.get(self.pos).cloned() else {
            return Err("the expression ends too early".into());
        };
        self.pos += 1;
        match t {
            Token::Num(n) => Ok(Ast::Num(n)),
            Token::Str(s) => Ok(Ast::Str(s)),
            Token::Ref(r) => Ok(Ast::Ref(r)),
            Token::Dot => Ok(Ast::Dot),
            Token::Op("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Token::Name(name) => {
                if self.tokens.get(self.pos) != Some(&Token::Op("(")) {
                    return Ok(Ast::Bare(name));
                }
                self.pos += 1;
                let mut args = Vec::new();
                if self.tokens.get(self.pos) == Some(&Token::Op(")")) {
                    self.pos += 1;
                    return Ok(Ast::Call(name, args));
                }
                loop {
                    args.push(self.expr()?);
                    match self.tokens.get(self.pos) {
                        Some(Token::Op(",")) => self.pos += 1,
                        Some(Token::Op(")")) => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(format!("`{name}(` is not closed with `)`")),
                    }
                }
                Ok(Ast::Call(name, args))
            }
            other => Err(format!("unexpected `{}`", other.show())),
        }
    }

    fn expect(&mut self, op: &str) -> Result<(), String> {
        match self.tokens.get(self.pos) {
            Some(Token::Op(o)) if *o == op => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(format!("a `{op}` is missing")),
        }
    }
}

/// The type of an emitted piece, as far as translation needs it.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Number,
    Text,
    Bool,
    Date,
    Single(String),
    Multiple(String),
    /// A quoted literal not yet given a meaning: a choice name, a number
    /// written in quotes, a date, or plain text.
    Literal(String),
    /// A `calculate` (untyped in XLSForm) or anything else.
    Any,
    Roster,
}

/// vicor's binding strength of what was emitted, to add parentheses only
/// where they are needed.
const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const CMP: u8 = 4;
const ADD: u8 = 5;
const MUL: u8 = 6;
const ATOM: u8 = 9;

struct Emitter<'a> {
    scope: &'a Scope,
    cx: &'a Context<'a>,
    refs: Vec<String>,
}

/// An emitted piece: text, its binding strength and its type.
type Piece = (String, u8, Ty);

impl Emitter<'_> {
    fn emit(&mut self, ast: &Ast) -> Result<(String, Ty), String> {
        let (text, _, ty) = self.piece(ast)?;
        let text = match ty {
            Ty::Literal(s) => quote(&s),
            _ => text,
        };
        Ok((text, Ty::Any))
    }

    fn question(&mut self, name: &str) -> Result<Piece, String> {
        let q = reference(self.scope, name, self.cx.rosters)?;
        self.refs.push(name.to_string());
        let ty = match &q.kind {
            Kind::Single(l) => Ty::Single(l.clone()),
            Kind::Multiple(l) => Ty::Multiple(l.clone()),
            Kind::Number => Ty::Number,
            Kind::Text => Ty::Text,
            Kind::Date => Ty::Date,
            Kind::Calculated => Ty::Any,
            Kind::Repeat => Ty::Roster,
            Kind::NoValue => {
                return Err(format!(
                    "`${{{name}}}` is a note or a group and has no value"
                ));
            }
        };
        Ok((q.id.clone(), ATOM, ty))
    }

    fn piece(&mut self, ast: &Ast) -> Result<Piece, String> {
        match ast {
            Ast::Num(n) => Ok((n.clone(), ATOM, Ty::Number)),
            Ast::Str(s) => Ok((quote(s), ATOM, Ty::Literal(s.clone()))),
            Ast::Ref(name) => self.question(name),
            Ast::Dot => match self.cx.current {
                Some(name) => self.question(name),
                None => Err("`.` (the current answer) is only meaningful in a constraint".into()),
            },
            Ast::Bare(name) => {
                if let Some(value) = self.cx.choice_columns.and_then(|c| c.get(name)) {
                    return Ok((quote(value), ATOM, Ty::Literal(value.clone())));
                }
                if self.cx.choice_columns.is_some() {
                    return Err(format!("`{name}` is not a column of the choices sheet"));
                }
                Err(format!(
                    "`{name}` is an XPath name; refer to a question as ${{{name}}}"
                ))
            }
            Ast::Neg(inner) => {
                let (t, p, _) = self.piece(inner)?;
                Ok((format!("-{}", wrap(t, p, MUL + 1)), MUL + 1, Ty::Number))
            }
            Ast::Binary(op, l, r) => self.binary(op, l, r),
            Ast::Call(name, args) => self.call(name, args),
        }
    }

    fn binary(&mut self, op: &str, l: &Ast, r: &Ast) -> Result<Piece, String> {
        let left = self.piece(l)?;
        let right = self.piece(r)?;
        match op {
            "or" | "and" => {
                let prec = if op == "or" { OR } else { AND };
                let (a, b) = (left, right);
                Ok((
                    format!("{} {op} {}", wrap(a.0, a.1, prec), wrap(b.0, b.1, prec + 1)),
                    prec,
                    Ty::Bool,
                ))
            }
            "=" | "!=" | "<" | "<=" | ">" | ">=" => self.compare(op, left, right),
            "+" | "-" | "*" | "div" => {
                let prec = if matches!(op, "+" | "-") { ADD } else { MUL };
                let vop = if op == "div" { "/" } else { op };
                let a = self.number(left)?;
                let b = self.number(right)?;
                Ok((
                    format!(
                        "{} {vop} {}",
                        wrap(a.0, a.1, prec),
                        wrap(b.0, b.1, prec + 1)
                    ),
                    prec,
                    Ty::Number,
                ))
            }
            "mod" => Err("`mod` has no equivalent in vicor's expression language".into()),
            other => Err(format!("the operator `{other}` has no equivalent")),
        }
    }

    fn number(&self, p: Piece) -> Result<Piece, String> {
        match &p.2 {
            Ty::Literal(s) if s.parse::<f64>().is_ok() => Ok((s.clone(), ATOM, Ty::Number)),
            Ty::Literal(s) => Err(format!("'{s}' is text and is used as a number")),
            Ty::Single(_) | Ty::Multiple(_) => Err(format!(
                "`{}` is a choice question and is used in arithmetic; vicor keeps codes as labels, not quantities",
                p.0
            )),
            _ => Ok(p),
        }
    }

    fn compare(&mut self, op: &str, left: Piece, right: Piece) -> Result<Piece, String> {
        let vop = if op == "=" { "==" } else { op };
        // `${x} = ''` and `${x} != ''`: whether the question has an answer.
        for (a, b) in [(&left, &right), (&right, &left)] {
            if b.2 == Ty::Literal(String::new()) && a.1 == ATOM && a.2 != Ty::Literal(String::new())
            {
                return match op {
                    "=" => Ok((format!("not answered({})", a.0), NOT, Ty::Bool)),
                    "!=" => Ok((format!("answered({})", a.0), ATOM, Ty::Bool)),
                    _ => Err("an empty text '' can only be compared with = or !=".into()),
                };
            }
        }
        let left = self.resolve(&left, &right)?;
        let right = self.resolve(&right, &left)?;
        if let Ty::Multiple(_) = left.2.clone() {
            return Err(format!(
                "`{}` is a select_multiple and is compared as a whole; use selected()",
                left.0
            ));
        }
        if let Ty::Multiple(_) = right.2.clone() {
            return Err(format!(
                "`{}` is a select_multiple and is compared as a whole; use selected()",
                right.0
            ));
        }
        Ok((
            format!(
                "{} {vop} {}",
                wrap(left.0, left.1, CMP + 1),
                wrap(right.0, right.1, CMP + 1)
            ),
            CMP,
            Ty::Bool,
        ))
    }

    /// Gives a quoted literal its meaning from what it is compared with:
    /// a choice name becomes its code, a number in quotes a number, a date
    /// in quotes a date.
    fn resolve(&self, lit: &Piece, other: &Piece) -> Result<Piece, String> {
        let Ty::Literal(s) = &lit.2 else {
            return Ok(lit.clone());
        };
        match &other.2 {
            Ty::Single(list) | Ty::Multiple(list) => {
                let code = self.code(list, s)?;
                Ok((code.to_string(), ATOM, Ty::Number))
            }
            Ty::Number | Ty::Any if s.parse::<f64>().is_ok() => Ok((s.clone(), ATOM, Ty::Number)),
            Ty::Date => match date_literal(s) {
                Some(d) => Ok((d, ATOM, Ty::Date)),
                None => Err(format!("'{s}' is not a date (YYYY-MM-DD)")),
            },
            _ => Ok((quote(s), ATOM, Ty::Text)),
        }
    }

    fn code(&self, list: &str, name: &str) -> Result<i64, String> {
        self.scope
            .lists
            .get(list)
            .and_then(|l| l.get(name))
            .copied()
            .ok_or_else(|| format!("'{name}' is not a choice of list `{list}`"))
    }

    fn call(&mut self, name: &str, args: &[Ast]) -> Result<Piece, String> {
        let arity = |n: usize| -> Result<(), String> {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!(
                    "`{name}()` takes {n} argument(s), found {}",
                    args.len()
                ))
            }
        };
        match name {
            "selected" => {
                arity(2)?;
                let q = self.piece(&args[0])?;
                let v = self.piece(&args[1])?;
                let code = match &v.2 {
                    Ty::Literal(s) => s.clone(),
                    Ty::Number => v.0.clone(),
                    _ => {
                        return Err(
                            "selected() with a value that is not a fixed choice name has no equivalent"
                                .into(),
                        );
                    }
                };
                match &q.2 {
                    Ty::Multiple(list) => {
                        let c = self.code(list, &code)?;
                        Ok((format!("selected({}, {c})", q.0), ATOM, Ty::Bool))
                    }
                    // ODK allows selected() on a select_one: it is equality.
                    Ty::Single(list) => {
                        let c = self.code(list, &code)?;
                        Ok((format!("{} == {c}", q.0), CMP, Ty::Bool))
                    }
                    _ => Err(format!(
                        "selected() needs a select question, found `{}`",
                        q.0
                    )),
                }
            }
            "count-selected" => {
                arity(1)?;
                let q = self.piece(&args[0])?;
                match q.2 {
                    Ty::Multiple(_) => Ok((format!("count_selected({})", q.0), ATOM, Ty::Number)),
                    _ => Err(format!(
                        "count-selected() needs a select_multiple, found `{}`",
                        q.0
                    )),
                }
            }
            "not" => {
                arity(1)?;
                let a = self.piece(&args[0])?;
                Ok((format!("not {}", wrap(a.0, a.1, NOT)), NOT, Ty::Bool))
            }
            "true" | "false" => {
                arity(0)?;
                Ok((name.to_string(), ATOM, Ty::Bool))
            }
            "today" => {
                arity(0)?;
                Ok(("today()".into(), ATOM, Ty::Date))
            }
            "date" => {
                arity(1)?;
                match &args[0] {
                    Ast::Str(s) => match date_literal(s) {
                        Some(d) => Ok((d, ATOM, Ty::Date)),
                        None => Err(format!("'{s}' is not a date (YYYY-MM-DD)")),
                    },
                    _ => {
                        Err("date() of anything but a fixed 'YYYY-MM-DD' has no equivalent".into())
                    }
                }
            }
            "if" => {
                arity(3)?;
                let c = self.piece(&args[0])?;
                let mut a = self.piece(&args[1])?;
                let mut b = self.piece(&args[2])?;
                // Branches take their meaning from each other: if(c, 1, '2').
                a = self.resolve(&a, &b)?;
                b = self.resolve(&b, &a)?;
                let ty = a.2.clone();
                Ok((format!("if({}, {}, {})", c.0, a.0, b.0), ATOM, ty))
            }
            "count" => {
                arity(1)?;
                let r = self.piece(&args[0])?;
                match r.2 {
                    Ty::Roster => Ok((format!("count({})", r.0), ATOM, Ty::Number)),
                    _ => Err(format!("count() needs a repeat, found `{}`", r.0)),
                }
            }
            "sum" | "min" | "max" if args.len() == 1 => {
                // sum(${x}) over a question inside a repeat: an aggregate.
                let Ast::Ref(inner) = &args[0] else {
                    return Err(format!(
                        "{name}() of anything but a question in a repeat has no equivalent"
                    ));
                };
                let Some(q) = self.scope.questions.get(inner) else {
                    return Err(format!("`${{{inner}}}` is not a question of this form"));
                };
                let depth = self.cx.rosters.len();
                if q.rosters.len() != depth + 1 || !q.rosters.starts_with(self.cx.rosters) {
                    return Err(format!(
                        "{name}(${{{inner}}}) must be written just outside the repeat that holds `{inner}`"
                    ));
                }
                let roster = q.rosters[depth].clone();
                let id = q.id.clone();
                self.refs.push(inner.clone());
                Ok((format!("{name}({roster}, {id})"), ATOM, Ty::Number))
            }
            "min" | "max" if args.len() >= 2 => {
                let mut parts = Vec::new();
                for a in args {
                    let p = self.piece(a)?;
                    parts.push(self.number(p)?.0);
                }
                Ok((format!("{name}({})", parts.join(", ")), ATOM, Ty::Number))
            }
            "number"
            | "int"
            | "round"
            | "string-length"
            | "concat"
            | "substr"
            | "regex"
            | "coalesce"
            | "jr:choice-name"
            | "position"
            | "indexed-repeat"
            | "once"
            | "random"
            | "uuid"
            | "pulldata"
            | "format-date"
            | "decimal-date-time"
            | "now"
            | "boolean-from-string"
            | "string"
            | "contains"
            | "starts-with"
            | "ends-with"
            | "selected-at"
            | "join"
            | "translate"
            | "normalize-space"
            | "pow"
            | "log"
            | "abs"
            | "boolean"
            | "checklist"
            | "weighted-checklist"
            | "area"
            | "distance"
            | "digest"
            | "base64-decode"
            | "floor"
            | "ceiling"
            | "sin"
            | "cos"
            | "exp"
            | "sqrt"
            | "substring-before"
            | "substring-after"
            | "count-non-empty"
            | "max-min" => Err(format!(
                "`{name}()` has no equivalent in vicor's expression language"
            )),
            other => Err(format!("unknown function `{other}()`")),
        }
    }
}

/// Parenthesises `text` when it binds looser than `need`.
fn wrap(text: String, prec: u8, need: u8) -> String {
    if prec < need {
        format!("({text})")
    } else {
        text
    }
}

/// A vicor text literal.
fn quote(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `2025-03-01` → `@2025-03-01`, when it is a real date.
fn date_literal(s: &str) -> Option<String> {
    let d: jiff::civil::Date = s.trim().parse().ok()?;
    Some(format!("@{d}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scope() -> Scope {
        let mut s = Scope::default();
        let mut add = |name: &str, kind: Kind, rosters: &[&str]| {
            s.questions.insert(
                name.into(),
                Question {
                    id: name.to_lowercase(),
                    kind,
                    rosters: rosters.iter().map(|r| r.to_string()).collect(),
                },
            );
        };
        add("age", Kind::Number, &[]);
        add("name", Kind::Text, &[]);
        add("sex", Kind::Single("sex".into()), &[]);
        add("crimes", Kind::Multiple("crimes".into()), &[]);
        add("dob", Kind::Date, &[]);
        add("members", Kind::Repeat, &[]);
        add("m_age", Kind::Number, &["members"]);
        add("Q1", Kind::Number, &[]);
        s.lists.insert(
            "sex".into(),
            [("male".to_string(), 1), ("female".to_string(), 2)].into(),
        );
        s.lists.insert(
            "crimes".into(),
            [("theft".to_string(), 1), ("robbery".to_string(), 2)].into(),
        );
        s
    }

    fn tr(src: &str) -> Result<String, String> {
        let cx = Context {
            current: Some("age"),
            ..Context::default()
        };
        translate(src, &scope(), &cx).map(|t| t.text)
    }

    #[test]
    fn references_and_operators() {
        assert_eq!(tr("${age} >= 18").as_deref(), Ok("age >= 18"));
        assert_eq!(
            tr(". >= 0 and . <= 120").as_deref(),
            Ok("age >= 0 and age <= 120")
        );
        assert_eq!(tr("${age} div 2 > 1").as_deref(), Ok("age / 2 > 1"));
        assert_eq!(
            tr("${age} > 1 or ${age} < 0 and ${age} != 5").as_deref(),
            Ok("age > 1 or age < 0 and age != 5")
        );
        assert_eq!(
            tr("(${age} > 1 or ${age} < 0) and ${age} != 5").as_deref(),
            Ok("(age > 1 or age < 0) and age != 5")
        );
        assert_eq!(tr("${Q1} * (2 + 3)").as_deref(), Ok("q1 * (2 + 3)"));
        assert_eq!(tr("-${age} < .5").as_deref(), Ok("-age < 0.5"));
    }

    #[test]
    fn choice_names_become_codes() {
        assert_eq!(tr("${sex} = 'female'").as_deref(), Ok("sex == 2"));
        assert_eq!(tr("'male' != ${sex}").as_deref(), Ok("1 != sex"));
        assert_eq!(
            tr("selected(${crimes}, 'robbery')").as_deref(),
            Ok("selected(crimes, 2)")
        );
        assert_eq!(tr("selected(${sex}, 'male')").as_deref(), Ok("sex == 1"));
        assert_eq!(
            tr("count-selected(${crimes}) >= 2").as_deref(),
            Ok("count_selected(crimes) >= 2")
        );
        assert_eq!(
            tr("${sex} = 'other'"),
            Err("'other' is not a choice of list `sex`".into())
        );
    }

    #[test]
    fn empty_text_tests_whether_answered() {
        assert_eq!(tr("${name} != ''").as_deref(), Ok("answered(name)"));
        assert_eq!(tr("${name} = ''").as_deref(), Ok("not answered(name)"));
        assert_eq!(
            tr("not(${age} > 3) and ${name} = \"\"").as_deref(),
            Ok("not age > 3 and not answered(name)")
        );
    }

    #[test]
    fn functions_with_equivalents() {
        assert_eq!(
            tr("if(${age} > 17, 'adult', 'minor')").as_deref(),
            Ok("if(age > 17, 'adult', 'minor')")
        );
        assert_eq!(tr("${dob} <= today()").as_deref(), Ok("dob <= today()"));
        assert_eq!(
            tr("${dob} >= date('2020-01-31')").as_deref(),
            Ok("dob >= @2020-01-31")
        );
        assert_eq!(
            tr("${dob} >= '2020-01-31'").as_deref(),
            Ok("dob >= @2020-01-31")
        );
        assert_eq!(tr("count(${members})").as_deref(), Ok("count(members)"));
        assert_eq!(tr("sum(${m_age})").as_deref(), Ok("sum(members, m_age)"));
        assert_eq!(tr("max(${age}, 3)").as_deref(), Ok("max(age, 3)"));
        assert_eq!(tr("true()").as_deref(), Ok("true"));
        assert_eq!(tr("${age} = '12'").as_deref(), Ok("age == 12"));
    }

    #[test]
    fn what_has_no_equivalent_is_refused_with_a_reason() {
        assert_eq!(
            tr("string-length(${name}) > 2"),
            Err("`string-length()` has no equivalent in vicor's expression language".into())
        );
        assert_eq!(
            tr("${age} mod 2 = 0"),
            Err("`mod` has no equivalent in vicor's expression language".into())
        );
        assert!(tr("../age > 3").is_err());
        assert!(tr("/data/age > 3").unwrap_err().contains("path"));
        assert!(tr("${nope} = 1").unwrap_err().contains("not a question"));
        assert!(
            tr("${m_age} > 3")
                .unwrap_err()
                .contains("inside repeat `members`")
        );
        assert!(tr("${age} > ").unwrap_err().contains("too early"));
        assert!(
            tr("${crimes} = 'theft'")
                .unwrap_err()
                .contains("selected()")
        );
        assert!(tr("regex(., '[0-9]+')").is_err());
    }

    #[test]
    fn choice_filter_columns_stand_for_the_choice_row() {
        let cols: BTreeMap<String, String> = [
            ("name".to_string(), "robbery".to_string()),
            ("sex".to_string(), "female".to_string()),
        ]
        .into();
        let cx = Context {
            choice_columns: Some(&cols),
            ..Context::default()
        };
        let t = translate("sex = ${sex}", &scope(), &cx).expect("translates");
        assert_eq!(t.text, "2 == sex");
        let t = translate("selected(${crimes}, name)", &scope(), &cx).expect("translates");
        assert_eq!(t.text, "selected(crimes, 2)");
        assert_eq!(t.refs, vec!["crimes".to_string()]);
    }

    #[test]
    fn labels_get_fills_and_escaped_braces() {
        let (text, errs) = label("How old is ${name} {really}? $5", &scope(), &[]);
        assert_eq!(text, "How old is {name} {{really}}? $5");
        assert!(errs.is_empty());
        let (text, errs) = label("Age ${m_age}", &scope(), &[]);
        assert_eq!(text, "Age m_age");
        assert_eq!(errs.len(), 1);
        let (text, errs) = label("Age ${m_age}", &scope(), &["members".to_string()]);
        assert_eq!(text, "Age {m_age}");
        assert!(errs.is_empty());
    }

    proptest! {
        // Any reference to a known question translates to its vicor id, and
        // the references found are exactly the names written.
        #[test]
        fn references_round_trip(pick in prop::sample::select(vec!["age", "name", "dob", "Q1"]), n in 0i64..1000) {
            let src = format!("${{{pick}}} != {n} or ${{{pick}}} = {n}");
            let t = translate(&src, &scope(), &Context::default()).expect("translates");
            let id = pick.to_lowercase();
            prop_assert_eq!(t.text, format!("{id} != {n} or {id} == {n}"));
            prop_assert_eq!(t.refs, vec![pick.to_string()]);
            prop_assert_eq!(references(&src), vec![pick.to_string(), pick.to_string()]);
        }

        // The translator never panics, whatever a cell holds.
        #[test]
        fn arbitrary_cells_never_panic(src in ".{0,40}") {
            let _ = translate(&src, &scope(), &Context::default());
            let _ = label(&src, &scope(), &[]);
        }
    }
}
