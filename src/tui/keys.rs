//! The one key map: every action and the key that triggers it. The footer
//! and the help screen are generated from it, so they never lie; the keys
//! are documented for users in `docs/keys.md`.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for. Tests send these directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Answer with what is typed or highlighted, then go on.
    Enter,
    Back,
    Next,
    DontKnow,
    Refused,
    Contents,
    Roster,
    Note,
    Review,
    Language,
    Help,
    /// Close a popup, or leave the interview for the case list.
    Escape,
    Quit,
    Up,
    Down,
    /// Toggle the highlighted option of a multiple-choice question.
    Toggle,
    Backspace,
    /// A character typed into a field (or a number choosing an option).
    Char(char),
    // Case list
    NewCase,
    SetOutcome,
    Complete,
}

/// A key and the action it triggers, with how the key is written.
pub struct Binding {
    pub action: Action,
    pub key: KeyCode,
    pub ctrl: bool,
    pub shown: &'static str,
}

/// The default bindings. Function keys and Ctrl combinations keep letters
/// free for typing answers.
pub const BINDINGS: &[Binding] = &[
    Binding {
        action: Action::Enter,
        key: KeyCode::Enter,
        ctrl: false,
        shown: "Enter",
    },
    Binding {
        action: Action::Back,
        key: KeyCode::PageUp,
        ctrl: false,
        shown: "PgUp",
    },
    Binding {
        action: Action::Next,
        key: KeyCode::PageDown,
        ctrl: false,
        shown: "PgDn",
    },
    Binding {
        action: Action::DontKnow,
        key: KeyCode::F(2),
        ctrl: false,
        shown: "F2",
    },
    Binding {
        action: Action::Refused,
        key: KeyCode::F(3),
        ctrl: false,
        shown: "F3",
    },
    Binding {
        action: Action::Contents,
        key: KeyCode::F(4),
        ctrl: false,
        shown: "F4",
    },
    Binding {
        action: Action::Roster,
        key: KeyCode::F(5),
        ctrl: false,
        shown: "F5",
    },
    Binding {
        action: Action::Note,
        key: KeyCode::F(6),
        ctrl: false,
        shown: "F6",
    },
    Binding {
        action: Action::Review,
        key: KeyCode::F(7),
        ctrl: false,
        shown: "F7",
    },
    Binding {
        action: Action::Language,
        key: KeyCode::F(8),
        ctrl: false,
        shown: "F8",
    },
    Binding {
        action: Action::Help,
        key: KeyCode::F(1),
        ctrl: false,
        shown: "F1",
    },
    Binding {
        action: Action::Escape,
        key: KeyCode::Esc,
        ctrl: false,
        shown: "Esc",
    },
    Binding {
        action: Action::Quit,
        key: KeyCode::Char('c'),
        ctrl: true,
        shown: "Ctrl-C",
    },
    Binding {
        action: Action::Quit,
        key: KeyCode::Char('q'),
        ctrl: true,
        shown: "Ctrl-Q",
    },
    Binding {
        action: Action::Up,
        key: KeyCode::Up,
        ctrl: false,
        shown: "↑",
    },
    Binding {
        action: Action::Down,
        key: KeyCode::Down,
        ctrl: false,
        shown: "↓",
    },
    Binding {
        action: Action::Toggle,
        key: KeyCode::Char(' '),
        ctrl: false,
        shown: "Space",
    },
    Binding {
        action: Action::Backspace,
        key: KeyCode::Backspace,
        ctrl: false,
        shown: "⌫",
    },
];

/// Turns a key press into an action.
pub fn action_for(key: KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if let Some(b) = BINDINGS
        .iter()
        .find(|b| b.key == key.code && b.ctrl == ctrl)
    {
        return Some(b.action);
    }
    match key.code {
        KeyCode::Char(c) if !ctrl => Some(Action::Char(c)),
        _ => None,
    }
}

/// How the key of an action is written (its first binding).
pub fn key_of(action: Action) -> &'static str {
    BINDINGS
        .iter()
        .find(|b| b.action == action)
        .map(|b| b.shown)
        .unwrap_or("?")
}

/// What an action is called, per interface language.
pub fn label(action: Action, language: &str) -> &'static str {
    let fr = language == "fr";
    match action {
        Action::Enter => {
            if fr {
                "répondre"
            } else {
                "answer"
            }
        }
        Action::Back => {
            if fr {
                "retour"
            } else {
                "back"
            }
        }
        Action::Next => {
            if fr {
                "suivante"
            } else {
                "next"
            }
        }
        Action::DontKnow => {
            if fr {
                "NSP"
            } else {
                "DK"
            }
        }
        Action::Refused => {
            if fr {
                "refus"
            } else {
                "RF"
            }
        }
        Action::Contents => {
            if fr {
                "plan"
            } else {
                "sections"
            }
        }
        Action::Roster => {
            if fr {
                "liste"
            } else {
                "roster"
            }
        }
        Action::Note => "note",
        Action::Review => {
            if fr {
                "vérifier"
            } else {
                "review"
            }
        }
        Action::Language => {
            if fr {
                "langue"
            } else {
                "language"
            }
        }
        Action::Help => {
            if fr {
                "aide"
            } else {
                "help"
            }
        }
        Action::Escape => {
            if fr {
                "fermer"
            } else {
                "close"
            }
        }
        Action::Quit => {
            if fr {
                "quitter"
            } else {
                "quit"
            }
        }
        Action::Up | Action::Down => {
            if fr {
                "choisir"
            } else {
                "move"
            }
        }
        Action::Toggle => {
            if fr {
                "cocher"
            } else {
                "tick"
            }
        }
        Action::Backspace => {
            if fr {
                "effacer"
            } else {
                "erase"
            }
        }
        Action::Char(_) => "",
        Action::NewCase => {
            if fr {
                "nouveau"
            } else {
                "new case"
            }
        }
        Action::SetOutcome => {
            if fr {
                "résultat"
            } else {
                "outcome"
            }
        }
        Action::Complete => {
            if fr {
                "terminer"
            } else {
                "complete"
            }
        }
    }
}

/// The footer of the question screen, built from the key map. During
/// self-completion the keys that show other answers are left out.
pub fn question_footer(language: &str, private: bool) -> String {
    [
        Action::Enter,
        Action::Back,
        Action::DontKnow,
        Action::Refused,
        Action::Contents,
        Action::Review,
        Action::Help,
    ]
    .iter()
    .filter(|a| !private || !matches!(a, Action::Contents | Action::Review))
    .map(|a| format!("{} {}", key_of(*a), label(*a, language)))
    .collect::<Vec<_>>()
    .join("  ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_keys_and_ctrl_map_to_actions() {
        assert_eq!(
            action_for(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE)),
            Some(Action::DontKnow)
        );
        assert_eq!(
            action_for(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(KeyEvent::new(KeyCode::Char('7'), KeyModifiers::NONE)),
            Some(Action::Char('7'))
        );
        assert_eq!(
            action_for(KeyEvent::new(KeyCode::Char(' '), KeyModifiers::NONE)),
            Some(Action::Toggle)
        );
    }

    #[test]
    fn every_hinted_action_has_a_key_and_the_footer_fits_80_columns() {
        for lang in ["en", "fr"] {
            let footer = question_footer(lang, false);
            assert!(!footer.contains('?'), "{footer}");
            assert!(footer.chars().count() <= 80, "{footer}");
        }
    }
}
