//! Turning YAML files into an [`Instrument`], collecting every problem.
//!
//! The YAML tree (`yaml.rs`) keeps a span on every node; this module walks it
//! by hand instead of through serde derive so that an unknown key, a wrong
//! type or a bad expression is reported and the walk goes on. The result is
//! either a model plus warnings, or the full list of findings.
//!
//! The file format is specified in `docs/instrument-language.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::instrument::diag::{Diagnostic, offset_of};
use crate::instrument::expr;
use crate::instrument::model::*;
use crate::instrument::yaml::{self, ByteSpan, Node as YNode, Value as YValue};

/// Largest instrument file read, far above any real questionnaire.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// How deep modules may include other modules.
const MAX_INCLUDE_DEPTH: usize = 8;

/// What loading produced before the semantic checks: a model when the files
/// had the right shape, and every finding so far.
pub struct Loaded {
    pub instrument: Option<Instrument>,
    pub diagnostics: Vec<Diagnostic>,
    pub files: Vec<SourceFile>,
}

/// Reads an instrument and the modules it includes.
pub fn load_file(path: &Path) -> Loaded {
    let mut loader = Loader {
        files: Vec::new(),
        diags: Vec::new(),
        languages: Vec::new(),
    };
    let instrument = loader.main_file(path);
    Loaded {
        instrument,
        diagnostics: loader.diags,
        files: loader.files,
    }
}

/// Reads an instrument from text (tests, benchmarks); includes are resolved
/// against the current directory.
pub fn load_str(path: &str, text: &str) -> Loaded {
    let mut loader = Loader {
        files: Vec::new(),
        diags: Vec::new(),
        languages: Vec::new(),
    };
    loader.files.push(SourceFile {
        path: path.to_string(),
        text: text.to_string(),
    });
    let instrument = loader.parse_main(0, Path::new(path));
    Loaded {
        instrument,
        diagnostics: loader.diags,
        files: loader.files,
    }
}

struct Loader {
    files: Vec<SourceFile>,
    diags: Vec<Diagnostic>,
    languages: Vec<String>,
}

/// A mapping whose keys are checked against the ones a context accepts.
struct Fields<'a> {
    file: FileId,
    entries: BTreeMap<&'a str, (&'a YNode, &'a YNode)>,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a YNode> {
        self.entries.get(key).map(|(_, v)| *v)
    }

    fn has(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    fn key_origin(&self, key: &str) -> Option<Origin> {
        self.entries.get(key).map(|(k, _)| Origin {
            file: self.file,
            span: k.span,
        })
    }
}

fn origin(file: FileId, node: &YNode) -> Origin {
    Origin {
        file,
        span: node.span,
    }
}

fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
}

const ITEM_TYPES: &[&str] = &[
    "single", "multiple", "yesno", "integer", "decimal", "text", "date", "note", "computed",
    "random",
];

