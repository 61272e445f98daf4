//! Every string the interface shows that does not come from the
//! questionnaire, in each interface language. Question texts, options and
//! check messages come from the instrument.

/// The interface strings of one language.
#[derive(Debug, Clone)]
pub struct Strings {
    pub cases_title: &'static str,
    pub no_cases: &'static str,
    pub col_case: &'static str,
    pub col_status: &'static str,
    pub col_outcome: &'static str,
    pub col_modified: &'static str,
    pub col_enumerator: &'static str,
    pub col_review: &'static str,
    /// Pending, approved, rejected.
    pub reviews: [&'static str; 3],
    /// Before the supervisor's comment on a rejected case.
    pub supervisor_says: &'static str,
    pub dont_know: &'static str,
    pub refused: &'static str,
    pub answer_prompt: &'static str,
    pub select_hint: &'static str,
    pub multi_hint: &'static str,
    pub note_hint: &'static str,
    pub confirm_warning: &'static str,
    pub toc_title: &'static str,
    pub roster_title: &'static str,
    pub review_title: &'static str,
    pub help_title: &'static str,
    pub note_title: &'static str,
    pub outcome_title: &'static str,
    pub confirm_title: &'static str,
    pub complete_question: &'static str,
    pub rows_lost_question: &'static str,
    pub status_complete: &'static str,
    pub status_unanswered: &'static str,
    pub status_errors: &'static str,
    pub status_not_started: &'static str,
    pub unanswered: &'static str,
    pub invalid: &'static str,
    pub critical: &'static str,
    pub all_done: &'static str,
    pub completed: &'static str,
    pub self_start_title: &'static str,
    pub self_start: &'static str,
    pub self_end_title: &'static str,
    pub self_end: &'static str,
    pub hidden: &'static str,
    pub saved: &'static str,
    pub no_roster: &'static str,
    pub key_not_here: &'static str,
    pub open: &'static str,
    pub months: [&'static str; 12],
    pub statuses: [&'static str; 3],
    pub outcomes: [&'static str; 6],
}

/// What the enumerator is told when an answer changed a roster so that a
/// random selection was drawn again (or no row is eligible any more): the
/// engine redraws on its own, and the person to interview may have changed.
pub fn redrawn(update: &crate::interview::Update, language: &str) -> Option<String> {
    use crate::interview::EventKind;
    let redraw = update
        .events
        .iter()
        .find(|e| e.kind == EventKind::RandomSelection && e.old.is_some())?;
    let path = redraw.path.as_ref()?;
    let old = redraw.old.as_deref().unwrap_or_default();
    let new = update
        .answers
        .iter()
        .find(|(p, _)| p == path)
        .and_then(|(_, a)| a.as_ref())
        .map(|a| a.to_string());
    Some(match (new, language) {
        (Some(new), "fr") => format!(
            "La liste a changé : {path} a été tiré à nouveau, ligne {new} au lieu de la ligne {old}. Vérifiez qui interroger."
        ),
        (Some(new), _) => format!(
            "The list changed, so {path} was drawn again: row {new} instead of row {old}. Check who to interview."
        ),
        (None, "fr") => format!(
            "La liste a changé : plus aucune ligne n'est éligible pour {path} (c'était la ligne {old})."
        ),
        (None, _) => {
            format!("The list changed: no row is eligible for {path} any more (it was row {old}).")
        }
    })
}

/// The languages the interface itself speaks.
pub const LANGUAGES: &[&str] = &["en", "fr"];

/// Strings for `language`, English when the interface has no translation.
pub fn strings(language: &str) -> &'static Strings {
    match language {
        "fr" => &FR,
        _ => &EN,
    }
}

pub static EN: Strings = Strings {
    cases_title: "Cases",
    no_cases: "No cases yet. Press n to start one.",
    col_case: "Case",
    col_status: "Status",
    col_outcome: "Outcome",
    col_modified: "Last change",
    col_enumerator: "Enumerator",
    col_review: "Review",
    reviews: ["pending", "approved", "rejected"],
    supervisor_says: "Sent back by the supervisor",
    dont_know: "Don't know",
    refused: "Refused",
    answer_prompt: "Answer",
    select_hint: "Type the number of an option, or move with ↑↓, then Enter.",
    multi_hint: "Space or the option's number ticks it; Enter when done.",
    note_hint: "Press Enter to go on.",
    confirm_warning: "Press Enter again to confirm this answer.",
    toc_title: "Sections",
    roster_title: "Roster",
    review_title: "Review",
    help_title: "Keys",
    note_title: "Note on this question",
    outcome_title: "Outcome of the contact",
    confirm_title: "Please confirm",
    complete_question: "Mark this interview as complete? (y/n)",
    rows_lost_question: "Rows with answers would be dropped. Continue? (y/n)",
    status_complete: "complete",
    status_unanswered: "unanswered",
    status_errors: "errors",
    status_not_started: "not reached",
    unanswered: "Unanswered",
    invalid: "Invalid",
    critical: "Critical rule",
    all_done: "Everything is answered and valid. Press c to complete.",
    completed: "This interview is complete.",
    self_start_title: "Self-completion",
    self_start: "Please hand the laptop to the respondent. Respondent: press Enter to begin. Your answers are private.",
    self_end_title: "Return to the interviewer",
    self_end: "Thank you. Please hand the laptop back. Interviewer: type your enumerator ID and press Enter.",
    hidden: "(hidden during self-completion)",
    saved: "saved",
    no_roster: "The current question is not in a roster.",
    key_not_here: "That key does nothing here; press F1 for help.",
    open: "open",
    months: crate::instrument::expr::ENGLISH_MONTHS,
    statuses: ["new", "in progress", "completed"],
    outcomes: [
        "complete",
        "partial",
        "refused",
        "non-contact",
        "ineligible",
        "other",
    ],
};

pub static FR: Strings = Strings {
    cases_title: "Dossiers",
    no_cases: "Aucun dossier. Appuyez sur n pour en commencer un.",
    col_case: "Dossier",
    col_status: "État",
    col_outcome: "Résultat",
    col_modified: "Dernière modification",
    col_enumerator: "Enquêteur",
    col_review: "Contrôle",
    reviews: ["en attente", "accepté", "renvoyé"],
    supervisor_says: "Renvoyé par le superviseur",
    dont_know: "Ne sait pas",
    refused: "Refus",
    answer_prompt: "Réponse",
    select_hint: "Tapez le numéro d'une option, ou utilisez ↑↓, puis Entrée.",
    multi_hint: "Espace ou le numéro de l'option la coche ; Entrée pour valider.",
    note_hint: "Appuyez sur Entrée pour continuer.",
    confirm_warning: "Appuyez de nouveau sur Entrée pour confirmer cette réponse.",
    toc_title: "Sections",
    roster_title: "Liste",
    review_title: "Vérification",
    help_title: "Touches",
    note_title: "Note sur cette question",
    outcome_title: "Résultat du contact",
    confirm_title: "Veuillez confirmer",
    complete_question: "Marquer cet entretien comme terminé ? (y/n)",
    rows_lost_question: "Des lignes avec des réponses seraient retirées. Continuer ? (y/n)",
    status_complete: "terminée",
    status_unanswered: "sans réponse",
    status_errors: "erreurs",
    status_not_started: "non atteinte",
    unanswered: "Sans réponse",
    invalid: "Invalide",
    critical: "Règle critique",
    all_done: "Tout est répondu et valide. Appuyez sur c pour terminer.",
    completed: "Cet entretien est terminé.",
    self_start_title: "Auto-administration",
    self_start: "Veuillez remettre l'ordinateur à la personne interrogée. Personne interrogée : appuyez sur Entrée pour commencer. Vos réponses restent privées.",
    self_end_title: "Retour à l'enquêteur",
    self_end: "Merci. Veuillez rendre l'ordinateur. Enquêteur : tapez votre identifiant et appuyez sur Entrée.",
    hidden: "(masqué pendant l'auto-administration)",
    saved: "enregistré",
    no_roster: "La question actuelle n'est pas dans une liste.",
    key_not_here: "Cette touche ne fait rien ici ; F1 pour l'aide.",
    open: "ouvrir",
    months: [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    statuses: ["nouveau", "en cours", "terminé"],
    outcomes: [
        "complet",
        "partiel",
        "refus",
        "non-contact",
        "inéligible",
        "autre",
    ],
};

use crate::interview::{Invalid, Refusal};

/// Why typed text is not a value of the item's kind.
pub fn not_parsed(kind: &str, input: &str, language: &str) -> String {
    let fr = language == "fr";
    match (kind, fr) {
        ("option", false) => format!("`{input}` is not an option number"),
        ("option", true) => format!("« {input} » n'est pas un numéro d'option"),
        ("integer", false) => format!("`{input}` is not a whole number"),
        ("integer", true) => format!("« {input} » n'est pas un nombre entier"),
        ("date", false) => format!("`{input}` is not a date (YYYY-MM-DD)"),
        ("date", true) => format!("« {input} » n'est pas une date (AAAA-MM-JJ)"),
        (_, false) => format!("`{input}` is not a number"),
        (_, true) => format!("« {input} » n'est pas un nombre"),
    }
}

/// An engine refusal in the interface language.
pub fn refusal(r: &Refusal, language: &str) -> String {
    if language != "fr" {
        return crate::interview::script::describe(r);
    }
    match r {
        Refusal::NoPosition => "aucune question en cours".into(),
        Refusal::Invalid(i) => invalid_fr(i),
        Refusal::Blocked(m) => m.join(" ; "),
        Refusal::NeedsConfirmation(m) => m.join(" ; "),
        Refusal::RowsWouldBeLost { .. } => FR.rows_lost_question.into(),
        Refusal::SpecialNotAllowed => "« ne sait pas » et « refus » ne sont pas permis ici".into(),
        Refusal::Unanswered => "cette question demande d'abord une réponse".into(),
        Refusal::SelectionNotReady => {
            "répondez à toutes les questions précédentes avant la sélection aléatoire".into()
        }
        Refusal::AtStart => "c'est déjà la première question".into(),
        Refusal::AtEnd => "c'est déjà la dernière question".into(),
        Refusal::NotOnPath => "cette question n'est pas sur le parcours de l'entretien".into(),
        Refusal::NotComplete(p) => format!(
            "pas terminé : {} sans réponse, {} invalides, {} règles critiques",
            p.unanswered.len(),
            p.invalid.len(),
            p.critical.len()
        ),
    }
}

fn invalid_fr(i: &Invalid) -> String {
    match i {
        Invalid::NotAQuestion => "cet élément n'attend pas de réponse".into(),
        Invalid::NotAnOption(c) => format!("{c} n'est pas une des options"),
        Invalid::NotYesNo => "répondez 1 (oui) ou 2 (non)".into(),
        Invalid::Empty => "la réponse est vide".into(),
        Invalid::TooLong(n) => format!("au plus {n} caractères"),
        Invalid::AtLeast(x) => format!("la réponse doit être au moins {x}"),
        Invalid::AtMost(x) => format!("la réponse doit être au plus {x}"),
        Invalid::DateBefore(d) => format!("la date doit être le {d} ou après"),
        Invalid::DateAfter(d) => format!("la date doit être le {d} ou avant"),
        Invalid::WrongKind { answer, .. } => format!("{answer} n'est pas une réponse valable ici"),
    }
}
