//! The `survey`, `choices` and `settings` sheets into a vicor instrument.
//!
//! Four steps, each collecting every problem before the next: read the
//! sheets into a tree of groups and questions (fatal: no `survey` sheet, a
//! missing list, an unclosed group, a duplicate name); give every name a
//! vicor id and build the [`Scope`] expressions are typed in; refuse
//! circular `relevant`/`calculation` chains; then write the YAML, listing
//! each cell that does not translate. The YAML is loaded by vicor's own
//! loader at the end, and its diagnostics are traced back to cells.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::instrument::diag::Level;
use crate::xlsform::sheet::{CellRef, Row, Sheet, Workbook, at_header};
use crate::xlsform::translate::{self, Context, Kind, Question, Scope};
use crate::xlsform::{Finding, ImportError, Imported, Summary};

/// Survey columns that are translated; a column with a language suffix
/// (`label::French (fr)`) is looked up by its base.
const SURVEY_COLUMNS: &[&str] = &[
    "type",
    "name",
    "label",
    "hint",
    "relevant",
    "constraint",
    "constraint_message",
    "required",
    "calculation",
    "choice_filter",
    "repeat_count",
];
/// Columns that may carry a language suffix.
const TEXT_COLUMNS: &[&str] = &["label", "hint", "constraint_message"];
/// Metadata types: vicor records the interview's times, the enumerator and
/// the device itself, in the store's events.
const METADATA: &[&str] = &[
    "start",
    "end",
    "today",
    "deviceid",
    "subscriberid",
    "simserial",
    "phonenumber",
    "username",
    "email",
    "audit",
    "start-geopoint",
    "background-audio",
];
/// vicor's keywords, which cannot be ids.
const RESERVED: &[&str] = &["and", "or", "not", "in", "true", "false", "if"];

pub fn convert(path: &str, book: &Workbook, out_name: &str) -> Result<Imported, ImportError> {
    let Some(survey) = book.sheet("survey") else {
        let found = if book.names.is_empty() {
            "none".to_string()
        } else {
            book.names.join(", ")
        };
        return Err(ImportError::NotXlsform {
            path: path.into(),
            findings: vec![Finding {
                cell: None,
                message: format!("no sheet named `survey`, so this is not an XLSForm (sheets: {found})"),
                help: "an XLSForm has a `survey` sheet (columns type, name, label), a `choices` sheet for select lists and an optional `settings` sheet".into(),
            }],
        });
    };
    let mut missing = Vec::new();
    for col in ["type", "name"] {
        if survey.column(col).is_none() {
            missing.push(at_header(
                survey,
                format!("no `{col}` column, so this is not an XLSForm survey sheet"),
                "put the column headers type, name and label in the first row",
            ));
        }
    }
    if !missing.is_empty() {
        return Err(ImportError::NotXlsform {
            path: path.into(),
            findings: missing,
        });
    }
    let mut cv = Converter::new(book, survey);
    cv.read_settings();
    cv.read_languages();
    cv.read_choices();
    let tree = cv.read_survey();
    if !cv.fatal.is_empty() {
        return Err(ImportError::Invalid {
            path: path.into(),
            findings: cv.fatal,
        });
    }
    cv.build_scope(&tree, &[]);
    cv.drop_untranslatable_calculations(&tree);
    cv.find_cycles(&tree);
    if !cv.fatal.is_empty() {
        return Err(ImportError::Invalid {
            path: path.into(),
            findings: cv.fatal,
        });
    }
    cv.unhandled_columns();
    let yaml = cv.write(&tree, path);
    // vicor's own loader has the last word; its findings point to cells.
    let checked = crate::instrument::validate_str(out_name, &yaml);
    let mut errors = Vec::new();
    for d in &checked.diagnostics {
        let (line, _) = crate::instrument::diag::line_col(&yaml, d.origin.span.start);
        let cell = cv
            .marks
            .iter()
            .rev()
            .find(|(l, _)| *l <= line)
            .map(|(_, c)| c.clone());
        let finding = Finding {
            cell,
            message: format!("{} (line {line} of the translated instrument)", d.message),
            help: d.help.clone().unwrap_or_default(),
        };
        match d.level {
            Level::Error => errors.push(finding),
            Level::Warning => cv.notes.push(finding),
        }
    }
    if !errors.is_empty() {
        return Err(ImportError::Invalid {
            path: path.into(),
            findings: errors,
        });
    }
    cv.notes.sort();
    cv.notes.dedup();
    Ok(Imported {
        yaml,
        findings: cv.notes,
        summary: cv.summary,
    })
}

/// A choice of a list, with its code and every column of its row.
#[derive(Debug, Clone)]
struct Choice {
    name: String,
    code: i64,
    labels: BTreeMap<String, String>,
    /// Every non-empty cell by column key, for `choice_filter`.
    columns: BTreeMap<String, String>,
    row: Row,
}

#[derive(Debug, Clone)]
enum QKind {
    Integer,
    Decimal,
    Text,
    Date,
    Note,
    Calculate,
    Single(String),
    Multiple(String),
}

#[derive(Debug, Clone)]
struct FormQuestion {
    row: Row,
    name: String,
    id: String,
    kind: QKind,
    or_other: bool,
}

#[derive(Debug, Clone)]
struct Group {
    row: Row,
    name: String,
    id: String,
    repeat: bool,
    children: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Question(FormQuestion),
    Group(Group),
}

impl Node {
    fn row(&self) -> &Row {
        match self {
            Node::Question(q) => &q.row,
            Node::Group(g) => &g.row,
        }
    }
    fn name(&self) -> &str {
        match self {
            Node::Question(q) => &q.name,
            Node::Group(g) => &g.name,
        }
    }
}

struct Converter<'b> {
    book: &'b Workbook,
    survey: &'b Sheet,
    /// Problems that stop the import.
    fatal: Vec<Finding>,
    /// What was not translated, or was adapted.
    notes: Vec<Finding>,
    form_id: String,
    version: String,
    title: Option<String>,
    default_language_setting: Option<(String, CellRef)>,
    /// Language codes in order of first appearance.
    languages: Vec<String>,
    /// The language of columns without a suffix (`label`).
    plain_language: String,
    lists: BTreeMap<String, Vec<Choice>>,
    /// Bare names used in any choice_filter: columns of the choices sheet.
    filter_columns: BTreeSet<String>,
    used_ids: BTreeSet<String>,
    scope: Scope,
    special: (i64, i64),
    /// YAML line → the cell it came from, for tracing diagnostics back.
    marks: Vec<(usize, CellRef)>,
    summary: Summary,
}

impl<'b> Converter<'b> {
    fn new(book: &'b Workbook, survey: &'b Sheet) -> Self {
        Converter {
            book,
            survey,
            fatal: Vec::new(),
            notes: Vec::new(),
            form_id: "imported_form".into(),
            version: "1".into(),
            title: None,
            default_language_setting: None,
            languages: Vec::new(),
            plain_language: "en".into(),
            lists: BTreeMap::new(),
            filter_columns: BTreeSet::new(),
            used_ids: BTreeSet::new(),
            scope: Scope::default(),
            special: (98, 99),
            marks: Vec::new(),
            summary: Summary::default(),
        }
    }