impl Loader {
    fn read(&mut self, path: &Path, from: Option<Origin>) -> Option<FileId> {
        let shown = path.display().to_string();
        let fail = |this: &mut Loader, message: String| {
            let origin = from.unwrap_or_default();
            if from.is_some() {
                this.diags.push(Diagnostic::error(
                    "vicor::instrument::read",
                    origin,
                    message,
                ));
            } else {
                // No file to point into: an empty pseudo file carries the name.
                this.files.push(SourceFile {
                    path: shown.clone(),
                    text: String::new(),
                });
                let file = this.files.len() - 1;
                this.diags.push(Diagnostic::error(
                    "vicor::instrument::read",
                    Origin {
                        file,
                        span: ByteSpan::default(),
                    },
                    message,
                ));
            }
        };
        match std::fs::metadata(path) {
            Ok(meta) if meta.len() > MAX_FILE_BYTES => {
                fail(
                    self,
                    format!("`{shown}` is larger than 8 MiB; an instrument file cannot be"),
                );
                return None;
            }
            Ok(meta) if meta.is_dir() => {
                fail(
                    self,
                    format!("`{shown}` is a directory, not an instrument file"),
                );
                return None;
            }
            Err(e) => {
                fail(self, format!("cannot read `{shown}`: {e}"));
                return None;
            }
            Ok(_) => {}
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                fail(self, format!("cannot read `{shown}`: {e}"));
                return None;
            }
        };
        match String::from_utf8(bytes) {
            Ok(text) => {
                self.files.push(SourceFile { path: shown, text });
                Some(self.files.len() - 1)
            }
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                self.files.push(SourceFile { path: shown, text });
                let file = self.files.len() - 1;
                self.diags.push(
                    Diagnostic::error(
                        "vicor::instrument::encoding",
                        Origin {
                            file,
                            span: ByteSpan {
                                start: at,
                                end: at + 1,
                            },
                        },
                        "the file is not valid UTF-8",
                    )
                    .with_help("save the file as UTF-8"),
                );
                None
            }
        }
    }

    fn main_file(&mut self, path: &Path) -> Option<Instrument> {
        let file = self.read(path, None)?;
        self.parse_main(file, path)
    }

    fn tree(&mut self, file: FileId) -> Option<YNode> {
        match yaml::parse(&self.files[file].text) {
            Ok(node) => Some(node),
            Err(e) => {
                let text = &self.files[file].text;
                let at = offset_of(text, e.line, e.column);
                self.diags.push(
                    Diagnostic::error(
                        "vicor::instrument::yaml",
                        Origin {
                            file,
                            span: ByteSpan {
                                start: at,
                                end: at + 1,
                            },
                        },
                        format!("invalid YAML: {}", e.message),
                    )
                    .with_help(
                        "fix the YAML syntax here; `vicor validate` checks the rest once it parses",
                    ),
                );
                None
            }
        }
    }

    fn parse_main(&mut self, file: FileId, path: &Path) -> Option<Instrument> {
        let root = self.tree(file)?;
        let fields = self.fields(
            file,
            &root,
            &[
                "id",
                "version",
                "title",
                "languages",
                "default_language",
                "special_codes",
                "sections",
                "outcomes",
            ],
            "instrument",
        )?;
        let id = self.required_id(file, &root, &fields, "instrument");
        let version = match fields.get("version") {
            Some(n) => match &n.value {
                YValue::Str(s) => s.clone(),
                YValue::Int(i) => i.to_string(),
                YValue::Float(f) => f.to_string(),
                other => {
                    self.wrong_type(file, n, "a version string such as \"1.0\"", other);
                    String::new()
                }
            },
            None => {
                self.missing(file, &root, "version", "instrument");
                String::new()
            }
        };
        self.languages = match fields.get("languages") {
            Some(n) => self.string_list(file, n, "language codes such as [en, fr]"),
            None => {
                self.missing(file, &root, "languages", "instrument");
                vec!["en".into()]
            }
        };
        if self.languages.is_empty() {
            self.languages.push("en".into());
        }
        let default_language = match fields.get("default_language") {
            Some(n) => {
                let lang = self.string(file, n, "a language code").unwrap_or_default();
                if !self.languages.contains(&lang) {
                    self.diags.push(Diagnostic::error(
                        "vicor::instrument::language",
                        origin(file, n),
                        format!("default language `{lang}` is not in `languages`"),
                    ));
                }
                lang
            }
            None => self.languages[0].clone(),
        };
        let title = match fields.get("title") {
            Some(n) => self.text(file, n),
            None => {
                self.missing(file, &root, "title", "instrument");
                Text::default()
            }
        };
        let special = match fields.get("special_codes") {
            Some(n) => self.special_codes(file, n),
            None => SpecialCodes::default(),
        };
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let sections = match fields.get("sections") {
            Some(n) => self.sections(file, n, &base, 0),
            None => {
                self.missing(file, &root, "sections", "instrument");
                Vec::new()
            }
        };
        let outcomes = match fields.get("outcomes") {
            Some(n) => self.outcomes(file, n),
            None => Vec::new(),
        };
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        for f in &self.files {
            fnv1a(&mut hash, f.text.as_bytes());
            fnv1a(&mut hash, &[0]);
        }
        Some(Instrument {
            id,
            version,
            title,
            languages: self.languages.clone(),
            default_language,
            special,
            sections,
            outcomes,
            files: self.files.clone(),
            hash: format!("{hash:016x}"),
        })
    }

    /// `outcomes:`, a list of `{when: CONDITION, outcome: CODE}`.
    fn outcomes(&mut self, file: FileId, node: &YNode) -> Vec<OutcomeRule> {
        let Some(entries) = self.seq(file, node, "a list of outcome rules") else {
            return Vec::new();
        };
        let mut rules = Vec::new();
        for entry in entries {
            let Some(f) = self.fields(file, entry, &["when", "outcome"], "outcome rule") else {
                continue;
            };
            let when = match f.get("when") {
                Some(n) => self.code(file, n),
                None => {
                    self.missing(file, entry, "when", "outcome rule");
                    None
                }
            };
            let outcome = match f.get("outcome") {
                Some(n) => match self.string(file, n, "an outcome code") {
                    Some(code) if OUTCOME_CODES.contains(&code.as_str()) => Some(code),
                    Some(code) => {
                        let hint = suggest(&code, &OUTCOME_CODES)
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| format!("use one of {}", OUTCOME_CODES.join(", ")));
                        self.diags.push(
                            Diagnostic::error(
                                "vicor::instrument::outcome",
                                origin(file, n),
                                format!("unknown outcome `{code}`"),
                            )
                            .with_help(hint),
                        );
                        None
                    }
                    None => None,
                },
                None => {
                    self.missing(file, entry, "outcome", "outcome rule");
                    None
                }
            };
            if let (Some(when), Some(outcome)) = (when, outcome) {
                rules.push(OutcomeRule {
                    when,
                    outcome,
                    origin: origin(file, entry),
                });
            }
        }
        rules
    }

    fn special_codes(&mut self, file: FileId, node: &YNode) -> SpecialCodes {
        let mut codes = SpecialCodes::default();
        let Some(f) = self.fields(file, node, &["dont_know", "refused"], "special_codes") else {
            return codes;
        };
        if let Some(n) = f.get("dont_know") {
            codes.dont_know = self.int(file, n).unwrap_or(codes.dont_know);
        }
        if let Some(n) = f.get("refused") {
            codes.refused = self.int(file, n).unwrap_or(codes.refused);
        }
        if codes.dont_know == codes.refused {
            self.diags.push(Diagnostic::error(
                "vicor::instrument::special_codes",
                origin(file, node),
                "don't know and refused have the same code",
            ));
        }
        codes
    }

    /// Sections of a file; `- include: path` entries splice a module's
    /// sections in at that place.
    fn sections(&mut self, file: FileId, node: &YNode, base: &Path, depth: usize) -> Vec<Section> {
        let Some(entries) = self.seq(file, node, "a list of sections") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries {
            let is_include = matches!(&entry.value, YValue::Map(m)
                if m.iter().any(|(k, _)| k.value == YValue::Str("include".into())));
            if is_include {
                out.extend(self.include(file, entry, base, depth));
            } else if let Some(section) = self.section(file, entry) {
                out.push(section);
            }
        }
        out
    }

    fn include(&mut self, file: FileId, node: &YNode, base: &Path, depth: usize) -> Vec<Section> {
        let Some(f) = self.fields(file, node, &["include"], "include") else {
            return Vec::new();
        };
        let Some(target) = f.get("include") else {
            return Vec::new();
        };
        let Some(rel) = self.string(file, target, "the path of a module file") else {
            return Vec::new();
        };
        let from = origin(file, target);
        if depth >= MAX_INCLUDE_DEPTH {
            self.diags.push(
                Diagnostic::error(
                    "vicor::instrument::include",
                    from,
                    "modules are included more than 8 levels deep",
                )
                .with_help("check for a module that includes itself"),
            );
            return Vec::new();
        }
        let path: PathBuf = base.join(&rel);
        let Some(module) = self.read(&path, Some(from)) else {
            return Vec::new();
        };
        let Some(root) = self.tree(module) else {
            return Vec::new();
        };
        let Some(mf) = self.fields(module, &root, &["module", "sections"], "module") else {
            return Vec::new();
        };
        if !mf.has("module") {
            self.missing(module, &root, "module", "module file");
        }
        let module_base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        match mf.get("sections") {
            Some(n) => self.sections(module, n, &module_base, depth + 1),
            None => {
                self.missing(module, &root, "sections", "module file");
                Vec::new()
            }
        }
    }

    fn section(&mut self, file: FileId, node: &YNode) -> Option<Section> {
        let f = self.fields(
            file,
            node,
            &["id", "title", "when", "self_completion", "items"],
            "section",
        )?;
        let id = self.required_id(file, node, &f, "section");
        let title = match f.get("title") {
            Some(n) => self.text(file, n),
            None => {
                self.missing(file, node, "title", "section");
                Text::default()
            }
        };
        let when = f.get("when").and_then(|n| self.code(file, n));
        let self_completion = f
            .get("self_completion")
            .and_then(|n| self.bool(file, n))
            .unwrap_or(false);
        let nodes = match f.get("items") {
            Some(n) => self.nodes(file, n),
            None => {
                self.missing(file, node, "items", "section");
                Vec::new()
            }
        };
        Some(Section {
            id,
            title,
            when,
            self_completion,
            nodes,
            origin: origin(file, node),
        })
    }

    fn nodes(&mut self, file: FileId, node: &YNode) -> Vec<Node> {
        let Some(entries) = self.seq(file, node, "a list of items") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries {
            let is_roster = matches!(&entry.value, YValue::Map(m)
                if m.iter().any(|(k, _)| k.value == YValue::Str("roster".into())));
            let parsed = if is_roster {
                self.roster(file, entry).map(Node::Roster)
            } else {
                self.item(file, entry).map(Node::Item)
            };
            out.extend(parsed);
        }
        out
    }

    fn roster(&mut self, file: FileId, node: &YNode) -> Option<Roster> {
        let f = self.fields(
            file,
            node,
            &[
                "roster",
                "title",
                "when",
                "count",
                "from",
                "fixed",
                "row_label",
                "items",
            ],
            "roster",
        )?;
        let id_node = f.get("roster")?;
        let id = self.identifier(file, id_node).unwrap_or_default();
        let title = match f.get("title") {
            Some(n) => self.text(file, n),
            None => {
                self.missing(file, node, "title", "roster");
                Text::default()
            }
        };
        let when = f.get("when").and_then(|n| self.code(file, n));
        let sources: Vec<&str> = ["count", "from", "fixed"]
            .into_iter()
            .filter(|k| f.has(k))
            .collect();
        let rows = match sources.as_slice() {
            ["count"] => f
                .get("count")
                .and_then(|n| self.code(file, n))
                .map(RosterRows::Count),
            ["from"] => {
                let n = f.get("from")?;
                self.identifier(file, n).map(|item| RosterRows::List {
                    item,
                    origin: origin(file, n),
                })
            }
            ["fixed"] => f
                .get("fixed")
                .map(|n| RosterRows::Fixed(self.choices(file, n))),
            [] => {
                self.diags.push(
                    Diagnostic::error(
                        "vicor::instrument::roster_rows",
                        origin(file, id_node),
                        format!("roster `{id}` does not say where its rows come from"),
                    )
                    .with_help("add `count: <expression>`, `from: <multiple-choice item>` or `fixed: [<options>]`"),
                );
                None
            }
            _ => {
                let second = f
                    .key_origin(sources[1])
                    .unwrap_or_else(|| origin(file, node));
                self.diags.push(
                    Diagnostic::error(
                        "vicor::instrument::roster_rows",
                        second,
                        format!("roster `{id}` has more than one of `count`, `from` and `fixed`"),
                    )
                    .with_help("keep one source of rows"),
                );
                None
            }
        };
        let row_label = f.get("row_label").map(|n| self.text(file, n));
        let nodes = match f.get("items") {
            Some(n) => self.nodes(file, n),
            None => {
                self.missing(file, node, "items", "roster");
                Vec::new()
            }
        };
        Some(Roster {
            id,
            title,
            when,
            rows: rows.unwrap_or(RosterRows::Fixed(Vec::new())),
            row_label,
            nodes,
            origin: origin(file, id_node),
        })
    }

    fn item(&mut self, file: FileId, node: &YNode) -> Option<Item> {
        let f = self.fields(
            file,
            node,
            &[
                "id",
                "type",
                "text",
                "instruction",
                "when",
                "options",
                "range",
                "max_length",
                "checks",
                "dk",
                "rf",
                "pii",
                "wording",
                "indicators",
                "iccs",
                "value",
                "select",
            ],
            "item",
        )?;
        let id = self.required_id(file, node, &f, "item");
        let id_origin = f
            .get("id")
            .map(|n| origin(file, n))
            .unwrap_or_else(|| origin(file, node));
        let Some(type_node) = f.get("type") else {
            self.diags.push(
                Diagnostic::error(
                    "vicor::instrument::missing_key",
                    id_origin,
                    format!("item `{id}` has no `type`"),
                )
                .with_help(format!("add `type:` with one of {}", ITEM_TYPES.join(", "))),
            );
            return None;
        };
        let type_name = self.string(file, type_node, "an item type")?;
        // Keys that only some kinds accept.
        let allowed: &[&str] = match type_name.as_str() {
            "single" | "multiple" => &["options"],
            "integer" | "decimal" | "date" => &["range"],
            "text" => &["max_length"],
            "computed" => &["value"],
            "random" => &["select"],
            _ => &[],
        };
        for key in ["options", "range", "max_length", "value", "select"] {
            if f.has(key) && !allowed.contains(&key) {
                let at = f.key_origin(key).unwrap_or(id_origin);
                self.diags.push(
                    Diagnostic::error(
                        "vicor::instrument::key_for_kind",
                        at,
                        format!("`{key}` does not apply to {type_name} items"),
                    )
                    .with_help("remove it, or change the item's type"),
                );
            }
        }
        let kind = match type_name.as_str() {
            "single" | "multiple" => {
                let options = match f.get("options") {
                    Some(n) => self.choices(file, n),
                    None => {
                        self.missing(file, node, "options", &format!("{type_name} item"));
                        Vec::new()
                    }
                };
                if type_name == "single" {
                    ItemKind::SingleChoice { options }
                } else {
                    ItemKind::MultipleChoice { options }
                }
            }
            "yesno" => ItemKind::YesNo,
            "integer" => ItemKind::Integer {
                range: self.range(file, f.get("range")),
            },
            "decimal" => ItemKind::Decimal {
                range: self.range(file, f.get("range")),
            },
            "text" => ItemKind::Text {
                max_length: f
                    .get("max_length")
                    .and_then(|n| self.int(file, n))
                    .map(|v| v.max(0) as usize),
            },
            "date" => ItemKind::Date {
                range: self.date_range(file, f.get("range")),
            },
            "note" => ItemKind::Note,
            "computed" => match f.get("value").and_then(|n| self.code(file, n)) {
                Some(value) => ItemKind::Computed { value },
                None => {
                    if !f.has("value") {
                        self.missing(file, node, "value", "computed item");
                    }
                    return None;
                }
            },
            "random" => match f.get("select") {
                Some(n) => ItemKind::Random(self.selection(file, n)?),
                None => {
                    self.missing(file, node, "select", "random item");
                    return None;
                }
            },
            other => {
                let hint = suggest(other, ITEM_TYPES)
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("use one of {}", ITEM_TYPES.join(", ")));
                self.diags.push(
                    Diagnostic::error(
                        "vicor::instrument::item_type",
                        origin(file, type_node),
                        format!("unknown item type `{other}`"),
                    )
                    .with_help(hint),
                );
                return None;
            }
        };
        let text = f.get("text").map(|n| self.text(file, n));
        if text.is_none() && !matches!(kind, ItemKind::Computed { .. } | ItemKind::Random(_)) {
            self.missing(file, node, "text", &format!("{} item", kind.name()));
        }
        let instruction = f.get("instruction").map(|n| self.text(file, n));
        let when = f.get("when").and_then(|n| self.code(file, n));
        let checks = f
            .get("checks")
            .map(|n| self.checks(file, n))
            .unwrap_or_default();
        let question = kind.is_question();
        let flag = |this: &mut Loader, key: &str, default: bool| {
            f.get(key)
                .and_then(|n| this.bool(file, n))
                .unwrap_or(default)
        };
        let allow_dont_know = flag(self, "dk", question);
        let allow_refused = flag(self, "rf", question);
        let pii = flag(self, "pii", false);
        let wording_adapted = match f.get("wording") {
            Some(n) => match self.string(file, n, "`adapted` or `official`").as_deref() {
                Some("adapted") => true,
                Some("official") => false,
                Some(other) => {
                    self.diags.push(
                        Diagnostic::error(
                            "vicor::instrument::wording",
                            origin(file, n),
                            format!("unknown wording status `{other}`"),
                        )
                        .with_help("use `adapted` (not the official text) or `official`"),
                    );
                    false
                }
                None => false,
            },
            None => false,
        };
        let indicators = f
            .get("indicators")
            .map(|n| self.string_list(file, n, "indicator codes such as [\"16.5.1\"]"))
            .unwrap_or_default();
        let iccs = f.get("iccs").and_then(|n| self.iccs(file, n));
        Some(Item {
            id,
            kind,
            text,
            instruction,
            when,
            checks,
            allow_dont_know,
            allow_refused,
            pii,
            wording_adapted,
            indicators,
            iccs,
            origin: id_origin,
        })
    }

    fn selection(&mut self, file: FileId, node: &YNode) -> Option<RandomSelection> {
        let f = self.fields(
            file,
            node,
            &[
                "from",
                "eligible",
                "method",
                "sex",
                "age",
                "male",
                "birth_date",
            ],
            "select",
        )?;
        let Some(from) = f.get("from") else {
            self.missing(file, node, "from", "select");
            return None;
        };
        let roster = self.identifier(file, from)?;
        let eligible = f.get("eligible").and_then(|n| self.code(file, n));
        let method_name = match f.get("method") {
            Some(n) => self.string(file, n, "a selection method")?,
            None => "uniform".to_string(),
        };
        let need = |this: &mut Loader, key: &str| -> Option<String> {
            match f.get(key) {
                Some(n) => this.identifier(file, n),
                None => {
                    this.missing(file, node, key, &format!("{method_name} selection"));
                    None
                }
            }
        };
        let method = match method_name.as_str() {
            "uniform" => SelectionMethod::Uniform,
            "kish" => {
                let sex = need(self, "sex");
                let age = need(self, "age");
                let male = f.get("male").and_then(|n| self.int(file, n)).unwrap_or(1);
                SelectionMethod::Kish {
                    sex: sex?,
                    age: age?,
                    male,
                }
            }
            "next_birthday" => SelectionMethod::NextBirthday {
                birth_date: need(self, "birth_date")?,
            },
            other => {
                let at = f
                    .get("method")
                    .map(|n| origin(file, n))
                    .unwrap_or_else(|| origin(file, node));
                self.diags.push(
                    Diagnostic::error(
                        "vicor::instrument::selection_method",
                        at,
                        format!("unknown selection method `{other}`"),
                    )
                    .with_help("use `uniform`, `kish` or `next_birthday`"),
                );
                return None;
            }
        };
        Some(RandomSelection {
            roster,
            eligible,
            method,
            origin: origin(file, from),
        })
    }

    fn checks(&mut self, file: FileId, node: &YNode) -> Vec<Check> {
        let Some(entries) = self.seq(file, node, "a list of checks") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries {
            let Some(f) = self.fields(
                file,
                entry,
                &["error", "warning", "critical", "message"],
                "check",
            ) else {
                continue;
            };
            let kinds: Vec<(Severity, &str)> = [
                (Severity::Error, "error"),
                (Severity::Warning, "warning"),
                (Severity::Critical, "critical"),
            ]
            .into_iter()
            .filter(|(_, k)| f.has(k))
            .collect();
            if kinds.len() != 1 {
                self.diags.push(
                    Diagnostic::error(
                        "vicor::instrument::check_kind",
                        origin(file, entry),
                        "a check needs exactly one of `error`, `warning` or `critical`",
                    )
                    .with_help("`error: <rule>` blocks, `warning: <rule>` asks for confirmation, `critical: <rule>` is checked at completion"),
                );
                continue;
            }
            let (severity, key) = kinds[0];
            let rule = f.get(key).and_then(|n| self.code(file, n));
            let message = match f.get("message") {
                Some(n) => self.text(file, n),
                None => {
                    self.missing(file, entry, "message", "check");
                    Text::default()
                }
            };
            if let Some(rule) = rule {
                out.push(Check {
                    severity,
                    rule,
                    message,
                });
            }
        }
        out
    }

    /// An `iccs:` code: a quoted string of digits (unquoted, `0401` would be
    /// the number 401 and lose its leading zero).
    fn iccs(&mut self, file: FileId, node: &YNode) -> Option<String> {
        let code = match &node.value {
            YValue::Str(s) => s.clone(),
            YValue::Int(_) | YValue::Float(_) => {
                self.diags.push(
                    Diagnostic::error(
                        "vicor::instrument::iccs",
                        origin(file, node),
                        "an ICCS code written as a number loses its leading zeros",
                    )
                    .with_help("quote it: `iccs: \"0401\"`"),
                );
                return None;
            }
            other => {
                self.wrong_type(file, node, "an ICCS code such as \"0401\"", other);
                return None;
            }
        };
        match crate::instrument::iccs::check_code(&code) {
            Ok(()) => Some(code),
            Err(message) => {
                self.diags.push(
                    Diagnostic::error("vicor::instrument::iccs", origin(file, node), message)
                        .with_help("see the ICCS (UNODC 2015): e.g. \"0201\" assaults and threats, \"0401\" robbery, \"0501\" burglary"),
                );
                None
            }
        }
    }

    fn choices(&mut self, file: FileId, node: &YNode) -> Vec<Choice> {
        let Some(entries) = self.seq(file, node, "a list of options") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries {
            let Some(f) = self.fields(file, entry, &["code", "label", "when", "iccs"], "option")
            else {
                continue;
            };
            let code = match f.get("code") {
                Some(n) => self.int(file, n),
                None => {
                    self.missing(file, entry, "code", "option");
                    None
                }
            };
            let label = match f.get("label") {
                Some(n) => self.text(file, n),
                None => {
                    self.missing(file, entry, "label", "option");
                    Text::default()
                }
            };
            let when = f.get("when").and_then(|n| self.code(file, n));
            let iccs = f.get("iccs").and_then(|n| self.iccs(file, n));
            if let Some(code) = code {
                let at = f
                    .get("code")
                    .map(|n| origin(file, n))
                    .unwrap_or_else(|| origin(file, entry));
                out.push(Choice {
                    code,
                    label,
                    when,
                    iccs,
                    origin: at,
                });
            }
        }
        out
    }

    fn range(&mut self, file: FileId, node: Option<&YNode>) -> Range {
        let Some(node) = node else {
            return Range::default();
        };
        let Some(f) = self.fields(file, node, &["min", "max"], "range") else {
            return Range::default();
        };
        let mut number = |key: &str| {
            f.get(key).and_then(|n| match n.value {
                YValue::Int(i) => Some(i as f64),
                YValue::Float(x) if x.is_finite() => Some(x),
                ref other => {
                    self.wrong_type(file, n, "a number", other);
                    None
                }
            })
        };
        let range = Range {
            min: number("min"),
            max: number("max"),
        };
        if let (Some(lo), Some(hi)) = (range.min, range.max)
            && lo > hi
        {
            self.diags.push(Diagnostic::error(
                "vicor::instrument::range",
                origin(file, node),
                format!("the range is empty: min {lo} is above max {hi}"),
            ));
        }
        range
    }

    fn date_range(&mut self, file: FileId, node: Option<&YNode>) -> DateRange {
        let Some(node) = node else {
            return DateRange::default();
        };
        let Some(f) = self.fields(file, node, &["min", "max"], "range") else {
            return DateRange::default();
        };
        DateRange {
            min: f.get("min").and_then(|n| self.code(file, n)),
            max: f.get("max").and_then(|n| self.code(file, n)),
        }
    }

    // ---- scalars and shapes ----

    fn fields<'n>(
        &mut self,
        file: FileId,
        node: &'n YNode,
        accepted: &[&str],
        context: &str,
    ) -> Option<Fields<'n>> {
        let YValue::Map(entries) = &node.value else {
            self.wrong_type(file, node, &format!("a mapping ({context})"), &node.value);
            return None;
        };
        let mut fields = Fields {
            file,
            entries: BTreeMap::new(),
        };
        for (k, v) in entries {
            let YValue::Str(key) = &k.value else {
                self.wrong_type(file, k, "a key name", &k.value);
                continue;
            };
            if !accepted.contains(&key.as_str()) {
                let help = match suggest(key, accepted) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("a {context} accepts: {}", accepted.join(", ")),
                };
                self.diags.push(
                    Diagnostic::error(
                        "vicor::instrument::unknown_key",
                        origin(file, k),
                        format!("unknown key `{key}` in {context}"),
                    )
                    .with_help(help),
                );
                continue;
            }
            if fields.entries.insert(key.as_str(), (k, v)).is_some() {
                self.diags.push(Diagnostic::error(
                    "vicor::instrument::duplicate_key",
                    origin(file, k),
                    format!("key `{key}` appears twice in this {context}"),
                ));
            }
        }
        Some(fields)
    }

    fn missing(&mut self, file: FileId, node: &YNode, key: &str, context: &str) {
        let mut at = origin(file, node);
        at.span.end = at.span.start + 1;
        self.diags.push(
            Diagnostic::error(
                "vicor::instrument::missing_key",
                at,
                format!("this {context} has no `{key}`"),
            )
            .with_help(format!("add `{key}:`")),
        );
    }

    fn wrong_type(&mut self, file: FileId, node: &YNode, want: &str, got: &YValue) {
        self.diags.push(Diagnostic::error(
            "vicor::instrument::wrong_type",
            origin(file, node),
            format!("expected {want}, found {}", got.describe()),
        ));
    }

    fn seq<'n>(&mut self, file: FileId, node: &'n YNode, want: &str) -> Option<&'n [YNode]> {
        match &node.value {
            YValue::Seq(items) => Some(items),
            other => {
                self.wrong_type(file, node, want, other);
                None
            }
        }
    }

    fn string(&mut self, file: FileId, node: &YNode, want: &str) -> Option<String> {
        match &node.value {
            YValue::Str(s) => Some(s.clone()),
            other => {
                self.wrong_type(file, node, want, other);
                None
            }
        }
    }

    fn string_list(&mut self, file: FileId, node: &YNode, want: &str) -> Vec<String> {
        let Some(items) = self.seq(file, node, want) else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|n| self.string(file, n, "a string"))
            .collect()
    }

    fn int(&mut self, file: FileId, node: &YNode) -> Option<i64> {
        match &node.value {
            YValue::Int(i) => Some(*i),
            other => {
                self.wrong_type(file, node, "an integer", other);
                None
            }
        }
    }

    fn bool(&mut self, file: FileId, node: &YNode) -> Option<bool> {
        match &node.value {
            YValue::Bool(b) => Some(*b),
            other => {
                self.wrong_type(file, node, "true or false", other);
                None
            }
        }
    }

    fn identifier(&mut self, file: FileId, node: &YNode) -> Option<String> {
        // YAML reads `y`, `no` or `on` as booleans; as an id the author
        // meant the word, which the source text still holds.
        let id = match &node.value {
            YValue::Bool(_) | YValue::Int(_) => {
                let text = &self.files[file].text;
                text.get(node.span.start..node.span.end.min(text.len()))
                    .unwrap_or("")
                    .trim()
                    .to_string()
            }
            _ => self.string(file, node, "an identifier")?,
        };
        let ok = id
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !RESERVED.contains(&id.as_str());
        if !ok {
            self.diags.push(
                Diagnostic::error(
                    "vicor::instrument::identifier",
                    origin(file, node),
                    format!("`{id}` is not a valid identifier"),
                )
                .with_help("use lower case letters, digits and `_`, starting with a letter (and not a keyword such as `and`, `or`, `not`, `in`, `true`, `false`)"),
            );
        }
        Some(id)
    }

    fn required_id(&mut self, file: FileId, node: &YNode, f: &Fields, context: &str) -> String {
        match f.get("id") {
            Some(n) => self.identifier(file, n).unwrap_or_default(),
            None => {
                self.missing(file, node, "id", context);
                String::new()
            }
        }
    }

    /// A text: a mapping language → string, or a plain string for an
    /// instrument with one language.
    fn text(&mut self, file: FileId, node: &YNode) -> Text {
        let mut text = Text {
            origin: origin(file, node),
            ..Text::default()
        };
        match &node.value {
            YValue::Str(_) | YValue::Bool(_) | YValue::Int(_) | YValue::Float(_) => {
                let s = self.scalar_text(file, node).unwrap_or_default();
                let lang = self
                    .languages
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "en".into());
                let fills = self.fills(file, node, &s);
                text.by_language.insert(lang.clone(), s);
                text.fills.insert(lang, fills);
            }
            YValue::Map(entries) => {
                for (k, v) in entries {
                    let YValue::Str(lang) = &k.value else {
                        self.wrong_type(file, k, "a language code", &k.value);
                        continue;
                    };
                    if !self.languages.contains(lang) {
                        self.diags.push(
                            Diagnostic::error(
                                "vicor::instrument::language",
                                origin(file, k),
                                format!("`{lang}` is not one of the instrument's languages"),
                            )
                            .with_help(format!(
                                "the instrument's languages are: {}",
                                self.languages.join(", ")
                            )),
                        );
                        continue;
                    }
                    let Some(s) = self.scalar_text(file, v) else {
                        self.wrong_type(file, v, "the text in this language", &v.value);
                        continue;
                    };
                    let fills = self.fills(file, v, &s);
                    text.by_language.insert(lang.clone(), s);
                    text.fills.insert(lang.clone(), fills);
                }
            }
            other => self.wrong_type(file, node, "a text (a string, or one per language)", other),
        }
        text
    }

    /// A scalar as the author wrote it. YAML reads an unquoted `No`, `Yes`,
    /// `On` or `2020` as a boolean or a number; in a text the author meant
    /// the words, which the source still holds.
    fn scalar_text(&self, file: FileId, node: &YNode) -> Option<String> {
        match &node.value {
            YValue::Str(s) => Some(s.clone()),
            YValue::Bool(_) | YValue::Int(_) | YValue::Float(_) => {
                let text = &self.files[file].text;
                text.get(node.span.start..node.span.end.min(text.len()))
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
            }
            _ => None,
        }
    }

    /// Finds `{expr}` fills in a text; `{{` and `}}` stand for braces.
    fn fills(&mut self, file: FileId, node: &YNode, s: &str) -> Vec<Fill> {
        if !s.contains('{') {
            return Vec::new();
        }
        let base = self.value_offset(file, node, s);
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'{' if bytes.get(i + 1) == Some(&b'{') => i += 2,
                b'}' if bytes.get(i + 1) == Some(&b'}') => i += 2,
                b'{' => {
                    let Some(close) = s[i + 1..].find('}') else {
                        self.diags.push(
                            Diagnostic::error(
                                "vicor::instrument::fill",
                                Origin {
                                    file,
                                    span: ByteSpan {
                                        start: base + i,
                                        end: base + i + 1,
                                    },
                                },
                                "this `{` opens a fill that is never closed",
                            )
                            .with_help("close it with `}`, or write `{{` for a literal brace"),
                        );
                        break;
                    };
                    let inner = &s[i + 1..i + 1 + close];
                    match expr::parse(inner, base + i + 1) {
                        Ok(e) => out.push(Fill {
                            start: i,
                            end: i + close + 2,
                            expr: e,
                        }),
                        Err(errors) => self.expr_errors(file, errors),
                    }
                    i += close + 2;
                }
                _ => i += 1,
            }
        }
        out
    }

    /// Byte offset in the file where a scalar's value text starts, so that
    /// expression spans point at the right characters.
    fn value_offset(&self, file: FileId, node: &YNode, value: &str) -> usize {
        let text = &self.files[file].text;
        let start = node.span.start.min(text.len());
        let end = node.span.end.clamp(start, text.len());
        let raw = text.get(start..end).unwrap_or("");
        // Most values stand as written, bare or just inside their quote.
        if raw.starts_with(value) {
            return start;
        }
        if (raw.starts_with('"') || raw.starts_with('\'')) && raw[1..].starts_with(value) {
            return start + 1;
        }
        if !value.is_empty()
            && let Some(i) = raw.find(value)
        {
            return start + i;
        }
        if raw.starts_with('"') || raw.starts_with('\'') {
            start + 1
        } else {
            start
        }
    }

    fn code(&mut self, file: FileId, node: &YNode) -> Option<Code> {
        let source = match &node.value {
            YValue::Str(s) => s.clone(),
            YValue::Bool(b) => b.to_string(),
            YValue::Int(i) => i.to_string(),
            other => {
                self.wrong_type(file, node, "an expression", other);
                return None;
            }
        };
        let offset = self.value_offset(file, node, &source);
        match expr::parse(&source, offset) {
            Ok(expr) => Some(Code {
                source,
                expr,
                origin: origin(file, node),
            }),
            Err(errors) => {
                self.expr_errors(file, errors);
                None
            }
        }
    }

    fn expr_errors(&mut self, file: FileId, errors: Vec<expr::ExprError>) {
        for e in errors {
            self.diags.push(expr_diagnostic(file, &e));
        }
    }
}

