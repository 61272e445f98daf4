//! Load and check of the largest bundled instrument (target: under 20 ms),
//! and one engine step (an answer plus the re-walk) on it.

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};

/// The bundled instrument with the most text, modules included.
fn largest_instrument() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("instruments");
    let mut best = (0usize, dir.join("example.yaml"));
    for entry in std::fs::read_dir(&dir)
        .expect("instruments/ exists")
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let checked = vicor::instrument::validate(&path);
            let size: usize = checked.files.iter().map(|f| f.text.len()).sum();
            if size > best.0 {
                best = (size, path);
            }
        }
    }
    best.1
}

fn load_and_check(c: &mut Criterion) {
    let path = largest_instrument();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    c.bench_function(&format!("validate {name}"), |b| {
        b.iter(|| {
            let checked = vicor::instrument::validate(&path);
            assert!(!checked.has_errors());
            checked
        })
    });
}

criterion_group!(benches, load_and_check);
criterion_main!(benches);
