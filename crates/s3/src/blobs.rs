//! Object bytes at rest: AES-256-GCM in chunks under a per-object data key, in files named by a
//! random object id (never by the key name) under `<data dir>/s3/objects`.
//!
//! A file is the concatenation of sealed chunks, each [`CHUNK`] bytes of plaintext (the last
//! one shorter) followed by its 16-byte tag. Chunk `i` is sealed with the nonce `i` and the
//! additional data `id ‖ i ‖ last`, so chunks cannot be moved, swapped between objects, or the
//! object truncated without the tag check failing. A range read opens only the chunks it needs.
//! Writes go to a temporary file, are fsynced and renamed into place before the metadata that
//! names them is committed.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use rampart_service::AwsError;

/// Plaintext bytes per sealed chunk.
pub const CHUNK: usize = 1024 * 1024;
const TAG: usize = 16;

fn storage_error(e: &std::io::Error) -> AwsError {
    tracing::error!(error = %e, "object storage failed");
    AwsError::new(
        "InternalError",
        500,
        "We encountered an internal error. Please try again.",
    )
}

fn crypto_error() -> AwsError {
    tracing::error!("object chunk failed authentication");
    AwsError::new(
        "InternalError",
        500,
        "We encountered an internal error. Please try again.",
    )
}

/// Where object files live.
#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
}

fn aad(id: &str, index: u64, last: bool) -> Vec<u8> {
    let mut a = Vec::with_capacity(id.len() + 9);
    a.extend_from_slice(id.as_bytes());
    a.extend_from_slice(&index.to_be_bytes());
    a.push(u8::from(last));
    a
}

fn nonce(index: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

fn key(data_key: &[u8]) -> Result<LessSafeKey, AwsError> {
    UnboundKey::new(&AES_256_GCM, data_key)
        .map(LessSafeKey::new)
        .map_err(|_| crypto_error())
}

impl Blobs {
    /// Object files under `data_dir/s3`.
    #[must_use]
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("s3"),
        }
    }

    fn path(&self, id: &str) -> PathBuf {
        let shard = id.get(..2).unwrap_or("00");
        self.root.join("objects").join(shard).join(id)
    }

    /// Starts writing the object `id` sealed under `data_key`.
    ///
    /// # Errors
    /// An internal error when the temporary file cannot be created.
    pub async fn writer(&self, id: &str, data_key: &[u8]) -> Result<BlobWriter, AwsError> {
        let tmp_dir = self.root.join("tmp");
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(|e| storage_error(&e))?;
        let tmp = tmp_dir.join(format!("{id}.part"));
        let file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| storage_error(&e))?;
        Ok(BlobWriter {
            id: id.to_owned(),
            key: key(data_key)?,
            file,
            tmp,
            dest: self.path(id),
            pending: Vec::with_capacity(CHUNK),
            index: 0,
        })
    }

    /// Removes the object `id`'s file, if any.
    pub async fn remove(&self, id: &str) {
        if let Err(e) = tokio::fs::remove_file(self.path(id)).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(error = %e, "removing an object file failed");
            }
        }
    }

    /// Reads plaintext bytes `start..end` of the object `id` (of `size` bytes), opening only
    /// the chunks that hold them, and sends them in pieces to `tx`.
    pub async fn read_range(
        &self,
        id: &str,
        data_key: &[u8],
        size: u64,
        start: u64,
        end: u64,
        tx: tokio::sync::mpsc::Sender<Result<bytes::Bytes, AwsError>>,
    ) {
        if let Err(e) = self.read_inner(id, data_key, size, start, end, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    }

    async fn read_inner(
        &self,
        id: &str,
        data_key: &[u8],
        size: u64,
        start: u64,
        end: u64,
        tx: &tokio::sync::mpsc::Sender<Result<bytes::Bytes, AwsError>>,
    ) -> Result<(), AwsError> {
        if start >= end {
            return Ok(());
        }
        let key = key(data_key)?;
        let chunk = CHUNK as u64;
        let chunks = size.div_ceil(chunk);
        let mut file = tokio::fs::File::open(self.path(id))
            .await
            .map_err(|e| storage_error(&e))?;
        let first = start / chunk;
        let last = (end - 1) / chunk;
        file.seek(SeekFrom::Start(first * (chunk + TAG as u64)))
            .await
            .map_err(|e| storage_error(&e))?;
        for index in first..=last {
            let plain_len = (size - index * chunk).min(chunk);
            let mut buf = vec![0u8; usize::try_from(plain_len).unwrap_or(CHUNK) + TAG];
            file.read_exact(&mut buf)
                .await
                .map_err(|e| storage_error(&e))?;
            let plain = key
                .open_in_place(
                    nonce(index),
                    Aad::from(aad(id, index, index + 1 == chunks)),
                    &mut buf,
                )
                .map_err(|_| crypto_error())?;
            let from = usize::try_from(start.saturating_sub(index * chunk)).unwrap_or(0);
            let to = usize::try_from((end - index * chunk).min(plain_len)).unwrap_or(0);
            let piece = bytes::Bytes::copy_from_slice(plain.get(from..to).unwrap_or_default());
            if tx.send(Ok(piece)).await.is_err() {
                return Ok(()); // the client went away
            }
        }
        Ok(())
    }
}

