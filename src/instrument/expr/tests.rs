//! Tests across the phases: the examples of `docs/instrument-language.md`,
//! and property tests (printing round-trips, well-typed expressions
//! evaluate to a value of their type without panicking).

use jiff::civil::date;
use proptest::prelude::*;

use super::lexer::KEYWORDS;
use super::testenv::{TestEnv, doc_env};
use super::*;

const DOC: &str = include_str!("../../../docs/instrument-language.md");

/// The lines of every ```` ```expr ```` block of the language document.
fn doc_examples() -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in DOC.lines() {
        match line.trim() {
            "```expr" => inside = true,
            "```" => inside = false,
            l if inside && !l.is_empty() => out.push(l),
            _ => {}
        }
    }
    out
}

/// Runs one documented example `EXPR # => EXPECTED`, where EXPECTED is a
/// literal, `unknown`, or `error: MESSAGE` (the first error's message).
fn run_example(line: &str) -> Result<(), String> {
    let (src, expected) = line
        .split_once("# =>")
        .ok_or_else(|| format!("example without `# =>`: {line}"))?;
    let (src, expected) = (src.trim(), expected.trim());
    let env = doc_env();
    let checked = parse(src, 0).and_then(|e| check(&e, &env).map(|_| e));
    if let Some(message) = expected.strip_prefix("error:") {
        return match checked {
            Err(errs) if errs[0].to_string() == message.trim() => Ok(()),
            Err(errs) => Err(format!(
                "{src}: expected error `{}`, got {errs:?}",
                message.trim()
            )),
            Ok(_) => Err(format!("{src}: expected an error, but it checks")),
        };
    }
    let expr = checked.map_err(|errs| format!("{src}: {errs:?}"))?;
    let want = if expected == "unknown" {
        Value::UNKNOWN
    } else {
        let lit = parse(expected, 0).map_err(|e| format!("expected value {expected}: {e:?}"))?;
        eval(&lit, &TestEnv::default())
    };
    let got = eval(&expr, &env);
    if got == want {
        Ok(())
    } else {
        Err(format!("{src}: expected {want:?}, got {got:?}"))
    }
}

#[test]
fn documented_examples_hold() {
    let examples = doc_examples();
    assert!(
        examples.len() > 60,
        "found only {} examples",
        examples.len()
    );
    let failures: Vec<String> = examples
        .iter()
        .filter_map(|l| run_example(l).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_function_is_documented() {
    for name in functions::function_names() {
        assert!(
            DOC.contains(&format!("`{name}(")),
            "`{name}` is not in the function table"
        );
    }
}

#[test]
fn diagnostics_render_with_the_caret_in_the_file() {
    // The expression sits inside a YAML file, and the loader passes its offset.
    let yaml = "items:\n  - id: q2\n    relevant: resp_agee > 18 and sex = 1\n";
    let start = yaml.find("resp_agee").expect("in the fixture");
    let src = &yaml[start..yaml.len() - 1];
    let errs = parse(src, start).expect_err("`=` is not an operator");
    assert_eq!(errs.len(), 1);
    assert_eq!(&yaml[errs[0].span().start..errs[0].span().end], "=");
    let e = parse("resp_agee > 18 and sex == 1", start).expect("parses");
    let errs = check(&e, &doc_env()).expect_err("unknown item");
    assert_eq!(&yaml[errs[0].span().start..errs[0].span().end], "resp_agee");
    let report = miette::Report::new(errs[0].clone()).with_source_code(yaml.to_string());
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .render_report(&mut out, report.as_ref())
        .expect("renders to a string");
    insta::assert_snapshot!(out);
}

// ------------------------------------------------------- property tests

fn ident() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,6}".prop_filter("not a keyword", |s| !KEYWORDS.contains(&s.as_str()))
}