    fn note(&mut self, cell: CellRef, message: impl Into<String>, help: impl Into<String>) {
        self.notes.push(Finding::at(cell, message, help));
    }

    fn read_settings(&mut self) {
        let Some(settings) = self.book.sheet("settings") else {
            return;
        };
        let Some(row) = settings.rows.first() else {
            return;
        };
        if let Some(id) = settings.get(row, "form_id") {
            let clean = sanitize(id);
            if clean != id {
                self.note(
                    settings.at(row, "form_id"),
                    format!("form_id `{id}` is written `{clean}`"),
                    "vicor ids are lower case letters, digits and _",
                );
            }
            self.form_id = clean;
        }
        if let Some(v) = settings.get(row, "version") {
            self.version = v.to_string();
        }
        self.title = settings.get(row, "form_title").map(str::to_string);
        if let Some(l) = settings.get(row, "default_language") {
            self.default_language_setting =
                Some((l.to_string(), settings.at(row, "default_language")));
        }
        let known = ["form_id", "version", "form_title", "default_language"];
        for (i, col) in settings.columns.iter().enumerate() {
            if known.contains(&col.key.as_str()) {
                continue;
            }
            if row.cells.get(i).is_some_and(Option::is_some) {
                self.note(
                    CellRef::new(&settings.name, row.number, &col.header),
                    format!("setting `{}` is not translated", col.header),
                    "vicor has no equivalent; the instrument does without it",
                );
            }
        }
    }

    fn read_languages(&mut self) {
        let mut suffixed = Vec::new();
        let mut sheets = vec![self.survey];
        if let Some(c) = self.book.sheet("choices") {
            sheets.push(c);
        }
        for sheet in sheets {
            for col in &sheet.columns {
                if let Some((base, lang)) = col.key.split_once("::")
                    && TEXT_COLUMNS.contains(&base)
                {
                    let code = language_code(lang);
                    if !suffixed.contains(&code) {
                        suffixed.push(code);
                    }
                }
            }
        }
        let setting = self
            .default_language_setting
            .as_ref()
            .map(|(l, _)| language_code(&l.to_lowercase()));
        if suffixed.is_empty() {
            self.plain_language = setting.unwrap_or_else(|| "en".into());
            self.languages = vec![self.plain_language.clone()];
            return;
        }
        match setting {
            Some(code) if suffixed.contains(&code) => self.plain_language = code,
            Some(code) => {
                let (raw, cell) = self.default_language_setting.clone().unwrap_or_default();
                self.note(
                    cell,
                    format!(
                        "default_language `{raw}` has no label column; `{}` is used",
                        suffixed[0]
                    ),
                    "name a language that has label::LANGUAGE columns",
                );
                let _ = code;
                self.plain_language = suffixed[0].clone();
            }
            None => self.plain_language = suffixed[0].clone(),
        }
        // The default language first: vicor shows it when none is chosen.
        suffixed.retain(|c| c != &self.plain_language);
        suffixed.insert(0, self.plain_language.clone());
        self.languages = suffixed;
    }

    /// The texts of `row` in column `base` (`label`, `label::fr`, ...), by
    /// language code.
    fn texts(&self, sheet: &Sheet, row: &Row, base: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (i, col) in sheet.columns.iter().enumerate() {
            let Some(Some(value)) = row.cells.get(i) else {
                continue;
            };
            if col.key == base {
                out.entry(self.plain_language.clone())
                    .or_insert_with(|| value.clone());
            } else if let Some((b, lang)) = col.key.split_once("::")
                && b == base
            {
                out.insert(language_code(lang), value.clone());
            }
        }
        out
    }

    /// Every language filled in: a missing translation takes the default
    /// language's text (or any), and is listed.
    fn complete(
        &mut self,
        mut texts: BTreeMap<String, String>,
        cell: CellRef,
        what: &str,
    ) -> Option<BTreeMap<String, String>> {
        let fallback = texts
            .get(&self.plain_language)
            .or_else(|| texts.values().next())
            .cloned()?;
        let missing: Vec<String> = self
            .languages
            .iter()
            .filter(|l| !texts.contains_key(*l))
            .cloned()
            .collect();
        for lang in missing {
            self.note(
                cell.clone(),
                format!(
                    "no {what} in language `{lang}`; the `{}` one is used",
                    self.plain_language
                ),
                format!("add a {what}::{lang} column"),
            );
            texts.insert(lang, fallback.clone());
        }
        texts.retain(|l, _| self.languages.contains(l));
        Some(texts)
    }

    fn read_choices(&mut self) {
        let Some(sheet) = self.book.sheet("choices") else {
            return;
        };
        let list_col = ["list_name", "list name"]
            .iter()
            .find(|c| sheet.column(c).is_some());
        let Some(list_col) = list_col else {
            self.fatal.push(at_header(
                sheet,
                "no `list_name` column in the choices sheet".into(),
                "put the headers list_name, name and label in its first row",
            ));
            return;
        };
        if sheet.column("name").is_none() {
            self.fatal.push(at_header(
                sheet,
                "no `name` column in the choices sheet".into(),
                "put the headers list_name, name and label in its first row",
            ));
            return;
        }
        let mut raw: BTreeMap<String, Vec<Choice>> = BTreeMap::new();
        for row in &sheet.rows {
            let Some(list) = sheet.get(row, list_col) else {
                continue;
            };
            let Some(name) = sheet.get(row, "name") else {
                self.fatal.push(Finding::at(
                    sheet.at(row, "name"),
                    format!("a choice of list `{list}` has no name"),
                    "give every choice a name (its value in the data)",
                ));
                continue;
            };
            let mut columns = BTreeMap::new();
            for (i, col) in sheet.columns.iter().enumerate() {
                if let Some(Some(v)) = row.cells.get(i) {
                    columns.insert(col.key.clone(), v.clone());
                }
            }
            let labels = self.texts(sheet, row, "label");
            let entry = raw.entry(list.to_string()).or_default();
            if entry.iter().any(|c| c.name == name) {
                self.fatal.push(Finding::at(
                    sheet.at(row, "name"),
                    format!("choice `{name}` appears twice in list `{list}`"),
                    "give each choice of a list its own name",
                ));
                continue;
            }
            entry.push(Choice {
                name: name.to_string(),
                code: 0,
                labels,
                columns,
                row: row.clone(),
            });
        }
        // Codes: the names themselves when every name of the list is a
        // whole number (the usual 1 = yes, 2 = no), else 1, 2, ... in order.
        for (list, choices) in raw.iter_mut() {
            let numeric: Option<Vec<i64>> =
                choices.iter().map(|c| c.name.parse::<i64>().ok()).collect();
            match numeric {
                Some(codes) if codes.iter().collect::<BTreeSet<_>>().len() == codes.len() => {
                    for (c, code) in choices.iter_mut().zip(codes) {
                        c.code = code;
                    }
                }
                _ => {
                    for (i, c) in choices.iter_mut().enumerate() {
                        c.code = i as i64 + 1;
                    }
                }
            }
            self.scope.lists.insert(
                list.clone(),
                choices.iter().map(|c| (c.name.clone(), c.code)).collect(),
            );
        }
        let used: BTreeSet<i64> = raw.values().flatten().map(|c| c.code).collect();
        let mut dk = 98;
        while used.contains(&dk) || used.contains(&(dk + 1)) {
            dk = dk * 10 + 8;
        }
        self.special = (dk, dk + 1);
        self.lists = raw;
    }

