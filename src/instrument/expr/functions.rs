//! The built-in functions: one table of names and arities, and for each
//! function its type rule and its evaluation side by side.
//!
//! Aggregates (`count`, `sum`, `any`, `all`, `min`, `max`) take a roster id
//! first and evaluate their second argument once per row, in the row's
//! scope. `min` and `max` are aggregates when their first argument is a
//! roster, and plain variadic functions otherwise.
//!
//! Missing values: aggregates skip rows whose value is missing for `sum`,
//! `min` and `max` (unknown when rows exist but none has a value; `sum` of
//! no rows is 0); `any`/`all` are Kleene over rows; `count(r, c)` counts rows
//! where `c` is true. Scalar functions give unknown when an argument they
//! need is missing, except `answered`, `is_dk`, `is_rf` (which test it) and
//! `if` (which evaluates only the branch it takes).

use jiff::civil::Date;

use super::ast::{Expr, ExprKind, Span};
use super::error::{ExprError, did_you_mean};
use super::eval::{Env, Missing, Value, eval, kleene_and, kleene_or};
use super::types::{Checker, Lookup, Type, TypeEnv};

/// How deeply aggregates over rows may nest: `count(a, any(b, all(c, ...)))`
/// is three. Each level multiplies the work by the rows of its roster.
pub const MAX_AGGREGATE_DEPTH: usize = 3;

/// The built-in functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Function {
    Answered,
    IsDk,
    IsRf,
    Selected,
    CountSelected,
    Count,
    Sum,
    Any,
    All,
    Min,
    Max,
    Age,
    MonthsBetween,
    Today,
    RefStart,
    MonthYear,
    If,
}

/// One built-in: name, arity and how to write it.
struct Signature {
    name: &'static str,
    function: Function,
    min_args: usize,
    /// `None`: any number from `min_args` up.
    max_args: Option<usize>,
    /// The arity as said in messages.
    expected: &'static str,
    usage: &'static str,
}

const fn sig(
    name: &'static str,
    function: Function,
    (min_args, max_args): (usize, Option<usize>),
    expected: &'static str,
    usage: &'static str,
) -> Signature {
    Signature {
        name,
        function,
        min_args,
        max_args,
        expected,
        usage,
    }
}

/// Every function of the language: name, arity (least, most), the arity
/// as said in messages, and how to write it.
#[rustfmt::skip]
const FUNCTIONS: &[Signature] = &[
    sig("answered",       Function::Answered,      (1, Some(1)), "1",         "answered(item)"),
    sig("is_dk",          Function::IsDk,          (1, Some(1)), "1",         "is_dk(item)"),
    sig("is_rf",          Function::IsRf,          (1, Some(1)), "1",         "is_rf(item)"),
    sig("selected",       Function::Selected,      (2, Some(2)), "2",         "selected(item, code)"),
    sig("count_selected", Function::CountSelected, (1, Some(1)), "1",         "count_selected(item)"),
    sig("count",          Function::Count,         (1, Some(2)), "1 or 2",    "count(roster) or count(roster, condition)"),
    sig("sum",            Function::Sum,           (2, Some(2)), "2",         "sum(roster, expression)"),
    sig("any",            Function::Any,           (2, Some(2)), "2",         "any(roster, condition)"),
    sig("all",            Function::All,           (2, Some(2)), "2",         "all(roster, condition)"),
    sig("min",            Function::Min,           (2, None),    "2 or more", "min(roster, expression) or min(a, b, ...)"),
    sig("max",            Function::Max,           (2, None),    "2 or more", "max(roster, expression) or max(a, b, ...)"),
    sig("age",            Function::Age,           (1, Some(1)), "1",         "age(birth_date)"),
    sig("months_between", Function::MonthsBetween, (2, Some(2)), "2",         "months_between(from, to)"),
    sig("today",          Function::Today,         (0, Some(0)), "no",        "today()"),
    sig("ref_start",      Function::RefStart,      (1, Some(1)), "1",         "ref_start(months)"),
    sig("month_year",     Function::MonthYear,     (1, Some(1)), "1",         "month_year(date)"),
    sig("if",             Function::If,            (3, Some(3)), "3",         "if(condition, then, else)"),
];