/// Mostly names of the random environment, sometimes anything.
fn item_name() -> impl Strategy<Value = String> {
    let known = [
        "b1", "i1", "i2", "d1", "t1", "dt1", "c1", "cs1", "r", "r_i", "r_b", "r_d",
    ];
    prop_oneof![
        3 => proptest::sample::select(known.to_vec()).prop_map(String::from),
        1 => ident(),
    ]
}

/// Mostly built-in functions, sometimes anything.
fn function_name() -> impl Strategy<Value = String> {
    let known: Vec<&str> = functions::function_names().collect();
    prop_oneof![
        3 => proptest::sample::select(known).prop_map(String::from),
        1 => ident(),
    ]
}

fn node(kind: ExprKind) -> Expr {
    Expr::new(kind, Span::default())
}

fn any_date() -> impl Strategy<Value = jiff::civil::Date> {
    (1000i16..=9999, 1i8..=12, 1i8..=28).prop_map(|(y, m, d)| date(y, m, d))
}

fn binary_ops() -> impl Strategy<Value = BinaryOp> {
    use BinaryOp::*;
    proptest::sample::select(vec![Or, And, Eq, Ne, Lt, Le, Gt, Ge, Add, Sub, Mul, Div])
}

/// Any tree the parser can produce (no type discipline).
fn any_expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        (0..=i64::MAX).prop_map(ExprKind::Int),
        (0i64..1000).prop_map(ExprKind::Int),
        // Full-precision decimals of sensible size: printed without an
        // exponent, 1e300 would take 300 digits and trip the length limit.
        (0u64..1 << 53, -20i32..20).prop_map(|(m, e)| ExprKind::Decimal(m as f64 * 10f64.powi(e))),
        (0u32..100_000).prop_map(|n| ExprKind::Decimal(f64::from(n) / 100.0)),
        any::<String>().prop_map(ExprKind::Text),
        any::<bool>().prop_map(ExprKind::Bool),
        any_date().prop_map(ExprKind::Date),
        item_name().prop_map(ExprKind::Name),
    ]
    .prop_map(node);
    leaf.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            (
                prop_oneof![Just(UnaryOp::Neg), Just(UnaryOp::Not)],
                inner.clone()
            )
                .prop_map(|(op, e)| node(ExprKind::Unary {
                    op,
                    operand: Box::new(e)
                })),
            (binary_ops(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| node(
                ExprKind::Binary {
                    op,
                    lhs: Box::new(l),
                    rhs: Box::new(r)
                }
            )),
            (
                inner.clone(),
                proptest::collection::vec(inner.clone(), 0..4)
            )
                .prop_map(|(v, list)| node(ExprKind::In {
                    value: Box::new(v),
                    list
                })),
            (function_name(), proptest::collection::vec(inner, 0..4)).prop_map(
                |(name, args)| node(ExprKind::Call {
                    name,
                    name_span: Span::default(),
                    args
                })
            ),
        ]
    })
}

fn name(n: &str) -> Expr {
    node(ExprKind::Name(n.to_string()))
}

fn call(f: &str, args: Vec<Expr>) -> Expr {
    node(ExprKind::Call {
        name: f.to_string(),
        name_span: Span::default(),
        args,
    })
}

fn bin(op: BinaryOp, l: Expr, r: Expr) -> Expr {
    node(ExprKind::Binary {
        op,
        lhs: Box::new(l),
        rhs: Box::new(r),
    })
}

fn un(op: UnaryOp, e: Expr) -> Expr {
    node(ExprKind::Unary {
        op,
        operand: Box::new(e),
    })
}

type Gen = BoxedStrategy<Expr>;

/// Names of the random environment, by type; `r_*` live in roster `r`.
fn names_of(ty: Type, in_row: bool) -> Vec<&'static str> {
    let (top, row): (&[&str], &[&str]) = match ty {
        Type::Bool => (&["b1"], &["r_b"]),
        Type::Int => (&["i1", "i2"], &["r_i"]),
        Type::Decimal => (&["d1"], &["r_d"]),
        Type::Text => (&["t1"], &[]),
        Type::Date => (&["dt1"], &[]),
        Type::Code => (&["c1"], &[]),
        Type::Codes => (&["cs1"], &[]),
    };
    let mut v = top.to_vec();
    if in_row {
        v.extend_from_slice(row);
    }
    v
}