    fn allocate_id(&mut self, name: &str, cell: &CellRef) -> String {
        let base = sanitize(name);
        let mut id = base.clone();
        let mut n = 2;
        while self.used_ids.contains(&id) {
            id = format!("{base}_{n}");
            n += 1;
        }
        if id != name {
            self.note(
                cell.clone(),
                format!("`{name}` is written `{id}`"),
                "vicor ids are unique, lower case letters, digits and _ (not a keyword)",
            );
        }
        self.used_ids.insert(id.clone());
        id
    }

    fn read_survey(&mut self) -> Vec<Node> {
        let survey = self.survey;
        // A stack of open groups; the bottom is the form itself.
        let mut stack: Vec<(Option<Group>, Vec<Node>)> = vec![(None, Vec::new())];
        let mut names: BTreeMap<String, u32> = BTreeMap::new();
        for row in &survey.rows {
            let raw_type = survey.get(row, "type").unwrap_or("");
            let ty = raw_type
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase();
            let ty = ty
                .replace("begin_group", "begin group")
                .replace("end_group", "end group")
                .replace("begin_repeat", "begin repeat")
                .replace("end_repeat", "end repeat");
            let name = survey.get(row, "name");
            let type_cell = survey.at(row, "type");
            if ty.is_empty() {
                self.note(
                    type_cell,
                    "this row has no type and is not translated",
                    "give it a type, or delete the row",
                );
                continue;
            }
            if ty == "end group" || ty == "end repeat" {
                let want_repeat = ty == "end repeat";
                match stack.pop() {
                    Some((Some(mut g), children)) if !stack.is_empty() => {
                        if g.repeat != want_repeat {
                            let open = if g.repeat {
                                "begin repeat"
                            } else {
                                "begin group"
                            };
                            self.fatal.push(Finding::at(
                                type_cell,
                                format!(
                                    "`{ty}` closes `{open}` `{}` of row {}",
                                    g.name, g.row.number
                                ),
                                format!(
                                    "close it with `end {}`",
                                    if g.repeat { "repeat" } else { "group" }
                                ),
                            ));
                        }
                        g.children = children;
                        if let Some(top) = stack.last_mut() {
                            top.1.push(Node::Group(g));
                        }
                    }
                    other => {
                        if let Some(o) = other {
                            stack.push(o);
                        }
                        self.fatal.push(Finding::at(
                            type_cell,
                            format!("`{ty}` without a group or repeat open"),
                            "delete the row, or add the `begin group` it closes",
                        ));
                    }
                }
                continue;
            }
            let Some(name) = name else {
                self.fatal.push(Finding::at(
                    survey.at(row, "name"),
                    format!("a `{raw_type}` row has no name"),
                    "give it a name: the variable's name in the data",
                ));
                continue;
            };
            if let Some(first) = names.get(name) {
                self.fatal.push(Finding::at(
                    survey.at(row, "name"),
                    format!("`{name}` is already the name of row {first}"),
                    "give every row of the survey sheet its own name",
                ));
                continue;
            }
            names.insert(name.to_string(), row.number);
            let name_cell = survey.at(row, "name");
            if ty == "begin group" || ty == "begin repeat" {
                let id = self.allocate_id(name, &name_cell);
                stack.push((
                    Some(Group {
                        row: row.clone(),
                        name: name.to_string(),
                        id,
                        repeat: ty == "begin repeat",
                        children: Vec::new(),
                    }),
                    Vec::new(),
                ));
                continue;
            }
            let words: Vec<&str> = ty.split(' ').collect();
            let kind = match words.as_slice() {
                ["integer"] | ["int"] => Some(QKind::Integer),
                ["decimal"] => Some(QKind::Decimal),
                ["text"] | ["string"] => Some(QKind::Text),
                ["date"] => Some(QKind::Date),
                ["note"] => Some(QKind::Note),
                ["calculate"] => Some(QKind::Calculate),
                ["select_one", list, rest @ ..] | ["select1", list, rest @ ..]
                    if rest.is_empty() || rest == ["or_other"] =>
                {
                    Some(QKind::Single(list.to_string()))
                }
                ["select_multiple", list, rest @ ..] if rest.is_empty() || rest == ["or_other"] => {
                    Some(QKind::Multiple(list.to_string()))
                }
                _ => None,
            };
            let Some(kind) = kind else {
                let why = if METADATA.contains(&ty.as_str()) {
                    "vicor records the interview's times, enumerator and device itself, as events"
                } else {
                    "vicor has no question of this type; ask it another way, or leave it out"
                };
                self.note(
                    type_cell,
                    format!("type `{raw_type}` is not translated; `{name}` is left out"),
                    why,
                );
                self.scope.dropped.insert(
                    name.to_string(),
                    format!("its type `{raw_type}` is not translated"),
                );
                continue;
            };
            if let QKind::Single(list) | QKind::Multiple(list) = &kind
                && !self.lists.contains_key(list)
            {
                let lists: Vec<&str> = self.lists.keys().map(String::as_str).collect();
                let have = if self.book.sheet("choices").is_none() {
                    "the workbook has no choices sheet".to_string()
                } else if lists.is_empty() {
                    "the choices sheet has no lists".to_string()
                } else {
                    format!("lists there: {}", lists.join(", "))
                };
                self.fatal.push(Finding::at(
                    type_cell,
                    format!("list `{list}` is not in the choices sheet ({have})"),
                    format!(
                        "add the choices of `{list}` to the choices sheet, with list_name {list}"
                    ),
                ));
                continue;
            }
            let id = self.allocate_id(name, &name_cell);
            let or_other = words.last() == Some(&"or_other");
            stack
                .last_mut()
                .expect("the form itself is always on the stack")
                .1
                .push(Node::Question(FormQuestion {
                    row: row.clone(),
                    name: name.to_string(),
                    id,
                    kind,
                    or_other,
                }));
        }
        while stack.len() > 1 {
            if let Some((Some(g), children)) = stack.pop() {
                let what = if g.repeat { "repeat" } else { "group" };
                self.fatal.push(Finding::at(
                    survey.at(&g.row, "type"),
                    format!("`begin {what}` `{}` is never closed", g.name),
                    format!("add an `end {what}` row after its last question"),
                ));
                if let Some(top) = stack.last_mut() {
                    top.1.extend(children);
                }
            }
        }
        for row in &survey.rows {
            if let Some(f) = survey.get(row, "choice_filter") {
                collect_bare_names(f, &mut self.filter_columns);
            }
        }
        stack.pop().map(|(_, n)| n).unwrap_or_default()
    }

