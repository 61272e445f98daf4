//! The enumerator's terminal interface (`vicor interview`).
//!
//! State (`app.rs`) is kept apart from drawing (`draw.rs`); keys become
//! [`keys::Action`]s through one key map (`keys.rs`); every interface
//! string is in `strings.rs`. This is the only module that touches the
//! terminal. The terminal is restored on exit, on panic (ratatui's hook)
//! and on Ctrl-C, and every answer is committed before the screen moves.

pub mod app;
pub mod backend;
pub mod draw;
pub mod keys;
pub mod strings;

use std::io;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event, KeyEventKind};

pub use app::{App, CaseRow, CaseStore, Opened};

/// Runs the interface until the enumerator quits.
pub fn run(app: &mut App) -> io::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(app, &mut terminal);
    ratatui::restore();
    result
}

fn event_loop(app: &mut App, terminal: &mut ratatui::DefaultTerminal) -> io::Result<()> {
    terminal.draw(|f| draw::draw(app, f))?;
    while !app.quit {
        // Poll so a resize redraws even without a key.
        if !event::poll(Duration::from_millis(250))? {
            continue;
        }
        match event::read()? {
            Event::Key(key) if key.kind == KeyEventKind::Press => {
                if let Some(action) = keys::action_for(key) {
                    app.handle(action);
                }
            }
            Event::Resize(_, _) => {}
            _ => continue,
        }
        terminal.draw(|f| draw::draw(app, f))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
