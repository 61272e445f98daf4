//! The real `vicor interview` in a pseudo-terminal: keys typed as bytes, the
//! screen read back through a small terminal emulator, the store checked
//! afterwards. `script` (util-linux, in every Debian base system) provides
//! the pseudo-terminal, so no extra crate is needed.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vicor::store::Store;
use vicor::store::session::from_stored;

use crate::util::{Dir, root};

const F2: &str = "\x1bOQ";
const F4: &str = "\x1bOS";
const PAGE_UP: &str = "\x1b[5~";
const DOWN: &str = "\x1b[B";
const CTRL_C: &str = "\x03";

/// `vicor interview` running in a pseudo-terminal of 80×24.
struct Pty {
    child: Child,
    stdin: ChildStdin,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    fn start(args: &[&str]) -> Option<Pty> {
        Pty::start_after("", args)
    }

    /// Starts vicor after `prelude`, shell commands run in the terminal
    /// first (`exec` keeps vicor's pid that of the shell, `$$`).
    fn start_after(prelude: &str, args: &[&str]) -> Option<Pty> {
        if Command::new("script").arg("--version").output().is_err() {
            eprintln!("skipped: `script` (util-linux) is not installed");
            return None;
        }
        let bin = env!("CARGO_BIN_EXE_vicor");
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        let shell = format!(
            "{prelude} stty cols 80 rows 24; exec {bin} {}",
            quoted.join(" ")
        );
        // `setsid` gives script a session of its own (no controlling
        // terminal to stop it), whose id is its pid: one kill ends it all.
        let mut child = Command::new("setsid")
            .args(["script", "-qec", &shell, "/dev/null"])
            .env("TERM", "xterm-256color")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("script starts");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = child.stdout.take().expect("stdout");
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("output lock")
                    .extend_from_slice(&buf[..n]);
            }
        });
        let pty = Pty {
            child,
            stdin,
            output,
        };
        pty.wait_for("vicor");
        Some(pty)
    }

    /// Types keys, then lets the interface draw.
    fn keys(&mut self, keys: &str) {
        self.stdin
            .write_all(keys.as_bytes())
            .expect("keys are written");
        self.stdin.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(250));
    }

    /// Types text and Enter, one key at a time.
    fn answer(&mut self, text: &str) {
        for c in text.chars() {
            self.keys(&c.to_string());
        }
        self.keys("\r");
    }

    fn screen(&self) -> String {
        render(&self.output.lock().expect("output lock"))
    }

    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            if start.elapsed() > Duration::from_secs(15) {
                panic!("`{text}` never appeared; the screen is:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL to `script` alone, which holds the terminal's master side:
    /// the terminal hangs up under vicor, as when a laptop's terminal
    /// window or ssh session dies.
    fn hang_up(mut self) {
        let _ = Command::new("kill")
            .args(["-9", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// SIGKILL to the whole session (script and vicor).
    fn kill(mut self) {
        let pgid = self.child.id();
        let _ = Command::new("kill")
            .args(["-9", "--", &format!("-{pgid}")])
            .status();
        let _ = self.child.wait();
    }

    fn finish(mut self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
        panic!("vicor did not quit");
    }
}

/// Replays terminal output on an 80×24 grid: cursor moves (`CSI r;c H`)
/// and printed characters; every other sequence is skipped. Enough to read
/// what ratatui draws. The last drawn frame wins.
fn render(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut grid = vec![vec![' '; 80]; 24];
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            // Only CSI sequences matter; other escapes are skipped.
            '\x1b' if chars.next() == Some('[') => {
                let mut params = String::new();
                for p in chars.by_ref() {
                    if p.is_ascii_alphabetic() || p == '~' || p == '@' {
                        if p == 'H' {
                            let mut it = params.split(';').map(|n| n.parse::<usize>().unwrap_or(1));
                            row = it.next().unwrap_or(1).saturating_sub(1);
                            col = it.next().unwrap_or(1).saturating_sub(1);
                        } else if p == 'J' && params == "2" {
                            grid = vec![vec![' '; 80]; 24];
                        }
                        break;
                    }
                    params.push(p);
                }
            }
            '\r' => col = 0,
            '\n' => row += 1,
            c if !c.is_control() => {
                if row < 24 && col < 80 {
                    grid[row][col] = c;
                }
                col += 1;
            }
            _ => {}
        }
    }
    grid.iter()
        .map(|r| r.iter().collect::<String>().trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn example() -> String {
    root()
        .join("instruments/example.yaml")
        .display()
        .to_string()
}

fn only_case(db: &Path) -> vicor::store::CaseRecord {
    let store = Store::open(db, None).expect("store opens");
    let cases = store.cases().expect("cases");
    assert_eq!(cases.len(), 1);
    store.case(&cases[0].id).expect("case")
}

#[test]
fn an_interview_typed_in_a_terminal_is_stored() {
    let dir = Dir::new();
    let db = dir.join("pty.db").display().to_string();
    let example = example();
    let Some(mut t) = Pty::start(&["interview", &example, "--db", &db, "--enumerator", "E07"])
    else {
        return;
    };
    t.wait_for("No cases yet");
    t.keys("n");
    t.wait_for("Do you agree to take part");
    t.answer("1");
    t.wait_for("Thank you");
    t.keys("\r");
    t.wait_for("How many people usually live");
    // A large household needs a confirmation...
    t.answer("20");
    t.wait_for("please confirm");
    t.keys("\r");
    t.wait_for("What is the first name");
    // ...then back to correct it.
    t.keys(PAGE_UP);
    t.wait_for("How many people usually live");
    t.answer("2");
    t.wait_for("What is the first name");
    t.answer("Ana");
    t.wait_for("Is Ana male or female?");
    t.answer("2");
    t.wait_for("date of birth");
    t.keys(F2); // don't know
    t.wait_for("Household members 2/2");
    t.answer("Ben");
    t.answer("1");
    t.answer("1975-11-30");
    t.wait_for("Which of these did your household own");
    t.keys(" "); // tick the highlighted option (car)
    t.keys("\r");
    t.wait_for("was one stolen");
    t.answer("2");
    // Jump through the contents to the officials section.
    t.keys(F4);
    t.wait_for("Sections");
    t.keys(DOWN);
    t.keys("\r");
    t.wait_for("did you have contact with this type");
    t.answer("2");
    t.answer("2");
    t.answer("2");
    t.wait_for("hand the laptop to the respondent");
    t.keys("\r");
    t.wait_for("offensive sexual remarks");
    t.answer("2");
    t.wait_for("type your enumerator ID");
    t.answer("E07");
    t.wait_for("Press c to complete");
    t.keys("c");
    t.wait_for("(y/n)");
    t.keys("y");
    t.wait_for("This interview is complete");
    t.keys(CTRL_C);
    t.finish();

    let record = only_case(&dir.join("pty.db"));
    let get = |p: &str| record.answers.get(p).map(|a| from_stored(a).to_string());
    assert_eq!(get("hh_size").as_deref(), Some("2"));
    assert_eq!(get("members[1].name").as_deref(), Some("Ana"));
    assert_eq!(get("members[1].birth_date").as_deref(), Some("dk"));
    assert_eq!(get("members[2].birth_date").as_deref(), Some("1975-11-30"));
    assert_eq!(get("vehicles").as_deref(), Some("1"));
    assert_eq!(get("harassed").as_deref(), Some("2"));
    assert_eq!(record.summary.status, vicor::store::CaseStatus::Completed);
    let store = Store::open(&dir.join("pty.db"), None).expect("open");
    let events = store.events(&record.summary.id).expect("events");
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    for kind in [
        "soft_check_confirmed",
        "random_selection",
        "navigate",
        "complete",
    ] {
        assert!(kinds.contains(&kind), "no {kind} event in {kinds:?}");
    }
}

#[test]
fn killed_mid_interview_it_resumes_at_the_same_question() {
    let dir = Dir::new();
    let db = dir.join("kill.db").display().to_string();
    let example = example();
    let Some(mut t) = Pty::start(&["interview", &example, "--db", &db, "--enumerator", "E07"])
    else {
        return;
    };
    t.wait_for("No cases yet");
    t.keys("n");
    t.answer("1");
    t.keys("\r");
    t.answer("1");
    t.wait_for("What is the first name");
    t.answer("Ana");
    t.wait_for("Is Ana male or female?");
    t.kill();

    let record = only_case(&dir.join("kill.db"));
    assert_eq!(record.summary.resume.as_deref(), Some("members[1].sex"));
    let id = record.summary.id.to_string();
    let Some(t) = Pty::start(&[
        "interview",
        &example,
        "--db",
        &db,
        "--enumerator",
        "E07",
        "--case",
        &id,
    ]) else {
        return;
    };
    let screen = t.wait_for("Is Ana male or female?");
    assert!(screen.contains("Household members 1/1: Ana"), "{screen}");
    t.kill();
}

/// Whether a process is still running (not gone, not a zombie).
fn running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the command name in parentheses.
            let (_, rest) = stat.rsplit_once(')')?;
            rest.split_whitespace().next().map(|state| state != "Z")
        })
        .unwrap_or(false)
}

#[test]
fn a_terminal_that_hangs_up_ends_the_interview_with_its_answers_kept() {
    let dir = Dir::new();
    let db = dir.join("hangup.db").display().to_string();
    let pid_file = dir.join("vicor.pid");
    let example = example();
    // SIGHUP ignored, as under nohup: only vicor itself can notice.
    let prelude = format!("trap '' HUP; echo $$ > '{}';", pid_file.display());
    let Some(mut t) = Pty::start_after(
        &prelude,
        &["interview", &example, "--db", &db, "--enumerator", "E07"],
    ) else {
        return;
    };
    t.wait_for("No cases yet");
    t.keys("n");
    t.answer("1");
    t.keys("\r");
    t.answer("1");
    t.wait_for("What is the first name");
    let pid = std::fs::read_to_string(&pid_file).expect("the shell wrote its pid");
    let pid = pid.trim().to_string();
    assert!(running(&pid), "vicor runs before the hangup");
    t.hang_up();

    let start = Instant::now();
    while running(&pid) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    if running(&pid) {
        let _ = Command::new("kill").args(["-9", &pid]).status();
        panic!("vicor kept running after its terminal hung up");
    }
    let record = only_case(&dir.join("hangup.db"));
    assert_eq!(record.summary.resume.as_deref(), Some("members[1].name"));
    assert_eq!(
        record
            .answers
            .get("hh_size")
            .map(|a| from_stored(a).to_string())
            .as_deref(),
        Some("1")
    );
}