    fn build_scope(&mut self, nodes: &[Node], rosters: &[String]) {
        for node in nodes {
            match node {
                Node::Question(q) => {
                    let kind = match &q.kind {
                        QKind::Integer | QKind::Decimal => Kind::Number,
                        QKind::Text => Kind::Text,
                        QKind::Date => Kind::Date,
                        QKind::Note => Kind::NoValue,
                        QKind::Calculate => Kind::Calculated,
                        QKind::Single(l) => Kind::Single(l.clone()),
                        QKind::Multiple(l) => Kind::Multiple(l.clone()),
                    };
                    self.scope.questions.insert(
                        q.name.clone(),
                        Question {
                            id: q.id.clone(),
                            kind,
                            rosters: rosters.to_vec(),
                        },
                    );
                    if q.or_other {
                        let list = match &q.kind {
                            QKind::Single(l) | QKind::Multiple(l) => l.clone(),
                            _ => continue,
                        };
                        let code = self.other_code(&list);
                        self.scope
                            .lists
                            .entry(list)
                            .or_default()
                            .entry("other".into())
                            .or_insert(code);
                        let cell = self.survey.at(&q.row, "name");
                        let other_id = self.allocate_id(&format!("{}_other", q.id), &cell);
                        self.scope.questions.insert(
                            format!("{}_other", q.name),
                            Question {
                                id: other_id,
                                kind: Kind::Text,
                                rosters: rosters.to_vec(),
                            },
                        );
                    }
                }
                Node::Group(g) => {
                    self.scope.questions.insert(
                        g.name.clone(),
                        Question {
                            id: g.id.clone(),
                            kind: if g.repeat {
                                Kind::Repeat
                            } else {
                                Kind::NoValue
                            },
                            rosters: rosters.to_vec(),
                        },
                    );
                    let mut inner = rosters.to_vec();
                    if g.repeat {
                        inner.push(g.id.clone());
                    }
                    self.build_scope(&g.children, &inner);
                }
            }
        }
    }

    /// The code of the `other` choice that `or_other` adds: `other` if the
    /// list names it already, else one above the list's highest code.
    fn other_code(&self, list: &str) -> i64 {
        let codes = self.scope.lists.get(list);
        if let Some(c) = codes.and_then(|l| l.get("other")) {
            return *c;
        }
        let mut code = codes.and_then(|l| l.values().max().copied()).unwrap_or(0) + 1;
        while code == self.special.0 || code == self.special.1 {
            code += 1;
        }
        code
    }

    /// A `calculate` whose expression does not translate is left out, and so
    /// in turn is every calculation that needs it: found by repeating until
    /// nothing more drops.
    fn drop_untranslatable_calculations(&mut self, nodes: &[Node]) {
        let mut calcs = Vec::new();
        collect_calculations(nodes, &[], &mut calcs);
        loop {
            let mut dropped_any = false;
            for (q, rosters) in &calcs {
                if !self.scope.questions.contains_key(&q.name) {
                    continue;
                }
                let source = self.survey.get(&q.row, "calculation").unwrap_or("");
                let cx = Context {
                    rosters,
                    ..Context::default()
                };
                let reason = if source.is_empty() {
                    Some("it has no calculation".to_string())
                } else {
                    translate::translate(source, &self.scope, &cx).err()
                };
                if let Some(reason) = reason {
                    self.note(
                        self.survey.at(&q.row, "calculation"),
                        format!(
                            "calculation of `{}` is not translated: {reason}; `{}` is left out",
                            q.name, q.name
                        ),
                        "rewrite it with the functions listed in docs/xlsform.md",
                    );
                    self.scope.questions.remove(&q.name);
                    self.scope.dropped.insert(
                        q.name.clone(),
                        format!("its calculation is not translated ({reason})"),
                    );
                    dropped_any = true;
                }
            }
            if !dropped_any {
                break;
            }
        }
    }

    /// Refuses a question that depends on itself through `relevant`,
    /// `calculation` or the group it sits in: ODK rejects such a form, and
    /// vicor's engine would never settle it.
    fn find_cycles(&mut self, nodes: &[Node]) {
        // name → (dependencies, the cell that creates each).
        let mut edges: BTreeMap<String, Vec<(String, CellRef)>> = BTreeMap::new();
        collect_edges(self.survey, nodes, None, &mut edges);
        let mut state: BTreeMap<String, u8> = BTreeMap::new();
        let mut reported: BTreeSet<String> = BTreeSet::new();
        let names: Vec<String> = edges.keys().cloned().collect();
        for start in names {
            let mut path: Vec<(String, Option<CellRef>)> = Vec::new();
            dfs(&start, None, &edges, &mut state, &mut path, &mut |cycle| {
                let key = {
                    let mut names: Vec<&str> = cycle.iter().map(|(n, _)| n.as_str()).collect();
                    names.sort();
                    names.join(",")
                };
                if !reported.insert(key) {
                    return;
                }
                let chain: Vec<&str> = cycle
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .chain(cycle.first().map(|(n, _)| n.as_str()))
                    .collect();
                let cell = cycle.iter().find_map(|(_, c)| c.clone());
                self.fatal.push(Finding {
                    cell,
                    message: format!("circular `relevant`: {}", chain.join(" → ")),
                    help: "a question cannot depend on its own answer, even through others; remove the condition that refers back".into(),
                });
            });
        }
    }

    /// Non-empty cells in columns that are not translated, one finding each.
    fn unhandled_columns(&mut self) {
        let survey = self.survey;
        for (i, col) in survey.columns.iter().enumerate() {
            let base = col.key.split_once("::").map(|(b, _)| b).unwrap_or(&col.key);
            let handled = SURVEY_COLUMNS.contains(&base)
                && (!col.key.contains("::") || TEXT_COLUMNS.contains(&base));
            if handled {
                continue;
            }
            let why = match base {
                "required_message" => "vicor shows its own message when an answer is missing",
                "appearance" => "vicor's screen has one look per question type",
                "default" => "vicor starts every question empty",
                "read_only" => "vicor shows no read-only questions; use a note or a calculate",
                "media" | "image" | "audio" | "video" => "vicor's screen is text only",
                "trigger" => "vicor re-computes every calculation after every answer",
                _ => "vicor has no equivalent",
            };
            for row in &survey.rows {
                if row.cells.get(i).is_some_and(Option::is_some) {
                    self.notes.push(Finding::at(
                        CellRef::new(&survey.name, row.number, &col.header),
                        format!("column `{}` is not translated", col.header),
                        why,
                    ));
                }
            }
        }
        if let Some(choices) = self.book.sheet("choices") {
            for (i, col) in choices.columns.iter().enumerate() {
                let base = col.key.split_once("::").map(|(b, _)| b).unwrap_or(&col.key);
                if matches!(base, "list_name" | "list name" | "name")
                    || (base == "label")
                    || self.filter_columns.contains(&col.key)
                {
                    continue;
                }
                for row in &choices.rows {
                    if row.cells.get(i).is_some_and(Option::is_some) {
                        self.notes.push(Finding::at(
                            CellRef::new(&choices.name, row.number, &col.header),
                            format!("column `{}` is not translated", col.header),
                            "no choice_filter uses it, and vicor has no equivalent",
                        ));
                    }
                }
            }
        }
    }