/// The names of all functions, for documentation and suggestions.
pub fn function_names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|s| s.name)
}

fn signature(name: &str) -> Option<&'static Signature> {
    FUNCTIONS.iter().find(|s| s.name == name)
}

// ---------------------------------------------------------------- typing

/// Type rule of a call `name(args)` (`call` is the whole node).
pub(crate) fn check_call(
    ck: &mut Checker,
    name: &str,
    name_span: Span,
    args: &[Expr],
    call: &Expr,
    env: &dyn TypeEnv,
) -> Option<Type> {
    let Some(sig) = signature(name) else {
        let help = did_you_mean(
            name,
            function_names(),
            "see the list of functions in docs/instrument-language.md",
        );
        ck.errors.push(ExprError::UnknownFunction {
            name: name.to_string(),
            span: name_span,
            help,
        });
        return None;
    };
    let arity_ok = args.len() >= sig.min_args && sig.max_args.is_none_or(|max| args.len() <= max);
    if !arity_ok {
        ck.errors.push(ExprError::WrongArity {
            function: name.to_string(),
            expected: sig.expected,
            found: args.len(),
            usage: sig.usage,
            span: call.span,
        });
        return None;
    }
    // Each nested aggregate multiplies the work by the rows of its roster.
    let per_row = args.len() == 2
        && match sig.function {
            Function::Count | Function::Sum | Function::Any | Function::All => true,
            Function::Min | Function::Max => is_roster(&args[0], env),
            _ => false,
        };
    if !per_row {
        return check_args(ck, sig, args, call, env);
    }
    if ck.aggregate_depth >= MAX_AGGREGATE_DEPTH {
        ck.errors.push(ExprError::NestedAggregates {
            limit: MAX_AGGREGATE_DEPTH,
            span: call.span,
        });
        return None;
    }
    ck.aggregate_depth += 1;
    let ty = check_args(ck, sig, args, call, env);
    ck.aggregate_depth -= 1;
    ty
}

