//! `/api/v1/files`: the caller's uploads. An upload is `multipart/form-data` with one part
//! named `file`, streamed to storage as it arrives (never held whole); its kind comes from its
//! bytes. Another user's file is a 404, as a missing one is.

use actix_multipart::Multipart;
use actix_web::http::header::{self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use switchyard_domain::conversations::{BlobError, ByteStream, FileId, StoredFile};
use tokio::sync::mpsc;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::AuthUser;
use crate::dto::{encode_cursor, page_request};
use crate::error::{ApiError, ErrorBody, ErrorCode};

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(upload_file)
        .service(list_files)
        .service(get_file)
        .service(file_content)
        .service(delete_file);
}

/// Room for a multipart body's boundaries and part headers beyond the file itself.
const MULTIPART_OVERHEAD: u64 = 16 * 1024;

#[derive(Debug, Serialize, ToSchema)]
pub struct FileBody {
    pub id: Uuid,
    /// The name as uploaded, sanitised for display (no path, no control characters).
    pub name: String,
    /// From the content: `image/png`, `image/jpeg`, `image/webp`, `image/gif`,
    /// `application/pdf`, `text/plain` or `text/markdown`.
    pub media_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

impl From<StoredFile> for FileBody {
    fn from(file: StoredFile) -> Self {
        Self {
            id: file.id.0,
            name: file.name,
            media_type: file.media_type.as_str().to_owned(),
            size: file.size,
            sha256: file.sha256,
            created_at: file.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FileList {
    pub data: Vec<FileBody>,
    pub next_cursor: Option<String>,
}

/// The upload form: one part named `file`.
#[derive(Debug, ToSchema)]
pub struct UploadForm {
    /// The file; its name (`filename`) is kept for display only.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn is_multipart(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().to_ascii_lowercase().starts_with("multipart/form-data"))
}

fn bad_form(message: impl Into<String>) -> ApiError {
    ApiError::invalid_request(message.into())
}

/// Upload a file.
#[utoipa::path(
    tag = "files",
    security(("bearer_jwt" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The stored file", body = FileBody),
        (status = 400, description = "The form cannot be read, or has no part named `file`", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 409, description = "The caller's files take their quota (`file_quota_exceeded`)", body = ErrorBody),
        (status = 413, description = "Larger than `files.max_file_bytes`", body = ErrorBody),
        (status = 415, description = "Not a form, or bytes that are not a kind taken or not what the name says", body = ErrorBody),
    )
)]
#[post("/api/v1/files")]
async fn upload_file(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if !is_multipart(&req) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "expected content-type multipart/form-data with a part named file",
        ));
    }
    let most = state.files.limits().max_file_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > most + MULTIPART_OVERHEAD) {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the file is larger than the limit of {most} bytes"),
        ));
    }
    let mut form = Multipart::new(req.headers(), payload);
    let mut stored = None;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|error| bad_form(format!("the form cannot be read: {error}")))?;
        let name = field.name().unwrap_or_default().to_owned();
        if name != "file" || stored.is_some() {
            // A file stored already is removed: the client is told the upload failed.
            if let Some(file) = stored.take() {
                let file: StoredFile = file;
                state.files.delete(&user.0, file.id).await?;
            }
            if name != "file" {
                return Err(
                    bad_form(format!("unknown part {name:?}: send one part named file")).with_detail(
                        &name,
                        "unknown_field",
                        "the form takes one part, named file",
                    ),
                );
            }
            return Err(bad_form("send one file per upload"));
        }
        // `filename*` (RFC 5987, any characters) when given, else `filename`.
        let file_name = field
            .content_disposition()
            .and_then(|disposition| {
                disposition
                    .get_filename_ext()
                    .map(|ext| String::from_utf8_lossy(&ext.value).into_owned())
                    .or_else(|| disposition.get_filename().map(str::to_owned))
            })
            .unwrap_or_default();
        // The form's part is read here (actix's stream stays on this thread) and handed to the
        // upload through a small channel, so the domain's side is an ordinary `Send` stream.
        let (sender, receiver) = mpsc::channel::<Result<Vec<u8>, BlobError>>(4);
        let pump = async move {
            while let Some(chunk) = field.next().await {
                let chunk = chunk
                    .map(|bytes| bytes.to_vec())
                    .map_err(|error| BlobError::Interrupted(error.to_string()));
                let failed = chunk.is_err();
                if sender.send(chunk).await.is_err() || failed {
                    break;
                }
            }
        };
        let body: ByteStream = Box::pin(futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|chunk| (chunk, receiver))
        }));
        let (_, uploaded) = futures_util::future::join(pump, state.files.upload(&user.0, &file_name, body)).await;
        stored = Some(uploaded?);
    }
    let file = stored.ok_or_else(|| bad_form("the form has no part named file"))?;
    Ok(HttpResponse::Created().json(FileBody::from(file)))
}

/// The caller's files, newest first.
#[utoipa::path(
    tag = "files",
    security(("bearer_jwt" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of files", body = FileList),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
    )
)]
#[get("/api/v1/files")]
async fn list_files(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let files = state.files.list(&user.0, page).await?;
    Ok(HttpResponse::Ok().json(FileList {
        next_cursor: files.next.map(encode_cursor),
        data: files.items.into_iter().map(FileBody::from).collect(),
    }))
}

/// One of the caller's files (its record).
#[utoipa::path(
    tag = "files",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The file's id")),
    responses(
        (status = 200, description = "The file", body = FileBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such file of the caller's", body = ErrorBody),
    )
)]
#[get("/api/v1/files/{id}")]
async fn get_file(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let file = state.files.get(&user.0, FileId(*id)).await?;
    Ok(HttpResponse::Ok().json(FileBody::from(file)))
}

/// A file's bytes, as an attachment of its own type.
#[utoipa::path(
    tag = "files",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The file's id")),
    responses(
        (status = 200, description = "The content, as its own type", content(
            (String = "image/png"),
            (String = "image/jpeg"),
            (String = "image/webp"),
            (String = "image/gif"),
            (String = "application/pdf"),
            (String = "text/plain"),
            (String = "text/markdown"),
        )),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such file of the caller's", body = ErrorBody),
    )
)]
#[get("/api/v1/files/{id}/content")]
async fn file_content(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (file, body) = state.files.content(&user.0, FileId(*id)).await?;
    let ascii: String = file
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(ascii),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".to_owned()),
                language_tag: None,
                value: file.name.clone().into_bytes(),
            }),
        ],
    };
    Ok(HttpResponse::Ok()
        .content_type(file.media_type.as_str())
        .insert_header(disposition)
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .no_chunking(u64::try_from(file.size).unwrap_or(0))
        .streaming(body.map(|chunk| {
            chunk
                .map(web::Bytes::from)
                .map_err(|error| actix_web::error::ErrorServiceUnavailable(error.to_string()))
        })))
}

/// Delete a file; messages that held it say it was removed.
#[utoipa::path(
    tag = "files",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The file's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such file of the caller's", body = ErrorBody),
    )
)]
#[delete("/api/v1/files/{id}")]
async fn delete_file(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.files.delete(&user.0, FileId(*id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