    /// Translates the expression in `column` of `row`, listing it when it
    /// does not translate.
    fn expr(&mut self, row: &Row, column: &str, cx: &Context) -> Option<String> {
        let source = self.survey.get(row, column)?;
        match translate::translate(source, &self.scope, cx) {
            Ok(t) => Some(t.text),
            Err(reason) => {
                let consequence = match column {
                    "relevant" => "the question is asked whatever the answers before it",
                    "constraint" => "the answer is not checked",
                    "repeat_count" => "the number of rows is asked instead",
                    _ => "it is left out",
                };
                self.note(
                    self.survey.at(row, column),
                    format!("`{source}` is not translated: {reason}"),
                    format!("{consequence}; rewrite it with the functions in docs/xlsform.md"),
                );
                None
            }
        }
    }

    fn write(&mut self, tree: &[Node], path: &str) -> String {
        let mut body = Yaml::default();
        // Top-level questions and repeats outside any group share a section.
        let mut loose: Vec<&Node> = Vec::new();
        let mut sections = 0;
        for node in tree {
            match node {
                Node::Group(g) if !g.repeat => {
                    self.flush_loose(&mut body, &mut loose, &mut sections);
                    self.section(&mut body, g);
                    sections += 1;
                }
                other => loose.push(other),
            }
        }
        self.flush_loose(&mut body, &mut loose, &mut sections);
        self.summary.sections = sections;

        // The header is written last, when every finding is known; marks are
        // shifted by its length.
        let mut head = Yaml::default();
        head.line(
            0,
            &format!(
                "# Imported from {} by `vicor import-xlsform`.",
                file_name(path)
            ),
        );
        head.line(
            0,
            "# Generated: edit the XLSForm and import again rather than this file.",
        );
        let mut listed = self.notes.clone();
        listed.sort();
        if !listed.is_empty() {
            head.line(
                0,
                &format!("# Not translated or adapted ({}):", listed.len()),
            );
            for f in &listed {
                head.line(
                    0,
                    &format!("#   {}", f.render(&file_name(path)).replace('\n', " ")),
                );
            }
        }
        head.line(0, &format!("id: {}", self.form_id));
        head.line(0, &format!("version: {}", q(&self.version)));
        let title = self.title.clone().unwrap_or_else(|| self.form_id.clone());
        head.line(0, "title:");
        for lang in &self.languages {
            head.line(1, &format!("{lang}: {}", q(&title)));
        }
        head.line(0, &format!("languages: [{}]", self.languages.join(", ")));
        head.line(0, &format!("default_language: {}", self.plain_language));
        head.line(
            0,
            &format!(
                "special_codes: {{dont_know: {}, refused: {}}}",
                self.special.0, self.special.1
            ),
        );
        head.line(0, "sections:");
        let offset = head.lines;
        for (line, _) in &mut body.marks {
            *line += offset;
        }
        self.marks = body.marks.clone();
        head.out + &body.out
    }

    fn flush_loose(&mut self, y: &mut Yaml, loose: &mut Vec<&Node>, sections: &mut usize) {
        if loose.is_empty() {
            return;
        }
        let first = loose[0].row().clone();
        let id = self.allocate_id(
            if *sections == 0 { "main" } else { "more" },
            &self.survey.at(&first, "name"),
        );
        y.mark(self.survey.at(&first, "type"));
        y.line(1, &format!("- id: {id}"));
        let title = self.title.clone().unwrap_or_else(|| self.form_id.clone());
        y.line(2, "title:");
        for lang in self.languages.clone() {
            y.line(3, &format!("{lang}: {}", q(&title)));
        }
        y.line(2, "items:");
        let nodes: Vec<Node> = loose.drain(..).cloned().collect();
        for node in &nodes {
            self.node(y, node, 3, &[], &[]);
        }
        *sections += 1;
    }

    fn section(&mut self, y: &mut Yaml, g: &Group) {
        let cell = self.survey.at(&g.row, "type");
        y.mark(cell);
        y.line(1, &format!("- id: {}", g.id));
        self.text_block(y, 2, "title", &g.row, "label", &g.name);
        let cx = Context::default();
        if let Some(when) = self.expr(&g.row, "relevant", &cx) {
            y.mark(self.survey.at(&g.row, "relevant"));
            y.line(2, &format!("when: {}", q(&when)));
        }
        self.group_extras(&g.row);
        if g.children.is_empty() {
            self.note(
                self.survey.at(&g.row, "type"),
                format!("group `{}` is empty", g.name),
                "an empty section is shown as a note",
            );
            let id = self.allocate_id(&format!("{}_note", g.id), &self.survey.at(&g.row, "name"));
            y.line(2, "items:");
            y.line(3, &format!("- id: {id}"));
            y.line(4, "type: note");
            self.text_block(y, 4, "text", &g.row, "label", &g.name);
            return;
        }
        y.line(2, "items:");
        for child in &g.children {
            self.node(y, child, 3, &[], &[]);
        }
    }

    /// Cells of a group row that only questions have.
    fn group_extras(&mut self, row: &Row) {
        for col in ["constraint", "calculation", "choice_filter", "required"] {
            if self.survey.get(row, col).is_some() {
                self.note(
                    self.survey.at(row, col),
                    format!("`{col}` on a group is not translated"),
                    "put it on the group's questions",
                );
            }
        }
    }

    /// Writes a question or a nested group/repeat. `conds` are the
    /// conditions of enclosing flattened groups, `rosters` the repeats open.
    fn node(
        &mut self,
        y: &mut Yaml,
        node: &Node,
        indent: usize,
        conds: &[String],
        rosters: &[String],
    ) {
        match node {
            Node::Question(qn) => self.question(y, qn, indent, conds, rosters),
            Node::Group(g) if g.repeat => self.roster(y, g, indent, conds, rosters),
            Node::Group(g) => {
                // vicor's sections do not nest: an inner group's condition
                // moves onto each of its questions.
                let cx = Context {
                    rosters,
                    ..Context::default()
                };
                let mut inner = conds.to_vec();
                if let Some(when) = self.expr(&g.row, "relevant", &cx) {
                    inner.push(when);
                }
                self.group_extras(&g.row);
                if self.survey.get(&g.row, "label").is_some()
                    || !self.texts(self.survey, &g.row, "label").is_empty()
                {
                    self.note(
                        self.survey.at(&g.row, "type"),
                        format!(
                            "group `{}` inside another is merged into it; its label is not shown",
                            g.name
                        ),
                        "vicor's sections do not nest; make it a top-level group to keep its title",
                    );
                }
                for child in &g.children {
                    self.node(y, child, indent, &inner, rosters);
                }
            }
        }
    }

    fn when_line(
        &mut self,
        y: &mut Yaml,
        indent: usize,
        row: &Row,
        conds: &[String],
        own: Option<String>,
    ) {
        let mut parts = conds.to_vec();
        parts.extend(own);
        if parts.is_empty() {
            return;
        }
        let when = if parts.len() == 1 {
            parts.remove(0)
        } else {
            parts
                .iter()
                .map(|p| format!("({p})"))
                .collect::<Vec<_>>()
                .join(" and ")
        };
        y.mark(self.survey.at(row, "relevant"));
        y.line(indent, &format!("when: {}", q(&when)));
    }

