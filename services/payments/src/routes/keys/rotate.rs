use actix_web::{HttpResponse, web};
use omni_http::{ApiError, Principal};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::State;
use crate::db::data_keys;

/// The answer to a rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct KeyRotation {
    /// The new active data key version: it seals every card tokenized from now on.
    pub version: i32,
    /// The versions retired by this rotation: they still open the cards they sealed, and seal nothing new.
    pub retired: Vec<i32>,
}

/// Rotates the vault's data keys: creates a new active version and retires the others. Admins only; audited.
#[utoipa::path(
    post, path = "/v1/payments/keys/rotate",
    responses(
        (status = 201, description = "A new data key is active", body = KeyRotation),
        (status = 403, description = "Not an admin", body = omni_http::errors::ErrorBody),
        (status = 409, description = "A concurrent rotation committed first", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn rotate_keys(state: web::Data<State>, principal: Principal) -> Result<HttpResponse, ApiError> {
    let kek = state.kek.clone();
    let name = principal.name.clone();
    let rotation = state
        .db
        .transaction(move |conn| -> crate::error::Result<data_keys::Rotation> {
            let rotation = data_keys::rotate(conn, &kek)?;
            omni_db::audit::record(
                conn,
                &name,
                "payments.keys.rotated",
                &format!("data_key:{}", rotation.version),
                &serde_json::json!({ "version": rotation.version, "retired": rotation.retired }),
            )?;
            Ok(rotation)
        })
        .await?;
    tracing::info!(
        data_key.version = rotation.version, retired = ?rotation.retired, principal = %principal.name,
        "Vault data keys rotated."
    );
    Ok(HttpResponse::Created().json(KeyRotation {
        version: rotation.version,
        retired: rotation.retired,
    }))
}