/// The type rule proper of each function, once its arity is right.
fn check_args(
    ck: &mut Checker,
    sig: &Signature,
    args: &[Expr],
    call: &Expr,
    env: &dyn TypeEnv,
) -> Option<Type> {
    let name = sig.name;
    let date = |t: Type| t == Type::Date;
    let numeric = |t: Type| t.is_numeric();
    match sig.function {
        Function::Answered | Function::IsDk | Function::IsRf => {
            ck.infer(&args[0], env);
            Some(Type::Bool)
        }
        Function::Selected => {
            ck.expect(
                &args[0],
                env,
                |t| t == Type::Codes,
                "a multiple-choice answer",
                &codes_help(name),
            );
            ck.expect(
                &args[1],
                env,
                |t| matches!(t, Type::Int | Type::Code),
                "a choice code",
                "write the code as a whole number",
            );
            Some(Type::Bool)
        }
        Function::CountSelected => {
            ck.expect(
                &args[0],
                env,
                |t| t == Type::Codes,
                "a multiple-choice answer",
                &codes_help(name),
            );
            Some(Type::Int)
        }
        Function::Count | Function::Sum | Function::Any | Function::All => {
            let row = roster_scope(ck, sig, &args[0], env)?;
            let Some(arg) = args.get(1) else {
                return Some(Type::Int);
            };
            match sig.function {
                Function::Sum => ck.expect(
                    arg,
                    &*row,
                    numeric,
                    "a number",
                    "sum adds numbers over the rows",
                ),
                Function::Count => {
                    ck.expect_bool(
                        arg,
                        &*row,
                        "count(roster, condition) counts the rows where the condition holds",
                    );
                    Some(Type::Int)
                }
                _ => {
                    ck.expect_bool(
                        arg,
                        &*row,
                        &format!("{name}(roster, condition) tests a condition on each row"),
                    );
                    Some(Type::Bool)
                }
            }
        }
        Function::Min | Function::Max => {
            if is_roster(&args[0], env) {
                if args.len() != 2 {
                    ck.errors.push(ExprError::WrongArity {
                        function: name.to_string(),
                        expected: "2",
                        found: args.len(),
                        usage: sig.usage,
                        span: call.span,
                    });
                    return None;
                }
                let row = roster_scope(ck, sig, &args[0], env)?;
                let ok = |t: Type| t.is_numeric() || t == Type::Date;
                return ck.expect(
                    &args[1],
                    &*row,
                    ok,
                    "a number or a date",
                    "min and max compare numbers or dates",
                );
            }
            scalar_extreme(ck, args, env)
        }
        Function::Age | Function::MonthYear => {
            ck.expect(
                &args[0],
                env,
                date,
                "a date",
                "write a date item or a literal such as @1990-06-01",
            );
            Some(if sig.function == Function::Age {
                Type::Int
            } else {
                Type::Text
            })
        }
        Function::MonthsBetween => {
            for arg in args {
                ck.expect(
                    arg,
                    env,
                    date,
                    "a date",
                    "months_between counts whole months between two dates",
                );
            }
            Some(Type::Int)
        }
        Function::Today => Some(Type::Date),
        Function::RefStart => {
            ck.expect(
                &args[0],
                env,
                |t| t == Type::Int,
                "a whole number of months",
                "write e.g. ref_start(12) for the last 12 months",
            );
            Some(Type::Date)
        }
        Function::If => {
            ck.expect_bool(&args[0], env, "the first argument of if() is the condition");
            let a = ck.infer(&args[1], env);
            let b = ck.infer(&args[2], env);
            let (a, b) = (a?, b?);
            let unified = unify(a, b);
            if unified.is_none() {
                ck.errors.push(ExprError::MixedTypes {
                    first: a,
                    second: b,
                    span: args[2].span,
                });
            }
            unified
        }
    }
}

fn codes_help(name: &str) -> String {
    format!("{name}() takes a multiple-choice item; for a single-choice item write `x == code`")
}

/// The common type of two branches: equal types, or numbers (Int with
/// Decimal is Decimal; a code with an integer is an integer).
fn unify(a: Type, b: Type) -> Option<Type> {
    match (a, b) {
        _ if a == b => Some(a),
        (Type::Int | Type::Code, Type::Int | Type::Code) => Some(Type::Int),
        (Type::Int | Type::Decimal | Type::Code, Type::Int | Type::Decimal | Type::Code) => {
            Some(Type::Decimal)
        }
        _ => None,
    }
}

fn is_roster(arg: &Expr, env: &dyn TypeEnv) -> bool {
    matches!(&arg.kind, ExprKind::Name(n) if env.lookup(n) == Lookup::Roster)
}

/// The row scope of the roster named by `arg`, or `None` after an error.
fn roster_scope<'e>(
    ck: &mut Checker,
    sig: &Signature,
    arg: &Expr,
    env: &'e dyn TypeEnv,
) -> Option<Box<dyn TypeEnv + 'e>> {
    let not_a_roster = || ExprError::NotARoster {
        function: sig.name.to_string(),
        span: arg.span,
    };
    let ExprKind::Name(roster) = &arg.kind else {
        ck.errors.push(not_a_roster());
        return None;
    };
    match env.lookup(roster) {
        Lookup::Roster => {}
        Lookup::NotFound => {
            ck.unknown_name(roster, arg, env);
            return None;
        }
        Lookup::OutOfScope { roster: outer } => {
            ck.errors.push(ExprError::OutOfScope {
                name: roster.clone(),
                roster: outer,
                span: arg.span,
            });
            return None;
        }
        Lookup::Value(_) => {
            ck.errors.push(not_a_roster());
            return None;
        }
    }
    let scope = env.enter_roster(roster);
    if scope.is_none() {
        ck.errors.push(not_a_roster());
    }
    scope
}