fn leaf(ty: Type, in_row: bool) -> Gen {
    let names = proptest::sample::select(names_of(ty, in_row)).prop_map(name);
    let lit: Gen = match ty {
        Type::Bool => any::<bool>().prop_map(|b| node(ExprKind::Bool(b))).boxed(),
        Type::Int => prop_oneof![
            (0i64..100).prop_map(|n| node(ExprKind::Int(n))),
            (i64::MAX - 2..=i64::MAX).prop_map(|n| node(ExprKind::Int(n))),
        ]
        .boxed(),
        Type::Decimal => (0u32..10_000)
            .prop_map(|n| node(ExprKind::Decimal(f64::from(n) / 8.0)))
            .boxed(),
        Type::Text => "[a-c]{0,3}".prop_map(|s| node(ExprKind::Text(s))).boxed(),
        Type::Date => any_date().prop_map(|d| node(ExprKind::Date(d))).boxed(),
        Type::Code | Type::Codes => return names.boxed(),
    };
    prop_oneof![lit, names].boxed()
}

/// Well-typed expressions of type `ty`, `depth` levels deep at most.
fn typed(ty: Type, depth: u32, in_row: bool) -> Gen {
    use BinaryOp::*;
    if depth == 0 {
        return leaf(ty, in_row);
    }
    let d = depth - 1;
    let g = |t| typed(t, d, in_row);
    let row = |t| typed(t, d, true);
    let r = || Just(name("r"));
    let cond_if = |t| (g(Type::Bool), g(t), g(t)).prop_map(|(c, a, b)| call("if", vec![c, a, b]));
    match ty {
        Type::Bool => prop_oneof![
            leaf(ty, in_row),
            g(Type::Bool).prop_map(|e| un(UnaryOp::Not, e)),
            (
                proptest::sample::select(vec![And, Or]),
                g(Type::Bool),
                g(Type::Bool)
            )
                .prop_map(|(op, a, b)| bin(op, a, b)),
            (
                proptest::sample::select(vec![Eq, Ne, Lt, Le, Gt, Ge]),
                g(Type::Int),
                g(Type::Decimal)
            )
                .prop_map(|(op, a, b)| bin(op, a, b)),
            (g(Type::Text), g(Type::Text)).prop_map(|(a, b)| bin(Lt, a, b)),
            (g(Type::Date), g(Type::Date)).prop_map(|(a, b)| bin(Ge, a, b)),
            (g(Type::Code), g(Type::Int)).prop_map(|(a, b)| bin(Eq, a, b)),
            (g(Type::Code), proptest::collection::vec(g(Type::Int), 0..3)).prop_map(|(v, list)| {
                node(ExprKind::In {
                    value: Box::new(v),
                    list,
                })
            }),
            g(Type::Int).prop_map(|e| call("answered", vec![e])),
            g(Type::Code).prop_map(|e| call("is_dk", vec![e])),
            (g(Type::Codes), g(Type::Int)).prop_map(|(a, b)| call("selected", vec![a, b])),
            (r(), row(Type::Bool)).prop_map(|(r, c)| call("any", vec![r, c])),
            (r(), row(Type::Bool)).prop_map(|(r, c)| call("all", vec![r, c])),
            cond_if(Type::Bool),
        ]
        .boxed(),
        Type::Int => prop_oneof![
            leaf(ty, in_row),
            g(Type::Int).prop_map(|e| un(UnaryOp::Neg, e)),
            (
                proptest::sample::select(vec![Add, Sub, Mul]),
                g(Type::Int),
                g(Type::Int)
            )
                .prop_map(|(op, a, b)| bin(op, a, b)),
            r().prop_map(|r| call("count", vec![r])),
            (r(), row(Type::Bool)).prop_map(|(r, c)| call("count", vec![r, c])),
            (r(), row(Type::Int)).prop_map(|(r, e)| call("sum", vec![r, e])),
            (r(), row(Type::Int)).prop_map(|(r, e)| call("max", vec![r, e])),
            (g(Type::Int), g(Type::Int), g(Type::Int))
                .prop_map(|(a, b, c)| call("min", vec![a, b, c])),
            g(Type::Date).prop_map(|e| call("age", vec![e])),
            (g(Type::Date), g(Type::Date)).prop_map(|(a, b)| call("months_between", vec![a, b])),
            g(Type::Codes).prop_map(|e| call("count_selected", vec![e])),
            cond_if(Type::Int),
        ]
        .boxed(),
        Type::Decimal => prop_oneof![
            leaf(ty, in_row),
            (g(Type::Int), g(Type::Decimal)).prop_map(|(a, b)| bin(Div, a, b)),
            (
                proptest::sample::select(vec![Add, Sub, Mul]),
                g(Type::Decimal),
                g(Type::Int)
            )
                .prop_map(|(op, a, b)| bin(op, a, b)),
            g(Type::Decimal).prop_map(|e| un(UnaryOp::Neg, e)),
            (r(), row(Type::Decimal)).prop_map(|(r, e)| call("sum", vec![r, e])),
            (r(), row(Type::Decimal)).prop_map(|(r, e)| call("min", vec![r, e])),
            (g(Type::Decimal), g(Type::Int)).prop_map(|(a, b)| call("max", vec![a, b])),
            (g(Type::Bool), g(Type::Decimal), g(Type::Int))
                .prop_map(|(c, a, b)| call("if", vec![c, a, b])),
        ]
        .boxed(),
        Type::Text => prop_oneof![
            leaf(ty, in_row),
            (g(Type::Text), g(Type::Text)).prop_map(|(a, b)| bin(Add, a, b)),
            g(Type::Date).prop_map(|e| call("month_year", vec![e])),
            cond_if(Type::Text),
        ]
        .boxed(),
        Type::Date => prop_oneof![
            leaf(ty, in_row),
            Just(call("today", vec![])),
            g(Type::Int).prop_map(|e| call("ref_start", vec![e])),
            (g(Type::Date), g(Type::Date)).prop_map(|(a, b)| call("min", vec![a, b])),
            (r(), row(Type::Date)).prop_map(|(r, e)| call("max", vec![r, e])),
            cond_if(Type::Date),
        ]
        .boxed(),
        Type::Code | Type::Codes => leaf(ty, in_row),
    }
}

