//! `vicor validate`: one bad instrument per fault under
//! `tests/fixtures/instruments/bad/`, each with the exact place and message
//! it must produce, and hostile files that must fail cleanly.

use crate::util::{Dir, fixture, root, run, vicor};

/// (fixture, the first diagnostic line after the file name).
const BAD: &[(&str, &str)] = &[
    (
        "yaml_syntax",
        "12:11: error: invalid YAML: while parsing a flow mapping, did not find expected ',' or '}'",
    ),
    (
        "truncated",
        "12:16: error: invalid YAML: unclosed bracket '{'",
    ),
    ("unknown_key", "12:9: error: unknown key `rnage` in item"),
    (
        "wrong_type",
        "12:22: error: expected a number, found a string",
    ),
    ("unknown_type", "10:15: error: unknown item type `singel`"),
    ("duplicate_id", "12:13: error: item id `a` is already used"),
    ("unknown_item", "14:15: error: unknown item `agee`"),
    ("bad_fill", "11:28: error: unknown item `nme`"),
    (
        "expr_syntax",
        "12:19: error: expected a value, a name or `(`, found the end of the expression",
    ),
    (
        "type_error",
        "14:15: error: cannot compare text with a number",
    ),
    (
        "asked_later",
        "11:15: warning: `b` is asked later than this",
    ),
    (
        "computed_cycle",
        "9:13: error: computed variables depend on each other in a cycle: x → y → x",
    ),
    (
        "roster_scope",
        "18:15: error: `age` belongs to roster `members`",
    ),
    (
        "special_code_clash",
        "14:20: error: option code 98 is the export code of don't know",
    ),
    (
        "missing_translation",
        "11:15: error: question text has no `fr` translation",
    ),
    (
        "never_relevant",
        "11:15: error: this relevance `1 > 2` is a constant that is never true",
    ),
    ("unknown_outcome", "7:14: error: unknown outcome `refusd`"),
    (
        "iccs_unquoted",
        "12:15: error: an ICCS code written as a number loses its leading zeros",
    ),
    (
        "iccs_form",
        "13:66: error: `201` is not an ICCS code: a code has 2 digits (section), 4 (division), 5 (group) or 6 (class), such as \"05\", \"0501\", \"05012\"",
    ),
    (
        "outcome_not_condition",
        "6:11: error: an outcome rule must be a condition (true/false), but this is a single-choice answer",
    ),
];

#[test]
fn every_check_points_at_the_fault() {
    for (name, want) in BAD {
        let path = fixture(&format!("instruments/bad/{name}.yaml"));
        let out = run(vicor().arg("validate").arg(&path));
        let shown = path.display().to_string();
        let first = out.stderr.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            format!("{shown}:{want}"),
            "fixture {name}:\n{}",
            out.stderr
        );
        // Errors exit 1; a warning alone passes.
        let expected = if want.contains(": warning: ") { 0 } else { 1 };
        assert_eq!(out.code, expected, "fixture {name}:\n{}", out.stderr);
    }
}

#[test]
fn diagnostics_show_the_line_a_caret_and_help() {
    let path = fixture("instruments/bad/unknown_item.yaml");
    let out = run(vicor().arg("validate").arg(&path));
    let text = out.stderr.replace(&path.display().to_string(), "FILE");
    assert_eq!(
        text,
        "FILE:14:15: error: unknown item `agee`\n   |\n14 |         when: agee >= 18\n   |               ^^^^\n   = help: did you mean `age`?\n\n1 error(s), 0 warning(s) in 1 file(s)\n"
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let dir = Dir::new();
    let file = dir.write(
        "many.yaml",
        "id: many\nversion: \"1\"\ntitle: {en: M}\nlanguages: [en]\nsections:\n  - id: s\n    title: {en: S}\n    items:\n      - id: a\n        type: yesno\n        text: {en: A}\n        colour: red\n      - id: b\n        type: integer\n        text: {en: B}\n        when: zzz == 1\n        shape: round\n",
    );
    let out = run(vicor().arg("validate").arg(&file));
    out.assert_code(1);
    for want in [
        "12:9: error: unknown key `colour`",
        "17:9: error: unknown key `shape`",
        "16:15: error: unknown item `zzz`",
    ] {
        assert!(out.stderr.contains(want), "missing {want}:\n{}", out.stderr);
    }
}

#[test]
fn bundled_example_is_clean() {
    let out = run(vicor()
        .arg("validate")
        .arg(root().join("instruments/example.yaml")));
    out.assert_code(0);
    assert!(out.stdout.contains("0 warning(s)"), "{}", out.stdout);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn hostile_files_fail_cleanly() {
    let dir = Dir::new();
    let deep = format!("id: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..20 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let huge = format!("id: x\nversion: \"{}\"\n", "9".repeat(20 * 1024 * 1024));
    let cases = [
        ("deep.yaml", deep),
        ("bomb.yaml", bomb),
        ("huge.yaml", huge),
        ("empty.yaml", String::new()),
    ];
    for (name, text) in cases {
        let path = dir.write(name, &text);
        let out = run(vicor().arg("validate").arg(&path));
        assert_eq!(out.code, 1, "{name}: {}", out.stderr);
        assert!(out.stderr.contains(": error: "), "{name}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{name}: {}", out.stderr);
    }
    let binary = dir.join("latin1.yaml");
    std::fs::write(&binary, b"id: caf\xe9\n").expect("write");
    let out = run(vicor().arg("validate").arg(&binary));
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("1:8: error: the file is not valid UTF-8"),
        "{}",
        out.stderr
    );
    let missing = run(vicor().arg("validate").arg(dir.join("nope.yaml")));
    missing.assert_code(1);
    assert!(missing.stderr.contains("cannot read"), "{}", missing.stderr);
}