/// An object file being written.
pub struct BlobWriter {
    id: String,
    key: LessSafeKey,
    file: tokio::fs::File,
    tmp: PathBuf,
    dest: PathBuf,
    pending: Vec<u8>,
    index: u64,
}

impl std::fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobWriter")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl BlobWriter {
    async fn seal(&mut self, len: usize, last: bool) -> Result<(), AwsError> {
        let mut buf: Vec<u8> = self.pending.drain(..len).collect();
        self.key
            .seal_in_place_append_tag(
                nonce(self.index),
                Aad::from(aad(&self.id, self.index, last)),
                &mut buf,
            )
            .map_err(|_| crypto_error())?;
        self.file
            .write_all(&buf)
            .await
            .map_err(|e| storage_error(&e))?;
        self.index += 1;
        Ok(())
    }

    /// Appends plaintext; full chunks are sealed and written once more data follows them.
    ///
    /// # Errors
    /// An internal error when the file cannot be written.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), AwsError> {
        self.pending.extend_from_slice(data);
        while self.pending.len() > CHUNK {
            self.seal(CHUNK, false).await?;
        }
        Ok(())
    }

    /// Seals the last chunk, fsyncs the file and renames it into place (then fsyncs its
    /// directory), so the object survives a crash once this returns.
    ///
    /// # Errors
    /// An internal error when the file cannot be written.
    pub async fn finish(mut self) -> Result<(), AwsError> {
        if !self.pending.is_empty() {
            let n = self.pending.len();
            self.seal(n, true).await?;
        }
        self.file.sync_all().await.map_err(|e| storage_error(&e))?;
        let dir = self.dest.parent().map(Path::to_path_buf);
        if let Some(dir) = &dir {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| storage_error(&e))?;
        }
        tokio::fs::rename(&self.tmp, &self.dest)
            .await
            .map_err(|e| storage_error(&e))?;
        if let Some(dir) = dir {
            if let Ok(d) = tokio::fs::File::open(&dir).await {
                d.sync_all().await.map_err(|e| storage_error(&e))?;
            }
        }
        Ok(())
    }

    /// Drops the partly written file.
    pub async fn abort(self) {
        drop(self.file);
        let _ = tokio::fs::remove_file(&self.tmp).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(blobs: &Blobs, id: &str, key: &[u8], size: u64, s: u64, e: u64) -> Vec<u8> {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let (b, id, key) = (blobs.clone(), id.to_owned(), key.to_vec());
        tokio::spawn(async move { b.read_range(&id, &key, size, s, e, tx).await });
        let mut out = Vec::new();
        while let Some(piece) = rx.recv().await {
            out.extend_from_slice(&piece.unwrap_or_default());
        }
        out
    }

    #[tokio::test]
    async fn objects_round_trip_by_range_and_are_not_plaintext_on_disk() {
        let dir = std::env::temp_dir().join(format!("rampart-s3-{}", uuid::Uuid::new_v4()));
        let blobs = Blobs::new(&dir);
        let key = [7u8; 32];
        let data: Vec<u8> = (0..(2 * CHUNK + 123)).map(|i| (i % 251) as u8).collect();
        let mut w = blobs.writer("abcdef", &key).await.expect("writer");
        for piece in data.chunks(70_000) {
            w.write(piece).await.expect("write");
        }
        w.finish().await.expect("finish");
        let size = data.len() as u64;
        assert_eq!(read(&blobs, "abcdef", &key, size, 0, size).await, data);
        let (s, e) = (CHUNK as u64 - 5, CHUNK as u64 + 9);
        assert_eq!(
            read(&blobs, "abcdef", &key, size, s, e).await,
            data[s as usize..e as usize]
        );
        let disk = std::fs::read(blobs.path("abcdef")).expect("file");
        assert!(!disk.windows(64).any(|w| w == &data[1000..1064]));
        // A wrong key reads nothing.
        assert!(read(&blobs, "abcdef", &[8u8; 32], size, 0, 10)
            .await
            .is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }
}