fn missing() -> impl Strategy<Value = Value> {
    proptest::sample::select(vec![
        Missing::DontKnow,
        Missing::Refused,
        Missing::Skipped,
        Missing::NotAsked,
        Missing::Unknown,
    ])
    .prop_map(Value::Missing)
}

fn value_of(ty: Type) -> BoxedStrategy<Value> {
    let v: BoxedStrategy<Value> = match ty {
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Int => prop_oneof![
            (-5i64..100).prop_map(Value::Int),
            any::<i64>().prop_map(Value::Int)
        ]
        .boxed(),
        Type::Decimal => prop_oneof![
            (-100i32..100).prop_map(|n| Value::Decimal(f64::from(n) / 4.0)),
            proptest::num::f64::NORMAL.prop_map(Value::Decimal),
        ]
        .boxed(),
        Type::Text => "[a-c]{0,3}".prop_map(Value::Text).boxed(),
        Type::Date => any_date().prop_map(Value::Date).boxed(),
        Type::Code => (1i64..4).prop_map(Value::Int).boxed(),
        Type::Codes => proptest::collection::vec(1i64..5, 0..4)
            .prop_map(Value::Codes)
            .boxed(),
    };
    prop_oneof![3 => v, 1 => missing()].boxed()
}

/// A random environment over the names of [`names_of`], with a roster `r`
/// of 0 to 3 rows and a random interview date.
fn random_env() -> impl Strategy<Value = TestEnv> {
    let tops = [
        ("b1", Type::Bool),
        ("i1", Type::Int),
        ("i2", Type::Int),
        ("d1", Type::Decimal),
        ("t1", Type::Text),
        ("dt1", Type::Date),
        ("c1", Type::Code),
        ("cs1", Type::Codes),
    ];
    let top_values: Vec<_> = tops.iter().map(|&(_, t)| value_of(t)).collect();
    let row = (
        value_of(Type::Bool),
        value_of(Type::Int),
        value_of(Type::Decimal),
    );
    (top_values, proptest::collection::vec(row, 0..4), any_date()).prop_map(
        move |(values, rows, today)| {
            let mut env = TestEnv {
                today,
                ..TestEnv::default()
            };
            for ((n, t), v) in tops.iter().zip(values) {
                env.set_typed(n, *t, v);
            }
            let (mut b, mut i, mut d) = (Vec::new(), Vec::new(), Vec::new());
            for (vb, vi, vd) in rows.iter().cloned() {
                b.push(vb);
                i.push(vi);
                d.push(vd);
            }
            env.roster(
                "r",
                rows.len(),
                &[
                    ("r_b", Type::Bool, b),
                    ("r_i", Type::Int, i),
                    ("r_d", Type::Decimal, d),
                ],
            );
            env
        },
    )
}

