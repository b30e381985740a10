//! journal.jsonl: the lifecycle of every order, one JSON line per fact,
//! written straight to the file (no buffer) by the worker that learns it, so
//! a `kill -9` loses nothing that happened before it. `runner resume` reads
//! it back. The intent line is written *before* a create is sent: an order
//! with an intent and no id may or may not exist on the target. A step line
//! after each step of a flow, with what the step captured, lets resume continue
//! an order from where it was.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One line of the journal; `n` is the order's sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Entry {
    /// The create request is about to be sent.
    Intent {
        /// Order number.
        n: u32,
    },
    /// The target gave the order this id.
    Created {
        /// Order number.
        n: u32,
        /// Its id on the target.
        id: String,
    },
    /// The order is in this state.
    State {
        /// Order number.
        n: u32,
        /// The state.
        state: String,
    },
    /// A step of the order's flow finished; the flow goes on at step `next`.
    Step {
        /// Order number.
        n: u32,
        /// Index of the next step of the flow.
        next: u16,
        /// What the finished step captured (variable → value).
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        vars: Map<String, Value>,
    },
    /// The order's flow ended (completed, failed or interrupted).
    FlowEnd {
        /// Order number.
        n: u32,
    },
    /// Cleanup finished with the order, terminal or given up.
    Done {
        /// Order number.
        n: u32,
    },
}

/// The append-only journal file.
pub struct Journal {
    file: Mutex<File>,
}

impl Journal {
    /// Opens `path` for appending (creating it readable by its owner only:
    /// captured values, tokens included, are written to it).
    pub fn open(path: &Path) -> io::Result<Journal> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        Ok(Journal {
            file: Mutex::new(file),
        })
    }

    /// Appends one entry as one write, so a crash never leaves half a line behind
    /// another writer's line. Errors are logged: the run goes on without it.
    pub fn write(&self, entry: &Entry) {
        let mut line = serde_json::to_vec(entry).expect("entries serialize");
        line.push(b'\n');
        let mut file = self.file.lock().expect("journal lock");
        if let Err(e) = file.write_all(&line) {
            tracing::error!(error = %e, "cannot write the journal");
        }
    }
}

/// What the journal says about each order, by sequence number.
#[derive(Debug, Default, Clone)]
pub struct Known {
    /// A create was sent.
    pub intent: bool,
    /// Its id, if the create was answered.
    pub id: Option<String>,
    /// Every state seen, in order (the last is the current one).
    pub states: Vec<String>,
    /// The flow step to continue from (0 when no step finished).
    pub next: u16,
    /// Every variable its finished steps captured.
    pub vars: Map<String, Value>,
    /// Its flow ended.
    pub flow_ended: bool,
    /// Cleanup finished with it.
    pub done: bool,
}

/// Reads a journal; a torn last line (killed mid-write) is ignored.
pub fn read(path: &Path) -> io::Result<HashMap<u32, Known>> {
    let mut known: HashMap<u32, Known> = HashMap::new();
    for line in io::BufReader::new(File::open(path)?).lines() {
        let Ok(entry) = serde_json::from_str::<Entry>(&line?) else {
            continue;
        };
        match entry {
            Entry::Intent { n } => known.entry(n).or_default().intent = true,
            Entry::Created { n, id } => known.entry(n).or_default().id = Some(id),
            Entry::State { n, state } => known.entry(n).or_default().states.push(state),
            Entry::Step { n, next, vars } => {
                let k = known.entry(n).or_default();
                k.next = k.next.max(next);
                k.vars.extend(vars);
            }
            Entry::FlowEnd { n } => known.entry(n).or_default().flow_ended = true,
            Entry::Done { n } => known.entry(n).or_default().done = true,
        }
    }
    Ok(known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_and_a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let j = Journal::open(&path).unwrap();
        j.write(&Entry::Intent { n: 1 });
        j.write(&Entry::Created {
            n: 1,
            id: "ord-1".into(),
        });
        j.write(&Entry::State {
            n: 1,
            state: "Accepted".into(),
        });
        j.write(&Entry::Step {
            n: 1,
            next: 1,
            vars: Map::from_iter([("orderId".to_owned(), Value::from("ord-1"))]),
        });
        j.write(&Entry::Step {
            n: 1,
            next: 2,
            vars: Map::new(),
        });
        j.write(&Entry::Intent { n: 2 });
        drop(j);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"t\":\"created\",\"n\":2,\"i")
            .unwrap();
        let known = read(&path).unwrap();
        assert_eq!(known[&1].id.as_deref(), Some("ord-1"));
        assert_eq!(known[&1].states, ["Accepted"]);
        assert_eq!(known[&1].next, 2);
        assert_eq!(known[&1].vars["orderId"], "ord-1");
        assert!(known[&2].intent && known[&2].id.is_none());
    }
}
