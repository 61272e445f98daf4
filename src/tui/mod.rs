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
    #[cfg(target_os = "linux")]
    hangup::watch();
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

/// Ends the process when its terminal goes away. A closed pseudo-terminal
/// normally sends SIGHUP, but where SIGHUP is ignored (`nohup`, some ssh and
/// tmux set-ups) crossterm's reader spins on the dead tty at full CPU and
/// never returns, so the event loop cannot notice (crossterm issue #793).
/// Every answer is committed before the screen moves, so the case resumes
/// where it was.
#[cfg(target_os = "linux")]
mod hangup {
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    /// Exit status of a process ended by its terminal's hangup (128 + SIGHUP).
    const HANGUP_STATUS: i32 = 129;

    pub fn watch() {
        // The controlling terminal, whichever of stdin or /dev/tty crossterm
        // reads; without one there is nothing to watch.
        let Ok(tty) = std::fs::File::open("/dev/tty") else {
            return;
        };
        std::thread::spawn(move || {
            loop {
                let mut fd = libc::pollfd {
                    fd: tty.as_raw_fd(),
                    events: 0,
                    revents: 0,
                };
                // SAFETY: one valid pollfd, owned by this frame; a zero
                // timeout never blocks.
                let ready = unsafe { libc::poll(&mut fd, 1, 0) };
                if ready > 0 && fd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                    std::process::exit(HANGUP_STATUS);
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        });
    }
}

#[cfg(test)]
mod tests;