/// Words of the expression language that cannot name an item.
const RESERVED: &[&str] = &["and", "or", "not", "in", "true", "false", "if"];

/// A diagnostic from an expression error, keeping its code and help.
pub fn expr_diagnostic(file: FileId, e: &expr::ExprError) -> Diagnostic {
    use miette::Diagnostic as _;
    let span = e.span();
    let mut d = Diagnostic::error(
        "vicor::expr",
        Origin {
            file,
            span: ByteSpan {
                start: span.start,
                end: span.end,
            },
        },
        e.to_string(),
    );
    if let Some(help) = e.help() {
        d = d.with_help(help.to_string());
    }
    d
}

pub use crate::suggest::suggest;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquoted_yes_no_and_numbers_in_texts_are_the_words_written() {
        let text = "id: t\nversion: \"1\"\ntitle: {en: T, fr: T}\nlanguages: [en, fr]\nsections:\n  - id: s\n    title: {en: S, fr: S}\n    items:\n      - id: q\n        type: single\n        text: {en: Q?, fr: Q ?}\n        options:\n          - {code: 1, label: {en: Yes, fr: Oui}}\n          - {code: 2, label: {en: No, fr: Non}}\n          - {code: 3, label: {en: 2020, fr: 2020}}\n";
        let loaded = load_str("t.yaml", text);
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let inst = loaded.instrument.expect("loads");
        let Node::Item(item) = &inst.sections[0].nodes[0] else {
            panic!("an item");
        };
        let labels: Vec<&str> = item
            .kind
            .options()
            .iter()
            .map(|o| o.label.get("en"))
            .collect();
        assert_eq!(labels, ["Yes", "No", "2020"]);
    }

    #[test]
    fn a_mapping_is_still_not_a_text() {
        let text = "id: t\nversion: \"1\"\ntitle: {en: [a]}\nlanguages: [en]\nsections: []\n";
        let loaded = load_str("t.yaml", text);
        assert!(
            loaded
                .diagnostics
                .iter()
                .any(|d| d.message.contains("expected the text in this language")),
            "{:?}",
            loaded.diagnostics
        );
    }
}
