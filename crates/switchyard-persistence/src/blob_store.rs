//! `BlobStore` on `object_store`: files' bytes on the local file system (under the data
//! directory) or in S3-compatible object storage (AWS S3, Tencent COS, MinIO, Sealos, …).
//! Bodies are written as they arrive, in parts (at most two in flight), never held whole.

use std::path::Path as LocalPath;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use switchyard_domain::conversations::{BlobError, BlobStore, ByteStream};
use tracing::instrument;

/// Parts uploaded at once.
const PARTS_IN_FLIGHT: usize = 2;

/// Where an S3-compatible store is and how to reach it.
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    /// The service's URL for a store that is not AWS (MinIO, COS, Sealos); `None` = AWS.
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// `https://<bucket>.<endpoint>` rather than `<endpoint>/<bucket>` (Tencent COS needs it).
    pub virtual_hosted_style: bool,
    /// Allow an `http://` endpoint (a local MinIO).
    pub allow_http: bool,
}

#[derive(Debug, Clone)]
pub struct ObjectBlobStore {
    store: Arc<dyn ObjectStore>,
}

fn unavailable(error: object_store::Error) -> BlobError {
    match error {
        object_store::Error::NotFound { .. } => BlobError::NotFound,
        other => BlobError::Unavailable(other.to_string()),
    }
}

fn path(key: &str) -> Result<Path, BlobError> {
    Path::parse(key).map_err(|error| BlobError::Unavailable(format!("the storage key {key:?}: {error}")))
}

impl ObjectBlobStore {
    /// Files under `dir` (made when missing).
    pub fn local(dir: &LocalPath) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
        let store = LocalFileSystem::new_with_prefix(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
        Ok(Self { store: Arc::new(store) })
    }

    /// An S3-compatible bucket (nothing is checked until the first call).
    pub fn s3(settings: &S3Settings) -> Result<Self, String> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_allow_http(settings.allow_http)
            .with_virtual_hosted_style_request(settings.virtual_hosted_style);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(id) = &settings.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &settings.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder.build().map_err(|error| error.to_string())?;
        Ok(Self { store: Arc::new(store) })
    }
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    #[instrument(skip_all, fields(key))]
    async fn put(&self, key: &str, mut body: ByteStream) -> Result<(), BlobError> {
        let location = path(key)?;
        let upload = self.store.put_multipart(&location).await.map_err(unavailable)?;
        let mut writer = WriteMultipart::new(upload);
        while let Some(chunk) = body.next().await {
            let failed = match chunk {
                Ok(bytes) => match writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                    Ok(()) => {
                        writer.write(&bytes);
                        continue;
                    }
                    Err(error) => unavailable(error),
                },
                Err(error) => error,
            };
            if let Err(error) = writer.abort().await {
                tracing::warn!(%error, "aborting an upload that failed failed too");
            }
            return Err(failed);
        }
        writer.finish().await.map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<ByteStream, BlobError> {
        let found = self.store.get(&path(key)?).await.map_err(unavailable)?;
        Ok(Box::pin(
            found
                .into_stream()
                .map(|chunk| chunk.map(|bytes| bytes.to_vec()).map_err(unavailable)),
        ))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(unavailable(error)),
        }
    }
}