/// Whether `v` is a value of type `ty` (or missing). A whole number is a
/// valid decimal (it promotes), and a code is a whole number.
fn has_type(v: &Value, ty: Type) -> bool {
    matches!(
        (v, ty),
        (Value::Missing(_), _)
            | (Value::Bool(_), Type::Bool)
            | (Value::Int(_), Type::Int | Type::Decimal | Type::Code)
            | (Value::Decimal(_), Type::Decimal)
            | (Value::Text(_), Type::Text)
            | (Value::Date(_), Type::Date)
            | (Value::Codes(_), Type::Codes)
    )
}

/// A well-typed expression of any type, with its type. The strategies are
/// built once: building them is the costly part.
fn typed_any() -> impl Strategy<Value = (Type, Expr)> {
    let of = |t: Type| typed(t, 3, false).prop_map(move |e| (t, e));
    prop_oneof![
        of(Type::Bool),
        of(Type::Int),
        of(Type::Decimal),
        of(Type::Text),
        of(Type::Date)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn printing_then_parsing_gives_the_same_tree(e in any_expr()) {
        let text = e.to_string();
        let back = parse(&text, 0).map_err(|errs| TestCaseError::fail(format!("{text}: {errs:?}")))?;
        prop_assert_eq!(back.without_spans(), e, "printed as {}", text);
    }

    #[test]
    fn any_tree_that_checks_evaluates_to_its_type(e in any_expr(), env in random_env()) {
        let v = eval(&e, &env);
        prop_assert_eq!(&eval(&e, &env), &v, "evaluation is deterministic");
        if let Ok(ty) = check(&e, &env) {
            prop_assert!(has_type(&v, ty), "{} gave {:?}, not {:?}", e, v, ty);
        }
    }

    #[test]
    fn reference_spans_cover_the_names_in_the_file(e in any_expr(), offset in 0usize..1000) {
        let text = e.to_string();
        let file = format!("{}{text}", " ".repeat(offset));
        let parsed = parse(&text, offset).map_err(|errs| TestCaseError::fail(format!("{errs:?}")))?;
        prop_assert_eq!(parsed.span, Span::new(offset, file.len()));
        for (name, span) in references(&parsed) {
            prop_assert_eq!(&file[span.start..span.end], name.as_str());
        }
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(src in "[a-z0-9 ()\\[\\],.+*/<>=!@'\"-]{0,40}") {
        if let Ok(e) = parse(&src, 7) {
            // Whatever parses prints to text that parses to the same tree.
            let again = parse(&e.to_string(), 0).map_err(|errs| TestCaseError::fail(format!("{errs:?}")))?;
            prop_assert_eq!(again.without_spans(), e.without_spans());
            prop_assert!(e.span.start >= 7 && e.span.end <= 7 + src.len());
        }
    }

    #[test]
    fn well_typed_expressions_evaluate_to_their_type(
        (ty, e) in typed_any(),
        env in random_env(),
    ) {
        let text = e.to_string();
        prop_assert_eq!(check(&e, &env), Ok(ty), "{}", text);
        let v = eval(&e, &env);
        prop_assert!(has_type(&v, ty), "{} gave {:?}, not {:?}", text, v, ty);
        // The printed text means the same.
        let back = parse(&text, 0).map_err(|errs| TestCaseError::fail(format!("{errs:?}")))?;
        prop_assert_eq!(eval(&back, &env), v);
    }
}

/// The deepest expressions the parser accepts go through every phase on a
/// test thread's stack: the depth limit is what keeps them all safe.
#[test]
fn deepest_accepted_expressions_run_through_every_phase() {
    let env = doc_env();
    let depth = MAX_DEPTH - 1;
    let nested_if = format!("{}1{}", "if(victim, ".repeat(depth), ", 2)".repeat(depth));
    let negations = format!("{}resp_age", "-".repeat(depth));
    let nots = format!("{}victim", "not ".repeat(depth));
    let sums = format!(
        "count(members, any(members, all(members, {}member_age{} > 1)))",
        "(".repeat(depth - 5),
        ")".repeat(depth - 5)
    );
    for (src, want) in [
        (nested_if, Value::Int(1)),
        (negations, Value::Int(-34)),
        (nots, Value::Bool(false)),
        (sums, Value::Int(0)),
    ] {
        let e = parse(&src, 0).unwrap_or_else(|errs| panic!("{errs:?}"));
        assert!(check(&e, &env).is_ok(), "{src}");
        assert_eq!(eval(&e, &env), want, "{src}");
        let printed = e.to_string();
        assert_eq!(
            parse(&printed, 0).map(|p| p.without_spans()),
            Ok(e.without_spans())
        );
        assert!(!references(&e).is_empty());
    }
}

/// Every input quoted (after the colon) in the doc of an `ExprError` variant gives that
/// variant (the two limits, which need long inputs, are tested in the
/// parser).
#[test]
fn error_docs_give_inputs_that_trigger_them() {
    let source = include_str!("error.rs");
    let body = &source[source.find("pub enum ExprError").expect("the enum")..];
    let mut doc = String::new();
    let mut seen = Vec::new();
    for line in body.lines().map(str::trim) {
        if let Some(text) = line.strip_prefix("///") {
            doc.push_str(text);
            continue;
        }
        let Some(variant) = line
            .strip_suffix(" {")
            .filter(|v| v.chars().all(char::is_alphanumeric))
        else {
            continue;
        };
        // The inputs are the quoted snippets after the first colon.
        let examples = doc.split_once(':').map_or("", |(_, e)| e);
        let inputs: Vec<&str> = examples.split('`').skip(1).step_by(2).collect();
        if !matches!(variant, "TooDeep" | "TooLong") {
            assert!(!inputs.is_empty(), "{variant} has no example input");
        }
        for input in inputs {
            let errs = parse(input, 0)
                .and_then(|e| check(&e, &doc_env()).map(|_| Vec::new()))
                .unwrap_or_else(|errs| errs);
            let got = errs.first().map(|e| format!("{e:?}")).unwrap_or_default();
            assert!(
                got.starts_with(variant),
                "`{input}` gives {got:?}, not {variant}"
            );
        }
        seen.push(variant.to_string());
        doc.clear();
    }
    assert!(seen.len() >= 22, "parsed only {seen:?}");
}
