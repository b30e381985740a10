//! journal.jsonl: the lifecycle of every order, one JSON line per fact.
//! `runner resume` reads it back. The intent line is written *before* a
//! create is sent: an order with an intent and no id may or may not exist on
//! the target. A step line after each step of a flow, with what the step
//! captured, lets resume continue an order from where it was.
//!
//! **What a `kill -9` keeps.** Lines are queued by the worker that learns
//! the fact, and written, all that are queued in one `write`
//! ([`Journal::sync`]), at the end of each step of a flow, before any
//! request goes out and before a flow's pauses and intervals
//! (`Executor::wait`). So no request is ever sent on the strength of a line
//! the file does not have, and a step's line is in the file before its flow
//! goes on, as when every line was written at once. What nothing follows
//! (a flow's end, cleanup done; states and ids until their step ends) is
//! written by the journal's own thread within about two milliseconds, many
//! lines in one `write`, unless a worker's next `sync` writes it first:
//! 10,000 flows ending together no longer make the workers wait for
//! 20,000 writes. A `kill -9` can lose only those lines of its last
//! milliseconds; resume then takes those facts as not having happened
//! (it checks the order's state or looks its create up).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

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

/// The append-only journal file and the thread that writes what no request
/// is waiting for.
pub struct Journal {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    /// Held while writing, so lines go out in the order they were queued;
    /// with the buffer the queue's lines are swapped into (no allocation
    /// per write).
    file: Mutex<(File, Vec<u8>)>,
    queue: Mutex<Queue>,
    /// Wakes the writer thread out of its idle wait.
    wake: Condvar,
    /// Lines queued so far, and lines in the file.
    queued: AtomicU64,
    written: AtomicU64,
}

#[derive(Default)]
struct Queue {
    lines: Vec<u8>,
    /// The writer waits for a wake (nothing came for a while).
    idle: bool,
    closed: bool,
}

/// How long the writer thread lets lines gather before it writes them.
const GATHER: Duration = Duration::from_millis(1);

