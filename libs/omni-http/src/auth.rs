//! API-key principals. Keys arrive as `Authorization: Bearer <key>`; only their SHA-256 is kept in memory.

use std::collections::HashMap;
use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, web};
use omni_config::{AuthSettings, Role};
use omni_contracts::PartnerId;
use sha2::{Digest, Sha256};

use crate::errors::{ApiError, Code};

/// Who is calling, and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Name for audit entries.
    pub name: String,
    /// Roles held.
    pub roles: Vec<Role>,
    /// The partner a partner key belongs to.
    pub partner_id: Option<PartnerId>,
    /// The stores an associate works at (empty: no store scope).
    pub locations: Vec<String>,
}

impl Principal {
    /// Whether the principal holds `role` (admins hold every role).
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&Role::Admin) || self.roles.contains(&role)
    }

    /// `403 forbidden` unless the principal holds one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.iter().any(|r| self.has(*r)) {
            Ok(())
        } else {
            Err(ApiError::new(
                Code::Forbidden,
                format!("{} needs one of the roles {roles:?} for this action", self.name),
            ))
        }
    }
}

/// The keys a service accepts.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    by_hash: Arc<HashMap<[u8; 32], Principal>>,
}

impl ApiKeys {
    /// Builds the table from settings; a partner key with a malformed partner id is refused.
    pub fn from_settings(settings: &AuthSettings) -> Result<Self, String> {
        let mut by_hash = HashMap::new();
        for (i, key) in settings.api_keys.iter().enumerate() {
            let partner_id = key
                .partner_id
                .as_deref()
                .map(PartnerId::parse)
                .transpose()
                .map_err(|e| format!("invalid configuration: `auth.api_keys[{i}].partner_id` {e}"))?;
            if key.roles.contains(&Role::Partner) && partner_id.is_none() {
                return Err(format!(
                    "invalid configuration: `auth.api_keys[{i}].partner_id` is required for a partner key"
                ));
            }
            by_hash.insert(
                digest(key.key.expose()),
                Principal {
                    name: key.name.clone(),
                    roles: key.roles.clone(),
                    partner_id,
                    locations: key.locations.clone(),
                },
            );
        }
        Ok(Self {
            by_hash: Arc::new(by_hash),
        })
    }

    fn lookup(&self, key: &str) -> Option<&Principal> {
        self.by_hash.get(&digest(key))
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    let keys = req
        .app_data::<web::Data<ApiKeys>>()
        .ok_or_else(|| ApiError::new(Code::Internal, "authentication is not configured"))?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::new(Code::MissingApiKey, "send `Authorization: Bearer <api key>`"))?;
    let key = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                Code::MissingApiKey,
                "the Authorization header must be `Bearer <api key>`",
            )
        })?;
    keys.lookup(key)
        .cloned()
        .ok_or_else(|| ApiError::new(Code::InvalidApiKey, "the API key is not valid"))
}