/// `min(a, b, ...)` / `max(a, b, ...)`: all numbers or all dates.
fn scalar_extreme(ck: &mut Checker, args: &[Expr], env: &dyn TypeEnv) -> Option<Type> {
    let ok = |t: Type| t.is_numeric() || t == Type::Date;
    let help = "min and max compare numbers or dates";
    let mut result: Option<Type> = None;
    let mut failed = false;
    for arg in args {
        let Some(t) = ck.expect(arg, env, ok, "a number or a date", help) else {
            failed = true;
            continue;
        };
        result = match result {
            None => Some(t),
            Some(r) => match unify(r, t) {
                Some(u) => Some(u),
                None => {
                    ck.errors.push(ExprError::MixedTypes {
                        first: r,
                        second: t,
                        span: arg.span,
                    });
                    failed = true;
                    Some(r)
                }
            },
        };
    }
    if failed { None } else { result }
}

// ------------------------------------------------------------ evaluation

/// Evaluates a call; unknown functions and wrong arities (which the
/// checker refuses) give unknown.
pub(crate) fn eval_call(name: &str, args: &[Expr], env: &dyn Env) -> Value {
    let Some(sig) = signature(name) else {
        return Value::UNKNOWN;
    };
    if args.len() < sig.min_args || sig.max_args.is_some_and(|max| args.len() > max) {
        return Value::UNKNOWN;
    }
    let arg = |i: usize| eval(&args[i], env);
    match sig.function {
        Function::Answered => Value::Bool(!arg(0).is_missing()),
        Function::IsDk => Value::Bool(arg(0) == Value::Missing(Missing::DontKnow)),
        Function::IsRf => Value::Bool(arg(0) == Value::Missing(Missing::Refused)),
        Function::Selected => match (arg(0), arg(1)) {
            (Value::Codes(codes), Value::Int(code)) => Value::Bool(codes.contains(&code)),
            _ => Value::UNKNOWN,
        },
        Function::CountSelected => match arg(0) {
            Value::Codes(codes) => {
                let mut codes = codes;
                codes.sort_unstable();
                codes.dedup();
                i64::try_from(codes.len()).map_or(Value::UNKNOWN, Value::Int)
            }
            _ => Value::UNKNOWN,
        },
        Function::Count => {
            let Some(roster) = roster_name(&args[0]) else {
                return Value::UNKNOWN;
            };
            let n = match args.get(1) {
                None => env.rows(roster),
                Some(cond) => per_row(env, roster, cond)
                    .filter(|v| v.truth() == Some(true))
                    .count(),
            };
            i64::try_from(n).map_or(Value::UNKNOWN, Value::Int)
        }
        Function::Sum => {
            let Some(roster) = roster_name(&args[0]) else {
                return Value::UNKNOWN;
            };
            sum(env.rows(roster), per_row(env, roster, &args[1]))
        }
        Function::Any | Function::All => {
            let Some(roster) = roster_name(&args[0]) else {
                return Value::UNKNOWN;
            };
            let any = sig.function == Function::Any;
            let mut acc = Some(!any);
            for v in per_row(env, roster, &args[1]) {
                acc = if any {
                    kleene_or(acc, v.truth())
                } else {
                    kleene_and(acc, v.truth())
                };
                if acc == Some(any) {
                    break;
                }
            }
            Value::from_truth(acc)
        }
        Function::Min | Function::Max => {
            let want = if sig.function == Function::Min {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            };
            // The checker knew whether the first argument is a roster; here
            // a roster is a name with rows. An empty roster takes the scalar
            // path, where its name (no value) makes the result unknown, as
            // the aggregate over no rows would be.
            let roster = roster_name(&args[0]).filter(|r| args.len() == 2 && env.rows(r) > 0);
            if let Some(roster) = roster {
                return extreme(
                    per_row(env, roster, &args[1]).filter(|v| !v.is_missing()),
                    want,
                );
            }
            let values: Vec<Value> = args.iter().map(|a| eval(a, env)).collect();
            if values.iter().any(Value::is_missing) {
                Value::UNKNOWN
            } else {
                extreme(values.into_iter(), want)
            }
        }
        Function::Age => match arg(0) {
            Value::Date(birth) => Value::Int(months_between(birth, env.today()) / 12),
            _ => Value::UNKNOWN,
        },
        Function::MonthsBetween => match (arg(0), arg(1)) {
            (Value::Date(a), Value::Date(b)) => Value::Int(months_between(a, b)),
            _ => Value::UNKNOWN,
        },
        Function::Today => Value::Date(env.today()),
        Function::RefStart => match arg(0) {
            Value::Int(months) => {
                months_before(env.today(), months).map_or(Value::UNKNOWN, Value::Date)
            }
            _ => Value::UNKNOWN,
        },
        Function::MonthYear => match arg(0) {
            Value::Date(d) => Value::Text(format!("{} {}", env.month_name(d.month()), d.year())),
            _ => Value::UNKNOWN,
        },
        Function::If => match arg(0).truth() {
            Some(true) => arg(1),
            Some(false) => arg(2),
            None => Value::UNKNOWN,
        },
    }
}