impl Journal {
    /// Opens `path` for appending (creating it readable by its owner only:
    /// captured values, tokens included, are written to it) and starts its
    /// writer thread.
    pub fn open(path: &Path) -> io::Result<Journal> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let shared = Arc::new(Shared {
            file: Mutex::new((options.open(path)?, Vec::new())),
            queue: Mutex::default(),
            wake: Condvar::new(),
            queued: AtomicU64::new(0),
            written: AtomicU64::new(0),
        });
        let writer = std::thread::Builder::new()
            .name("runner-journal".into())
            .spawn({
                let shared = shared.clone();
                move || shared.run()
            })?;
        Ok(Journal {
            shared,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Queues one entry as one line (lines are written whole, so a crash
    /// never leaves half a line behind another line).
    pub fn write(&self, entry: &Entry) {
        thread_local! {
            /// Each thread's line, made outside the queue's lock and reused.
            static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        let mut queue = LINE.with_borrow_mut(|line| {
            line.clear();
            serde_json::to_writer(&mut *line, entry).expect("entries serialize");
            line.push(b'\n');
            let mut queue = self.shared.lock_queue();
            queue.lines.extend_from_slice(line);
            queue
        });
        self.shared.queued.fetch_add(1, Ordering::Release);
        if std::mem::take(&mut queue.idle) {
            self.shared.wake.notify_one();
        }
        let closed = queue.closed;
        drop(queue);
        if closed {
            // After `close`: no thread to write it.
            self.sync();
        }
    }

    /// Writes every line queued so far, unless that is done already: called
    /// before a request goes out. Errors are logged: the run goes on without
    /// the journal.
    pub fn sync(&self) {
        let queued = self.shared.queued.load(Ordering::Acquire);
        if self.shared.written.load(Ordering::Acquire) < queued {
            self.shared.flush();
        }
    }

    /// Writes what is queued and stops the writer thread; later entries are
    /// written at once. At the end of the run, so the file is whole.
    pub fn close(&self) {
        self.shared.lock_queue().closed = true;
        self.shared.wake.notify_one();
        if let Some(writer) = self.writer.lock().expect("journal lock").take() {
            let _ = writer.join();
        }
        self.shared.flush();
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.close();
    }
}

impl Shared {
    fn lock_queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().expect("journal lock")
    }

    /// Writes every queued line in one `write`.
    fn flush(&self) {
        let mut guard = self.file.lock().expect("journal lock");
        let (file, lines) = &mut *guard;
        let queued = {
            let mut queue = self.lock_queue();
            std::mem::swap(lines, &mut queue.lines);
            self.queued.load(Ordering::Acquire)
        };
        if !lines.is_empty()
            && let Err(e) = file.write_all(lines)
        {
            tracing::error!(error = %e, "cannot write the journal");
        }
        lines.clear();
        self.written.store(queued, Ordering::Release);
    }

    /// The writer thread: every `GATHER` while lines come, writes those
    /// that were queued a `GATHER` ago and that no worker has written since
    /// (workers write before their requests, so under load it seldom has
    /// to); waits for a wake when no lines come. Once woken it naps a
    /// `GATHER` before it looks again, so workers wake it at most once a
    /// `GATHER`, not once a line.
    fn run(&self) {
        loop {
            {
                let mut queue = self.lock_queue();
                if queue.lines.is_empty() && !queue.closed {
                    queue.idle = true;
                    queue = self.wake.wait(queue).expect("journal lock");
                }
                if queue.closed {
                    return;
                }
            }
            let seen = self.queued.load(Ordering::Acquire);
            std::thread::sleep(GATHER);
            if self.written.load(Ordering::Acquire) < seen {
                self.flush();
            }
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

    /// A journal in a fresh folder (kept while the test runs), and its path.
    fn open() -> (tempfile::TempDir, std::path::PathBuf, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let j = Journal::open(&path).unwrap();
        (dir, path, j)
    }

    fn lines(path: &Path) -> usize {
        std::fs::read_to_string(path).unwrap().lines().count()
    }

    #[test]
    fn after_sync_every_queued_line_is_in_the_file() {
        let (_dir, path, j) = open();
        for n in 0..100 {
            j.write(&Entry::Intent { n });
        }
        j.sync();
        // Read while the journal is open: nothing waits for its thread.
        assert_eq!(lines(&path), 100);
        let known = read(&path).unwrap();
        assert!((0..100).all(|n| known[&n].intent));
    }

    #[test]
    fn lines_no_request_waits_for_are_written_by_the_journal_thread() {
        let (_dir, path, j) = open();
        j.write(&Entry::Done { n: 7 });
        let mut waited = Duration::ZERO;
        while lines(&path) == 0 && waited < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
            waited += Duration::from_millis(1);
        }
        assert_eq!(lines(&path), 1, "written with no sync and no close");
        drop(j);
    }

    #[test]
    fn lines_from_many_threads_are_whole_and_all_there_after_close() {
        let (_dir, path, j) = open();
        std::thread::scope(|scope| {
            for t in 0..4u32 {
                let (j, path) = (&j, &path);
                scope.spawn(move || {
                    for i in 0..500 {
                        let n = t * 1000 + i;
                        j.write(&Entry::State {
                            n,
                            state: "Accepted".into(),
                        });
                        if i % 7 == 0 {
                            j.sync();
                            let file = std::fs::read_to_string(path).unwrap();
                            let mine = format!("\"n\":{n},");
                            assert!(file.contains(&mine), "{n} in the file after sync");
                        }
                    }
                });
            }
        });
        j.close();
        j.write(&Entry::Done { n: 1 });
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed: Vec<Entry> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a whole line"))
            .collect();
        assert_eq!(parsed.len(), 2001, "every line, and the one after close");
        assert_eq!(parsed.last(), Some(&Entry::Done { n: 1 }));
    }

    #[test]
    fn entries_read_back_and_a_torn_last_line_is_skipped() {
        let (_dir, path, j) = open();
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
