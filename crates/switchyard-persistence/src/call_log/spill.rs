//! The spill file: call-log entries the database could not take in time, one JSON line each,
//! in the data directory. Replay first renames the file aside (new spills start a fresh one),
//! inserts its lines with "do nothing on a duplicate id" and deletes it once all are in: a replay
//! cut short by a crash or an outage runs again from the start, and the ids keep every entry
//! in the table exactly once.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use switchyard_domain::gateway::CallLogEntry;

use crate::call_log::rows::SpillLine;

/// The spill file's name in the data directory.
pub const SPILL_FILE: &str = "call-log-spill.jsonl";
/// The name a spill file takes while it is replayed.
const REPLAYING_FILE: &str = "call-log-spill.replaying.jsonl";

#[derive(Debug)]
pub struct SpillFile {
    path: PathBuf,
    replaying: PathBuf,
    /// The open file, appended to under the lock; closed before the file is renamed aside.
    file: Mutex<Option<File>>,
}

impl SpillFile {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join(SPILL_FILE),
            replaying: dir.join(REPLAYING_FILE),
            file: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends entries, one line each, and syncs them to disk.
    pub fn append(&self, entries: &[CallLogEntry]) -> std::io::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for entry in entries {
            let line = serde_json::to_string(&SpillLine::new(entry)).map_err(std::io::Error::other)?;
            text.push_str(&line);
            text.push('\n');
        }
        let mut guard = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.is_none() {
            if let Some(dir) = self.path.parent() {
                fs::create_dir_all(dir)?;
            }
            *guard = Some(OpenOptions::new().create(true).append(true).open(&self.path)?);
        }
        let Some(file) = guard.as_mut() else {
            return Err(std::io::Error::other("the spill file is not open"));
        };
        file.write_all(text.as_bytes())?;
        file.sync_data()
    }

    /// Whether anything waits to be replayed.
    pub fn has_entries(&self) -> bool {
        let size = |path: &Path| fs::metadata(path).map(|meta| meta.len()).unwrap_or(0);
        size(&self.replaying) > 0 || size(&self.path) > 0
    }

    /// The file to replay: one a replay left behind, or the spill file renamed aside.
    pub fn take_for_replay(&self) -> std::io::Result<Option<PathBuf>> {
        if self.replaying.exists() {
            return Ok(Some(self.replaying.clone()));
        }
        let mut guard = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = None;
        match fs::rename(&self.path, &self.replaying) {
            Ok(()) => Ok(Some(self.replaying.clone())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The replayed file is in the database: it goes.
    pub fn finish_replay(&self, path: &Path) -> std::io::Result<()> {
        fs::remove_file(path)
    }
}

/// Reads a spill file in batches of `size` entries. A line that does not read (the torn last
/// line of a crash) is skipped and counted.
pub struct SpillReader {
    lines: std::io::Lines<BufReader<File>>,
    pub skipped: u64,
}

impl SpillReader {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            lines: BufReader::new(File::open(path)?).lines(),
            skipped: 0,
        })
    }

    pub fn next_batch(&mut self, size: usize) -> std::io::Result<Vec<CallLogEntry>> {
        let mut batch = Vec::with_capacity(size);
        while batch.len() < size {
            let Some(line) = self.lines.next() else {
                break;
            };
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<SpillLine>(&line)
                .ok()
                .and_then(SpillLine::into_entry)
            {
                Some(entry) => batch.push(entry),
                None => self.skipped += 1,
            }
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use switchyard_domain::gateway::{Endpoint, Usage};
    use uuid::Uuid;

    pub fn entry(request: &str) -> CallLogEntry {
        CallLogEntry {
            id: Uuid::now_v7(),
            request_id: request.into(),
            user_id: None,
            api_key_id: None,
            model_id: None,
            supplier_id: None,
            upstream_key_id: None,
            upstream_model: Some("gpt-4o".into()),
            endpoint: Endpoint::ChatCompletions,
            stream: true,
            status_code: 200,
            error_code: None,
            error_summary: None,
            usage: Usage {
                prompt_tokens: 12,
                completion_tokens: 7,
                ..Usage::default()
            },
            cost_nanos: 42,
            currency: Some("USD".into()),
            time_to_first_token_ms: Some(3),
            latency_ms: 9,
            client_ip: Some("127.0.0.1".into()),
            attempt: 1,
            byok: false,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn spilled_entries_read_back_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().expect("a directory");
        let spill = SpillFile::in_dir(dir.path());
        assert!(!spill.has_entries());
        let written = vec![entry("a"), entry("b"), entry("c")];
        spill.append(&written).expect("appended");
        // A crash in the middle of a line.
        fs::OpenOptions::new()
            .append(true)
            .open(spill.path())
            .and_then(|mut file| file.write_all(b"{\"v\":1,\"id\":"))
            .expect("torn line");
        assert!(spill.has_entries());
        let path = spill.take_for_replay().expect("renamed").expect("a file");
        // New spills go to a fresh file while the old one replays.
        spill.append(&[entry("d")]).expect("appended");
        let mut reader = SpillReader::open(&path).expect("opened");
        let first = reader.next_batch(2).expect("read");
        let rest = reader.next_batch(2).expect("read");
        assert_eq!(first, written[..2].to_vec());
        assert_eq!(rest, written[2..].to_vec());
        assert_eq!(reader.skipped, 1);
        spill.finish_replay(&path).expect("removed");
        assert!(spill.has_entries(), "the fresh spill remains");
        let next = spill.take_for_replay().expect("renamed").expect("a file");
        assert_eq!(
            SpillReader::open(&next)
                .expect("opened")
                .next_batch(10)
                .expect("read")
                .len(),
            1
        );
    }
}