fn roster_name(arg: &Expr) -> Option<&str> {
    match &arg.kind {
        ExprKind::Name(n) => Some(n),
        _ => None,
    }
}

/// `expr` evaluated in each row of `roster`.
fn per_row<'a>(
    env: &'a dyn Env,
    roster: &'a str,
    expr: &'a Expr,
) -> impl Iterator<Item = Value> + 'a {
    (0..env.rows(roster)).map(move |i| eval(expr, &*env.row(roster, i)))
}

/// Sum of the answered values: an integer while every value is one and no
/// overflow happens, else a decimal. No rows: 0. Rows but none answered:
/// unknown.
fn sum(rows: usize, values: impl Iterator<Item = Value>) -> Value {
    let mut int: Option<i64> = Some(0);
    let mut dec = 0.0;
    let mut answered = 0usize;
    let mut decimal = false;
    for v in values {
        match v {
            Value::Int(n) => {
                int = int.and_then(|s| s.checked_add(n));
                dec += n as f64;
            }
            Value::Decimal(x) => {
                decimal = true;
                dec += x;
            }
            _ => continue,
        }
        answered += 1;
    }
    if rows > 0 && answered == 0 {
        return Value::UNKNOWN;
    }
    match (decimal, int) {
        (false, Some(n)) => Value::Int(n),
        (false, None) => Value::UNKNOWN,
        (true, _) if dec.is_finite() => Value::Decimal(dec),
        (true, _) => Value::UNKNOWN,
    }
}

/// The least (`want = Less`) or greatest value; unknown when there is none
/// or two values do not compare.
fn extreme(values: impl Iterator<Item = Value>, want: std::cmp::Ordering) -> Value {
    let mut best: Option<Value> = None;
    let mut decimal = false;
    for v in values {
        decimal |= matches!(v, Value::Decimal(_));
        best = match best {
            None => Some(v),
            Some(b) => match super::eval::compare(&v, &b) {
                Some(o) if o == want => Some(v),
                Some(_) => Some(b),
                None => return Value::UNKNOWN,
            },
        };
    }
    // Numbers mixed with decimals give a decimal, as the checker types it.
    match best {
        Some(Value::Int(n)) if decimal => Value::Decimal(n as f64),
        Some(v) => v,
        None => Value::UNKNOWN,
    }
}

/// Whole months from `from` to `to`, truncated toward zero: a month counts
/// once its day of the month is reached (31 January to 28 February is 0).
pub fn months_between(from: Date, to: Date) -> i64 {
    let index = |d: Date| i64::from(d.year()) * 12 + i64::from(d.month());
    let mut months = index(to) - index(from);
    if months > 0 && to.day() < from.day() {
        months -= 1;
    } else if months < 0 && to.day() > from.day() {
        months += 1;
    }
    months
}

