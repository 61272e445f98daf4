use crate::util::{run, vicor};

#[test]
fn help_lists_every_command() {
    let out = run(vicor().arg("--help"));
    out.assert_code(0);
    for cmd in ["validate", "estimate", "replicate"] {
        assert!(
            out.stdout.contains(cmd),
            "help lacks {cmd}:\n{}",
            out.stdout
        );
    }
}

#[test]
fn unknown_command_is_a_usage_error() {
    let out = run(vicor().arg("frobnicate"));
    assert_eq!(
        out.code, 2,
        "clap reports usage errors with 2: {}",
        out.stderr
    );
    assert!(out.stderr.contains("frobnicate"));
}