    fn roster(
        &mut self,
        y: &mut Yaml,
        g: &Group,
        indent: usize,
        conds: &[String],
        rosters: &[String],
    ) {
        let cx = Context {
            rosters,
            ..Context::default()
        };
        let own = self.expr(&g.row, "relevant", &cx);
        let count = self.expr(&g.row, "repeat_count", &cx);
        let count = match count {
            Some(c) => c,
            None => {
                // vicor's rosters know their rows beforehand: ask how many.
                let cell = self.survey.at(&g.row, "repeat_count");
                let id = self.allocate_id(&format!("{}_count", g.id), &cell);
                if self.survey.get(&g.row, "repeat_count").is_none() {
                    self.note(
                        cell,
                        format!("repeat `{}` has no repeat_count; a question `{id}` asks for the number of rows", g.name),
                        "vicor's rosters know their rows before the first; set repeat_count to a question's ${name} to avoid the extra question",
                    );
                }
                y.mark(self.survey.at(&g.row, "type"));
                y.line(indent, &format!("- id: {id}"));
                y.line(indent + 1, "type: integer");
                let label = self.texts(self.survey, &g.row, "label");
                let label = self
                    .complete(label, self.survey.at(&g.row, "label"), "label")
                    .unwrap_or_default();
                y.line(indent + 1, "text:");
                for lang in self.languages.clone() {
                    let l = label
                        .get(&lang)
                        .map(|s| translate::label(s, &self.scope, rosters).0)
                        .unwrap_or_else(|| g.name.clone());
                    y.line(
                        indent + 2,
                        &format!("{lang}: {}", q(&format!("{} {l}", how_many(&lang)))),
                    );
                }
                y.line(indent + 1, "range: {min: 0, max: 50}");
                y.line(indent + 1, "dk: false");
                y.line(indent + 1, "rf: false");
                self.when_line(y, indent + 1, &g.row, conds, own.clone());
                self.summary.items += 1;
                id
            }
        };
        y.mark(self.survey.at(&g.row, "type"));
        y.line(indent, &format!("- roster: {}", g.id));
        self.text_block(y, indent + 1, "title", &g.row, "label", &g.name);
        self.when_line(y, indent + 1, &g.row, conds, own);
        y.mark(self.survey.at(&g.row, "repeat_count"));
        y.line(indent + 1, &format!("count: {}", q(&count)));
        self.group_extras(&g.row);
        self.summary.rosters += 1;
        let mut inner = rosters.to_vec();
        inner.push(g.id.clone());
        y.line(indent + 1, "items:");
        if g.children.is_empty() {
            let id = self.allocate_id(&format!("{}_note", g.id), &self.survey.at(&g.row, "name"));
            y.line(indent + 2, &format!("- id: {id}"));
            y.line(indent + 3, "type: note");
            self.text_block(y, indent + 3, "text", &g.row, "label", &g.name);
            return;
        }
        for child in &g.children {
            self.node(y, child, indent + 2, &[], &inner);
        }
    }

    /// `key:` and one line per language, from the row's `column` texts
    /// (fills translated), or `fallback` in every language.
    fn text_block(
        &mut self,
        y: &mut Yaml,
        indent: usize,
        key: &str,
        row: &Row,
        column: &str,
        fallback: &str,
    ) {
        // Section and roster titles are read outside any roster row.
        self.text_block_in(y, indent, key, row, column, fallback, &[]);
    }

    #[allow(clippy::too_many_arguments)]
    fn text_block_in(
        &mut self,
        y: &mut Yaml,
        indent: usize,
        key: &str,
        row: &Row,
        column: &str,
        fallback: &str,
        rosters: &[String],
    ) {
        let texts = self.texts(self.survey, row, column);
        let cell = self.survey.at(row, column);
        let texts = match self.complete(texts, cell.clone(), column) {
            Some(t) => t,
            None => self
                .languages
                .iter()
                .map(|l| (l.clone(), fallback.to_string()))
                .collect(),
        };
        y.mark(cell.clone());
        self.texts_by_language(y, indent, key, &texts, &cell, rosters);
    }

    /// Writes `key:` and one translated text per language; a fill (`${x}`)
    /// that cannot be translated is noted against `cell`.
    fn texts_by_language(
        &mut self,
        y: &mut Yaml,
        indent: usize,
        key: &str,
        texts: &BTreeMap<String, String>,
        cell: &CellRef,
        rosters: &[String],
    ) {
        y.line(indent, &format!("{key}:"));
        for lang in self.languages.clone() {
            let raw = texts.get(&lang).cloned().unwrap_or_default();
            let (text, errors) = translate::label(&raw, &self.scope, rosters);
            for e in errors {
                self.note(
                    cell.clone(),
                    format!("a fill is not translated: {e}"),
                    "the name is shown as written",
                );
            }
            y.line(indent + 1, &format!("{lang}: {}", q(&text)));
        }
    }

    fn question(
        &mut self,
        y: &mut Yaml,
        qn: &FormQuestion,
        indent: usize,
        conds: &[String],
        rosters: &[String],
    ) {
        let survey = self.survey;
        let row = &qn.row;
        let cx = Context {
            current: Some(&qn.name),
            rosters,
            ..Context::default()
        };
        let type_name = match &qn.kind {
            QKind::Integer => "integer",
            QKind::Decimal => "decimal",
            QKind::Text => "text",
            QKind::Date => "date",
            QKind::Note => "note",
            QKind::Calculate => "computed",
            QKind::Single(_) => "single",
            QKind::Multiple(_) => "multiple",
        };
        if let QKind::Calculate = qn.kind {
            if !self.scope.questions.contains_key(&qn.name) {
                return; // listed by drop_untranslatable_calculations
            }
            let value = self.expr(
                row,
                "calculation",
                &Context {
                    rosters,
                    ..Context::default()
                },
            );
            let Some(value) = value else { return };
            y.mark(survey.at(row, "type"));
            y.line(indent, &format!("- id: {}", qn.id));
            y.line(indent + 1, "type: computed");
            let own = self.expr(row, "relevant", &cx);
            self.when_line(y, indent + 1, row, conds, own);
            y.mark(survey.at(row, "calculation"));
            y.line(indent + 1, &format!("value: {}", q(&value)));
            for col in ["label", "hint", "constraint", "choice_filter"] {
                if survey.get(row, col).is_some() {
                    self.note(
                        survey.at(row, col),
                        format!("`{col}` of a calculate is not translated"),
                        "vicor's computed items are never shown",
                    );
                }
            }
            self.summary.items += 1;
            return;
        }
        y.mark(survey.at(row, "type"));
        y.line(indent, &format!("- id: {}", qn.id));
        y.line(indent + 1, &format!("type: {type_name}"));
        let has_label = !self.texts(survey, row, "label").is_empty();
        if !has_label {
            self.note(
                survey.at(row, "label"),
                format!("`{}` has no label; its name is shown", qn.name),
                "give every question a label",
            );
        }
        self.text_block_in(y, indent + 1, "text", row, "label", &qn.name, rosters);
        if !self.texts(survey, row, "hint").is_empty() {
            self.text_block_in(y, indent + 1, "instruction", row, "hint", "", rosters);
        }
        let own = self.expr(row, "relevant", &cx);
        self.when_line(y, indent + 1, row, conds, own);
        if !matches!(qn.kind, QKind::Note) {
            match survey.get(row, "required").map(|s| s.trim().to_lowercase()) {
                Some(r) if matches!(r.as_str(), "yes" | "true" | "true()" | "1") => {
                    y.mark(survey.at(row, "required"));
                    y.line(indent + 1, "dk: false");
                    y.line(indent + 1, "rf: false");
                }
                Some(r) if matches!(r.as_str(), "no" | "false" | "false()" | "0") => {}
                Some(other) => self.note(
                    survey.at(row, "required"),
                    format!("required `{other}` is not translated"),
                    "only yes/no is; the question allows don't know and refused",
                ),
                None => {}
            }
        } else if survey.get(row, "required").is_some() {
            self.note(
                survey.at(row, "required"),
                "`required` on a note is not translated",
                "a note has no answer",
            );
        }
        if let Some(rule) = self.expr(row, "constraint", &cx) {
            y.mark(survey.at(row, "constraint"));
            y.line(indent + 1, "checks:");
            y.line(indent + 2, &format!("- error: {}", q(&rule)));
            let mut messages = self.texts(survey, row, "constraint_message");
            if messages.is_empty() {
                for lang in &self.languages {
                    messages.insert(lang.clone(), not_allowed(lang).to_string());
                }
            }
            let cell = survey.at(row, "constraint_message");
            let messages = self
                .complete(messages, cell.clone(), "constraint_message")
                .unwrap_or_default();
            self.texts_by_language(y, indent + 3, "message", &messages, &cell, rosters);
        } else if !self.texts(survey, row, "constraint_message").is_empty()
            && survey.get(row, "constraint").is_none()
        {
            self.note(
                survey.at(row, "constraint_message"),
                "a constraint_message without a constraint is not translated",
                "add the constraint",
            );
        }
        if let QKind::Single(list) | QKind::Multiple(list) = &qn.kind {
            self.options(y, qn, list, indent + 1, rosters);
        } else if survey.get(row, "choice_filter").is_some() {
            self.note(
                survey.at(row, "choice_filter"),
                "`choice_filter` on a question without choices is not translated",
                "",
            );
        }
        self.summary.items += 1;
        if qn.or_other {
            self.other_item(y, qn, indent, conds, rosters);
        }
    }