/// The date `months` months before `today`, the day clamped to the end of
/// a shorter month (ref_start(1) on 31 March is 28 or 29 February).
pub fn months_before(today: Date, months: i64) -> Option<Date> {
    let index = i64::from(today.year()) * 12 + i64::from(today.month()) - 1;
    let target = index.checked_sub(months)?;
    let year = i16::try_from(target.div_euclid(12)).ok()?;
    let month = i8::try_from(target.rem_euclid(12) + 1).ok()?;
    let first = Date::new(year, month, 1).ok()?;
    Date::new(year, month, today.day().min(first.days_in_month())).ok()
}

#[cfg(test)]
mod tests {
    use super::super::testenv::doc_env;
    use super::super::{check, parse};
    use super::*;
    use jiff::civil::date;

    fn run(src: &str) -> Value {
        eval(&parse(src, 0).expect("parses"), &doc_env())
    }

    fn err(src: &str) -> ExprError {
        let e = parse(src, 0).expect("parses");
        let mut errs = check(&e, &doc_env()).expect_err("type error");
        assert_eq!(errs.len(), 1, "{src}: {errs:?}");
        errs.remove(0)
    }

    #[test]
    fn months_between_counts_whole_months() {
        assert_eq!(months_between(date(2025, 1, 15), date(2025, 3, 15)), 2);
        assert_eq!(months_between(date(2025, 1, 15), date(2025, 3, 14)), 1);
        assert_eq!(months_between(date(2025, 1, 31), date(2025, 2, 28)), 0);
        assert_eq!(months_between(date(2025, 3, 15), date(2025, 1, 15)), -2);
        assert_eq!(months_between(date(2025, 3, 14), date(2025, 1, 15)), -1);
        assert_eq!(months_between(date(2025, 3, 1), date(2025, 3, 31)), 0);
    }

    #[test]
    fn months_before_clamps_the_day() {
        assert_eq!(months_before(date(2025, 3, 31), 1), Some(date(2025, 2, 28)));
        assert_eq!(months_before(date(2024, 3, 31), 1), Some(date(2024, 2, 29)));
        assert_eq!(
            months_before(date(2025, 3, 15), 12),
            Some(date(2024, 3, 15))
        );
        assert_eq!(
            months_before(date(2025, 3, 15), 60),
            Some(date(2020, 3, 15))
        );
        assert_eq!(
            months_before(date(2025, 1, 10), -1),
            Some(date(2025, 2, 10))
        );
        assert_eq!(months_before(date(2025, 1, 10), i64::MAX), None);
        assert_eq!(months_before(date(2025, 1, 10), 12 * 20_000), None);
    }

    #[test]
    fn aggregates_over_rosters() {
        assert_eq!(run("count(members)"), Value::Int(3));
        assert_eq!(run("count(members, member_age >= 18)"), Value::Int(1));
        assert_eq!(run("sum(members, member_age)"), Value::Int(52));
        assert_eq!(run("min(members, member_age)"), Value::Int(12));
        assert_eq!(run("max(members, member_age)"), Value::Int(40));
        assert_eq!(run("any(members, member_age < 14)"), Value::Bool(true));
        assert_eq!(run("all(members, member_age < 14)"), Value::Bool(false));
        assert_eq!(run("all(members, member_age > 10)"), Value::UNKNOWN);
        assert_eq!(run("any(members, member_age > 50)"), Value::UNKNOWN);
        assert_eq!(run("sum(incidents, incident_cost)"), Value::Decimal(100.5));
        assert_eq!(run("count(members, member_age > resp_age)"), Value::Int(1));
    }

    #[test]
    fn aggregates_over_empty_and_unanswered_rosters() {
        assert_eq!(run("count(vehicles)"), Value::Int(0));
        assert_eq!(run("sum(vehicles, vehicle_value)"), Value::Int(0));
        assert_eq!(run("min(vehicles, vehicle_value)"), Value::UNKNOWN);
        assert_eq!(run("any(vehicles, vehicle_value > 1)"), Value::Bool(false));
        assert_eq!(run("all(vehicles, vehicle_value > 1)"), Value::Bool(true));
        assert_eq!(run("sum(incidents, incident_note_len)"), Value::UNKNOWN);
        assert_eq!(run("max(incidents, incident_note_len)"), Value::UNKNOWN);
    }

