//! Uploads: a user's files, streamed to storage as they arrive (never held whole), judged by
//! their first bytes, counted and hashed on the way, within the per-file and per-user limits.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::conversations::file::{FileId, FileLimits, SNIFF_BYTES, StoredFile, display_name, sniff, storage_key};
use crate::conversations::ports::{BlobError, BlobStore, ByteStream, FileRepo, Spawner};
use crate::kernel::error::{ConflictKind, DomainError};
use crate::kernel::page::{Page, PageRequest};
use crate::kernel::ports::Clock;
use crate::kernel::principal::Principal;

/// What the uploads' use cases need.
#[derive(Debug, Clone)]
pub struct FilePorts {
    pub repo: Arc<dyn FileRepo>,
    pub blobs: Arc<dyn BlobStore>,
    pub clock: Arc<dyn Clock>,
    /// Reports failures of clean-ups that nobody waits for.
    pub spawner: Arc<dyn Spawner>,
}

/// The uploads' use cases.
#[derive(Debug)]
pub struct Files {
    ports: FilePorts,
    limits: FileLimits,
}

fn quota(message: String) -> DomainError {
    DomainError::Conflict {
        kind: ConflictKind::FileQuota,
        message,
    }
}

fn not_found() -> DomainError {
    DomainError::NotFound { entity: "file" }
}

/// The bytes and digest of a body so far.
#[derive(Debug, Default)]
struct Tally {
    bytes: u64,
    hasher: Sha256,
}

/// A body that counts and hashes its bytes as they pass, and fails once past `limit`.
struct Tallied {
    inner: ByteStream,
    tally: Arc<Mutex<Tally>>,
    limit: u64,
}

impl Stream for Tallied {
    type Item = Result<Vec<u8>, BlobError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            let mut tally = self.tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            tally.bytes += chunk.len() as u64;
            if tally.bytes > self.limit {
                return Poll::Ready(Some(Err(BlobError::TooLarge { limit: self.limit })));
            }
            tally.hasher.update(chunk);
        }
        polled
    }
}

impl Files {
    pub fn new(ports: FilePorts, limits: FileLimits) -> Self {
        Self { ports, limits }
    }

    pub fn limits(&self) -> &FileLimits {
        &self.limits
    }

    /// Stores an upload named `raw_name` by the client.
    pub async fn upload(&self, user: &Principal, raw_name: &str, body: ByteStream) -> Result<StoredFile, DomainError> {
        let limits = &self.limits;
        // Read in part for the kind, then whole: never polled again once it has ended.
        let mut body = body.fuse();
        let (count, used) = self.ports.repo.usage(user.user_id()).await?;
        if count >= limits.max_files_per_user {
            return Err(quota(format!(
                "you have {count} files, the most kept per user; delete some first"
            )));
        }
        if used >= limits.max_bytes_per_user {
            return Err(quota(format!(
                "your files take {used} bytes, the most kept per user; delete some first"
            )));
        }
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        while head.len() < SNIFF_BYTES {
            match body.next().await {
                Some(chunk) => head.extend_from_slice(&chunk?),
                None => break,
            }
        }
        if head.len() as u64 > limits.max_file_bytes {
            return Err(BlobError::TooLarge {
                limit: limits.max_file_bytes,
            }
            .into());
        }
        let media_type = sniff(&head[..head.len().min(SNIFF_BYTES)], raw_name)?;
        if !limits.allowed.contains(&media_type) {
            return Err(DomainError::UnsupportedMedia {
                message: format!("{} files are not taken here", media_type.as_str()),
            });
        }
        let id = FileId::new();
        let key = storage_key(user.user_id(), id);
        let tally = Arc::new(Mutex::new(Tally::default()));
        let whole: ByteStream = Box::pin(futures_util::stream::iter([Ok(head)]).chain(body));
        let tallied = Tallied {
            inner: whole,
            tally: tally.clone(),
            limit: limits.max_file_bytes,
        };
        self.ports.blobs.put(&key, Box::pin(tallied)).await?;
        let (size, sha256) = {
            let tally = std::mem::take(&mut *tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            let digest = tally.hasher.finalize();
            let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
            (tally.bytes, hex)
        };
        if used + size > limits.max_bytes_per_user {
            self.forget(&key).await;
            return Err(quota(format!(
                "this file would take your files past {} bytes, the most kept per user",
                limits.max_bytes_per_user
            )));
        }
        let file = StoredFile {
            id,
            user_id: user.user_id(),
            name: display_name(raw_name),
            media_type,
            size: i64::try_from(size).unwrap_or(i64::MAX),
            sha256,
            storage_key: key,
            created_at: self.ports.clock.now(),
        };
        if let Err(error) = self.ports.repo.create(&file).await {
            self.forget(&file.storage_key).await;
            return Err(error.into());
        }
        Ok(file)
    }

    pub async fn list(&self, user: &Principal, page: PageRequest) -> Result<Page<StoredFile>, DomainError> {
        Ok(self.ports.repo.list(user.user_id(), page).await?)
    }

    pub async fn get(&self, user: &Principal, id: FileId) -> Result<StoredFile, DomainError> {
        self.ports.repo.get(user.user_id(), id).await?.ok_or_else(not_found)
    }

    /// The file and its bytes, as they are read from storage.
    pub async fn content(&self, user: &Principal, id: FileId) -> Result<(StoredFile, ByteStream), DomainError> {
        let file = self.get(user, id).await?;
        let body = self.ports.blobs.get(&file.storage_key).await?;
        Ok((file, body))
    }

    /// Deletes the file; messages that held it show it as removed.
    pub async fn delete(&self, user: &Principal, id: FileId) -> Result<(), DomainError> {
        let file = self
            .ports
            .repo
            .delete(user.user_id(), id)
            .await?
            .ok_or_else(not_found)?;
        self.forget(&file.storage_key).await;
        Ok(())
    }

    /// Deletes the bytes of files whose records are gone already (a purged conversation's).
    pub(crate) async fn release(&self, files: &[StoredFile]) {
        for file in files {
            self.forget(&file.storage_key).await;
        }
    }

    /// The whole content of a file, for a model's context.
    pub(crate) async fn read(&self, file: &StoredFile) -> Result<Vec<u8>, DomainError> {
        let mut body = self.ports.blobs.get(&file.storage_key).await?;
        let mut bytes = Vec::with_capacity(usize::try_from(file.size).unwrap_or(0));
        while let Some(chunk) = body.next().await {
            bytes.extend_from_slice(&chunk?);
        }
        Ok(bytes)
    }

    pub(crate) async fn get_many(&self, user: &Principal, ids: &[FileId]) -> Result<Vec<StoredFile>, DomainError> {
        Ok(self.ports.repo.get_many(user.user_id(), ids).await?)
    }

    /// Removes bytes whose record is gone or never was; a failure is reported, not returned
    /// (the record decides what exists).
    async fn forget(&self, key: &str) {
        if let Err(error) = self.ports.blobs.delete(key).await {
            let error: DomainError = error.into();
            self.ports.spawner.spawn(Box::pin(std::future::ready(Err(error))));
        }
    }
}