    fn options(
        &mut self,
        y: &mut Yaml,
        qn: &FormQuestion,
        list: &str,
        indent: usize,
        rosters: &[String],
    ) {
        let survey = self.survey;
        let choices = self.lists.get(list).cloned().unwrap_or_default();
        let filter = survey.get(&qn.row, "choice_filter").map(str::to_string);
        let mut filter_failed = false;
        let choices_sheet = self
            .book
            .sheet("choices")
            .map(|s| s.name.clone())
            .unwrap_or_else(|| "choices".into());
        y.line(indent, "options:");
        for c in &choices {
            let numeric_name = c.name.parse::<i64>().ok() == Some(c.code);
            let comment = if numeric_name {
                String::new()
            } else {
                format!("  # {}", c.name)
            };
            y.mark(CellRef::new(&choices_sheet, c.row.number, "name"));
            y.line(indent + 1, &format!("- code: {}{comment}", c.code));
            let label_cell = CellRef::new(&choices_sheet, c.row.number, "label");
            let labels = if c.labels.is_empty() {
                self.note(
                    label_cell.clone(),
                    format!(
                        "choice `{}` of list `{list}` has no label; its name is shown",
                        c.name
                    ),
                    "give every choice a label",
                );
                self.languages
                    .iter()
                    .map(|l| (l.clone(), c.name.clone()))
                    .collect()
            } else {
                self.complete(c.labels.clone(), label_cell.clone(), "label")
                    .unwrap_or_default()
            };
            self.texts_by_language(y, indent + 2, "label", &labels, &label_cell, rosters);
            if let Some(f) = &filter
                && !filter_failed
            {
                let mut cols = c.columns.clone();
                cols.insert("name".into(), c.name.clone());
                let cx = Context {
                    rosters,
                    choice_columns: Some(&cols),
                    ..Context::default()
                };
                match translate::translate(f, &self.scope, &cx) {
                    Ok(t) => {
                        y.mark(survey.at(&qn.row, "choice_filter"));
                        y.line(indent + 2, &format!("when: {}", q(&t.text)));
                    }
                    Err(reason) => {
                        filter_failed = true;
                        self.note(
                            survey.at(&qn.row, "choice_filter"),
                            format!("`{f}` is not translated: {reason}"),
                            "every choice is shown",
                        );
                    }
                }
            }
        }
        if qn.or_other {
            let code = self
                .scope
                .lists
                .get(list)
                .and_then(|l| l.get("other"))
                .copied()
                .unwrap_or(0);
            if !choices.iter().any(|c| c.name == "other") {
                y.line(indent + 1, &format!("- code: {code}  # other (or_other)"));
                y.line(indent + 2, "label:");
                for lang in self.languages.clone() {
                    y.line(indent + 3, &format!("{lang}: {}", q(other_label(&lang))));
                }
            }
        }
    }

    /// `or_other` adds a text question for the other answer, asked when
    /// `other` is chosen (as ODK's `${name}_other`).
    fn other_item(
        &mut self,
        y: &mut Yaml,
        qn: &FormQuestion,
        indent: usize,
        conds: &[String],
        _rosters: &[String],
    ) {
        let Some(other) = self
            .scope
            .questions
            .get(&format!("{}_other", qn.name))
            .cloned()
        else {
            return;
        };
        let list = match &qn.kind {
            QKind::Single(l) | QKind::Multiple(l) => l.clone(),
            _ => return,
        };
        let code = self
            .scope
            .lists
            .get(&list)
            .and_then(|l| l.get("other"))
            .copied()
            .unwrap_or(0);
        let chosen = match qn.kind {
            QKind::Multiple(_) => format!("selected({}, {code})", qn.id),
            _ => format!("{} == {code}", qn.id),
        };
        y.mark(self.survey.at(&qn.row, "type"));
        y.line(indent, &format!("- id: {}", other.id));
        y.line(indent + 1, "type: text");
        y.line(indent + 1, "text:");
        for lang in self.languages.clone() {
            y.line(indent + 2, &format!("{lang}: {}", q(specify(&lang))));
        }
        let cx_conds = conds.to_vec();
        let mut parts = cx_conds;
        parts.push(chosen);
        let when = if parts.len() == 1 {
            parts.remove(0)
        } else {
            parts
                .iter()
                .map(|p| format!("({p})"))
                .collect::<Vec<_>>()
                .join(" and ")
        };
        y.line(indent + 1, &format!("when: {}", q(&when)));
        self.summary.items += 1;
    }
}

fn collect_calculations(
    nodes: &[Node],
    rosters: &[String],
    out: &mut Vec<(FormQuestion, Vec<String>)>,
) {
    for node in nodes {
        match node {
            Node::Question(q) if matches!(q.kind, QKind::Calculate) => {
                out.push((q.clone(), rosters.to_vec()))
            }
            Node::Question(_) => {}
            Node::Group(g) => {
                let mut inner = rosters.to_vec();
                if g.repeat {
                    inner.push(g.id.clone());
                }
                collect_calculations(&g.children, &inner, out);
            }
        }
    }
}

