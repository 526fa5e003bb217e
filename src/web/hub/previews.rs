//! The composer's link preview: its fields in the post form, and the
//! post page's own small forms to upload or remove the image and to fetch
//! the preview again from the link.

use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use super::posts::{Said, show_post};
use crate::app::{self, hub, previews};
use crate::domain::ids::PostId;
use crate::web::AppState;
use crate::web::auth::session::{MULTIPART_LIMIT, SignedIn};
use crate::web::error::WebResult;
use crate::web::page::{render, see_other};

/// An uploaded image's bytes at most (the whole form is limited to
/// `MULTIPART_LIMIT` before any handler runs).
pub const UPLOAD_MAX_BYTES: usize = MULTIPART_LIMIT;

/// Back to the post after a change, or the post with the refusal.
async fn answer(
    state: &AppState,
    signed_in: &SignedIn,
    id: i64,
    result: app::Result<()>,
    done: &str,
) -> WebResult<HttpResponse> {
    match result {
        Ok(()) => Ok(see_other(&format!("/hub/posts/{id}?done={done}"))),
        Err(app::Error::Invalid(message)) => {
            refuse(
                state,
                signed_in,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                message,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

async fn refuse(
    state: &AppState,
    signed_in: &SignedIn,
    id: i64,
    status: StatusCode,
    message: String,
) -> WebResult<HttpResponse> {
    let post = hub::post(state, PostId::new(id)).await?;
    let said = Said {
        preview_error: Some(message),
        ..Said::default()
    };
    render(status, &show_post(state, signed_in, post, said).await?)
}

pub async fn fetch_again(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    let result = previews::fetch_again(&state, PostId::new(*id)).await;
    answer(&state, &signed_in, *id, result, "fetched").await
}

pub async fn remove_image(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    let result = previews::remove_image(&state, PostId::new(*id)).await;
    answer(&state, &signed_in, *id, result, "image_removed").await
}

/// Why an upload cannot be read: too large, or unreadable.
enum UploadRefusal {
    TooLarge,
    Unreadable,
}

/// The `image` field's bytes, counted as they arrive.
async fn image_field(mut payload: Multipart) -> Result<Vec<u8>, UploadRefusal> {
    let mut image = Vec::new();
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|_| UploadRefusal::Unreadable)?;
        let wanted = field.name() == Some("image");
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| UploadRefusal::Unreadable)?;
            if wanted {
                if image.len() + chunk.len() > UPLOAD_MAX_BYTES {
                    return Err(UploadRefusal::TooLarge);
                }
                image.extend_from_slice(&chunk);
            }
        }
    }
    Ok(image)
}

pub async fn upload_image(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
    request: HttpRequest,
    payload: Multipart,
) -> WebResult<HttpResponse> {
    let too_large = format!(
        "The image is larger than {}. Choose a smaller one.",
        crate::outbound::size_words(UPLOAD_MAX_BYTES)
    );
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let refusal = match declared {
        Some(length) if length > UPLOAD_MAX_BYTES + 64 * 1024 => Err(UploadRefusal::TooLarge),
        _ => image_field(payload).await,
    };
    let (status, message) = match refusal {
        Ok(image) if !image.is_empty() => {
            let result = previews::upload_image(&state, PostId::new(*id), image).await;
            return answer(&state, &signed_in, *id, result, "image").await;
        }
        Ok(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose an image to upload.".into(),
        ),
        Err(UploadRefusal::TooLarge) => (StatusCode::PAYLOAD_TOO_LARGE, too_large),
        Err(UploadRefusal::Unreadable) => (
            StatusCode::BAD_REQUEST,
            "The upload could not be read. Please try again.".into(),
        ),
    };
    refuse(&state, &signed_in, *id, status, message).await
}