    #[test]
    fn scalar_functions() {
        assert_eq!(run("min(3, 1.5, 2)"), Value::Decimal(1.5));
        assert_eq!(run("max(3, 1, 2)"), Value::Int(3));
        assert_eq!(run("max(resp_age, times_victim)"), Value::UNKNOWN);
        assert_eq!(
            run("min(@2025-01-01, @2024-06-30)"),
            Value::Date(date(2024, 6, 30))
        );
        assert_eq!(run("selected(weapons, 3)"), Value::Bool(true));
        assert_eq!(run("selected(weapons, 2)"), Value::Bool(false));
        assert_eq!(run("count_selected(weapons)"), Value::Int(2));
        assert_eq!(run("age(birth_date)"), Value::Int(34));
        assert_eq!(run("age(@1990-03-15)"), Value::Int(35));
        assert_eq!(run("today()"), Value::Date(date(2025, 3, 15)));
        assert_eq!(run("ref_start(12)"), Value::Date(date(2024, 3, 15)));
        assert_eq!(
            run("month_year(ref_start(12))"),
            Value::Text("March 2024".into())
        );
        assert_eq!(
            run("if(resp_age >= 18, 'adult', 'minor')"),
            Value::Text("adult".into())
        );
        assert_eq!(run("if(is_dk(reported), 1, 2)"), Value::Int(1));
        assert_eq!(run("if(reported == 1, 1, 2)"), Value::UNKNOWN);
        assert_eq!(run("if(true, 1, 1 / 0)"), Value::Int(1));
        assert_eq!(run("months_between(@2024-11-20, today())"), Value::Int(3));
    }

    #[test]
    fn typing_of_calls() {
        use miette::Diagnostic;
        let table = [
            ("avg(members, member_age)", "unknown_function"),
            ("answered(sex, 1)", "wrong_arity"),
            ("today(1)", "wrong_arity"),
            ("min(members)", "wrong_arity"),
            ("sum(resp_age, resp_age)", "not_a_roster"),
            ("sum(1, resp_age)", "not_a_roster"),
            ("sum(membres, member_age)", "unknown_name"),
            ("sum(members, resp_age + member_agee)", "unknown_name"),
            ("sum(members, member_sex)", "type_mismatch"),
            ("count(members, member_age)", "type_mismatch"),
            ("selected(sex, 1)", "type_mismatch"),
            ("age(resp_age)", "type_mismatch"),
            ("if(true, 1, 'one')", "mixed_types"),
            ("min(1, @2025-01-01)", "mixed_types"),
        ];
        for (src, code) in table {
            let got = err(src).code().map(|c| c.to_string());
            assert_eq!(got, Some(format!("vicor::expr::{code}")), "{src}");
        }
        let e = err("summ(members, member_age)");
        assert!(
            matches!(e, ExprError::UnknownFunction { help, .. } if help == "did you mean `sum`?")
        );
        let nested = "count(members, any(members, all(members, any(members, member_age > 1))))";
        assert!(
            matches!(err(nested), ExprError::NestedAggregates { span, .. } if span.start == 41)
        );
        for (src, ty) in [
            (
                "count(members, any(members, all(members, count(members) > member_age)))",
                Type::Int,
            ),
            ("sum(members, member_age)", Type::Int),
            (
                "max(members, member_age) + max(resp_age, 2.5)",
                Type::Decimal,
            ),
            ("min(incidents, incident_cost)", Type::Decimal),
            ("if(victim, sex, 98)", Type::Int),
            ("if(victim, sex, sex)", Type::Code),
        ] {
            assert_eq!(
                check(&parse(src, 0).expect("parses"), &doc_env()),
                Ok(ty),
                "{src}"
            );
        }
    }

    #[test]
    fn wrong_arity_spans_the_call() {
        let e = parse("x or answered()", 10).expect("parses");
        let errs = check(&e, &doc_env()).expect_err("errors");
        assert_eq!(errs.last().map(ExprError::span), Some(Span::new(15, 25)));
    }
}