fn collect_edges(
    survey: &Sheet,
    nodes: &[Node],
    parent: Option<&Group>,
    edges: &mut BTreeMap<String, Vec<(String, CellRef)>>,
) {
    for node in nodes {
        let row = node.row();
        let entry = edges.entry(node.name().to_string()).or_default();
        for col in ["relevant", "calculation"] {
            if let Some(src) = survey.get(row, col) {
                for r in translate::references(src) {
                    entry.push((r, survey.at(row, col)));
                }
            }
        }
        if let Some(p) = parent {
            entry.push((p.name.clone(), survey.at(row, "name")));
        }
        if let Node::Group(g) = node {
            collect_edges(survey, &g.children, Some(g), edges);
        }
    }
}

/// A question on a dependency path and the cell of the edge leaving it.
type Step = (String, Option<CellRef>);

/// Depth-first search that calls `found` with each cycle (name, the cell
/// of the edge leaving it).
fn dfs(
    node: &str,
    via: Option<CellRef>,
    edges: &BTreeMap<String, Vec<(String, CellRef)>>,
    state: &mut BTreeMap<String, u8>,
    path: &mut Vec<(String, Option<CellRef>)>,
    found: &mut dyn FnMut(&[Step]),
) {
    match state.get(node) {
        Some(2) => return,
        Some(1) => {
            if let Some(start) = path.iter().position(|(n, _)| n == node) {
                let mut cycle: Vec<(String, Option<CellRef>)> = path[start..].to_vec();
                // Each entry carries the cell of the edge leaving it.
                for i in 0..cycle.len() {
                    let next = if i + 1 < cycle.len() {
                        path[start + i + 1].1.clone()
                    } else {
                        via.clone()
                    };
                    cycle[i].1 = next;
                }
                // Prefer pointing at a relevant/calculation cell over membership.
                let rel = cycle
                    .iter()
                    .position(|(_, c)| c.as_ref().is_some_and(|c| c.column != "name"));
                if let Some(r) = rel {
                    cycle.rotate_left(r);
                }
                found(&cycle);
            }
            return;
        }
        _ => {}
    }
    state.insert(node.to_string(), 1);
    path.push((node.to_string(), via));
    if let Some(next) = edges.get(node) {
        for (to, cell) in next {
            if edges.contains_key(to) {
                dfs(to, Some(cell.clone()), edges, state, path, found);
            }
        }
    }
    path.pop();
    state.insert(node.to_string(), 2);
}

/// Bare XPath names in a choice_filter (not `${...}`, not functions,
/// not operators): the choices sheet's columns it reads.
fn collect_bare_names(src: &str, out: &mut BTreeSet<String>) {
    let mut rest = src;
    let mut cleaned = String::new();
    // Drop ${...} and quoted texts first.
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("${") {
            rest = r.find('}').map(|i| &r[i + 1..]).unwrap_or("");
            cleaned.push(' ');
        } else if rest.starts_with('\'') || rest.starts_with('"') {
            let quote = &rest[..1];
            rest = rest[1..].find(quote).map(|i| &rest[i + 2..]).unwrap_or("");
            cleaned.push(' ');
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            cleaned.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    let words = cleaned.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '('));
    for w in words {
        if w.is_empty()
            || w.ends_with('(')
            || w.contains('(')
            || matches!(w, "and" | "or" | "div" | "mod")
        {
            continue;
        }
        if w.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
        {
            out.insert(w.to_lowercase());
        }
    }
}

/// An XLSForm name as a vicor id: lower case, other characters `_`, a
/// leading digit prefixed, keywords suffixed.
fn sanitize(name: &str) -> String {
    let mut id: String = name
        .trim()
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if id.is_empty() {
        id = "x".into();
    }
    if id.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        id.insert_str(0, "q_");
    }
    if RESERVED.contains(&id.as_str()) {
        id.push('_');
    }
    id
}

/// A language code from a column suffix: `english (en)` → `en`,
/// `french` → `fr`; otherwise the name itself, cleaned.
fn language_code(suffix: &str) -> String {
    let s = suffix.trim().to_lowercase();
    if let (Some(open), true) = (s.rfind('('), s.ends_with(')')) {
        let code = sanitize(&s[open + 1..s.len() - 1]);
        if !code.is_empty() {
            return code;
        }
    }
    let known = [
        ("english", "en"),
        ("french", "fr"),
        ("français", "fr"),
        ("francais", "fr"),
        ("spanish", "es"),
        ("español", "es"),
        ("espanol", "es"),
        ("portuguese", "pt"),
        ("arabic", "ar"),
        ("russian", "ru"),
        ("chinese", "zh"),
        ("swahili", "sw"),
        ("german", "de"),
        ("italian", "it"),
    ];
    known
        .iter()
        .find(|(n, _)| *n == s)
        .map(|(_, c)| c.to_string())
        .unwrap_or_else(|| sanitize(&s))
}

fn how_many(lang: &str) -> &'static str {
    match lang {
        "fr" => "Combien :",
        "es" => "Cuántos:",
        _ => "How many:",
    }
}

fn not_allowed(lang: &str) -> &'static str {
    match lang {
        "fr" => "Cette réponse n'est pas permise.",
        "es" => "Esta respuesta no está permitida.",
        _ => "This answer is not allowed.",
    }
}

fn other_label(lang: &str) -> &'static str {
    match lang {
        "fr" => "Autre",
        "es" => "Otro",
        _ => "Other",
    }
}

fn specify(lang: &str) -> &'static str {
    match lang {
        "fr" => "Précisez :",
        "es" => "Especifique:",
        _ => "Please specify:",
    }
}

fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// A YAML double-quoted scalar (JSON's escapes are YAML's).
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// The YAML being written, with the cell behind each marked line.
#[derive(Default)]
struct Yaml {
    out: String,
    lines: usize,
    marks: Vec<(usize, CellRef)>,
}

impl Yaml {
    fn line(&mut self, indent: usize, text: &str) {
        let _ = writeln!(self.out, "{}{text}", "  ".repeat(indent));
        self.lines += 1;
    }

    /// The next line comes from `cell`.
    fn mark(&mut self, cell: CellRef) {
        self.marks.push((self.lines + 1, cell));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_vicor_ids() {
        assert_eq!(sanitize("Q1-a"), "q1_a");
        assert_eq!(sanitize("1st_visit"), "q_1st_visit");
        assert_eq!(sanitize("not"), "not_");
        assert_eq!(sanitize("hh.size"), "hh_size");
    }

    #[test]
    fn language_columns_give_codes() {
        assert_eq!(language_code("English (en)"), "en");
        assert_eq!(language_code("french"), "fr");
        assert_eq!(language_code("Kinyarwanda"), "kinyarwanda");
    }

    #[test]
    fn choice_filters_read_choice_columns() {
        let mut out = BTreeSet::new();
        collect_bare_names(
            "region = ${region} and selected(${x}, name) or 'a b' = district",
            &mut out,
        );
        assert_eq!(
            out.into_iter().collect::<Vec<_>>(),
            vec!["district", "name", "region"]
        );
    }
}
