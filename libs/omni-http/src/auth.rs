//! API-key principals. Keys arrive as `Authorization: Bearer <key>`; only their SHA-256 is kept in memory.
//! Each principal is scoped: a partner to its orders, an associate (or store manager) to its stores; admins,
//! services, auditors and merchandising managers see every object.

use std::collections::{HashMap, HashSet};
use std::future::{Ready, ready};
use std::sync::{Arc, Mutex, RwLock};

use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::{DateTime, Utc};
use omni_config::{ApiKeySettings, AuthSettings, PartnerSettings};
use omni_contracts::PartnerId;
use sha2::{Digest, Sha256};

use crate::errors::{ApiError, Code};

pub use crate::principal::Principal;

/// The keys (and bearer tokens) a service accepts. Keys come from the settings and from `auth.keys_file`, by
/// hash only; [`ApiKeys::reload`] re-reads the file and swaps the table without a restart.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    table: Arc<RwLock<Arc<KeyTable>>>,
    oidc: Option<Arc<crate::oidc::Verifier>>,
    source: Arc<KeySource>,
}

/// Where the keys come from, to build the table again.
#[derive(Debug, Default)]
struct KeySource {
    settings: Vec<ApiKeySettings>,
    file: Option<std::path::PathBuf>,
    partners: Vec<PartnerSettings>,
    /// The SHA-256 of the keys file as last read.
    fingerprint: Mutex<Option<[u8; 32]>>,
}

#[derive(Debug, Default)]
struct KeyTable {
    by_hash: HashMap<[u8; 32], KeyEntry>,
    disabled_partners: HashSet<PartnerId>,
    registered_partners: HashSet<String>,
}

#[derive(Debug, Clone)]
struct KeyEntry {
    principal: Principal,
    expires_at: Option<DateTime<Utc>>,
    revoked: bool,
    /// The hash, to tell a rotated key from an unchanged one.
    hash: [u8; 32],
}

/// What a reload changed, by key name (never a key or its hash).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KeyChanges {
    /// Keys that were not there before.
    pub added: Vec<String>,
    /// Keys that are gone.
    pub removed: Vec<String>,
    /// Keys whose hash, scope, expiry or revocation changed (a rotation, a revocation).
    pub changed: Vec<String>,
}

impl KeyChanges {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Why the API keys (or the OIDC settings) cannot be used; the keys stay as they were.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// A key's entry is refused.
    #[error("invalid configuration: `{at}`: {reason}")]
    Invalid {
        /// Where the key is: `auth.api_keys[i]` or `<file>: api_keys[i]`.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// The keys file cannot be read.
    #[error("auth.keys_file: cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The keys file is not UTF-8 text.
    #[error("auth.keys_file: not UTF-8 text")]
    NotText,
    /// The keys file is refused as a whole.
    #[error("auth.keys_file: {0}")]
    File(#[from] omni_config::KeysFileError),
    /// The OIDC settings or key set.
    #[error(transparent)]
    Oidc(#[from] crate::oidc::OidcError),
}

impl ApiKeys {
    /// Builds the table from the settings, the keys file (if any) and the registered partners, and the OIDC
    /// verifier (if an issuer is set). A key whose scope is ambiguous, a partner key with a malformed or
    /// unregistered partner id, a key given both or neither in clear and by hash, and two keys of one name are
    /// refused; a disabled partner's keys authenticate but are refused everywhere (403).
    pub fn from_settings(settings: &AuthSettings, partners: &[PartnerSettings]) -> Result<Self, KeysError> {
        let file = (!settings.keys_file.trim().is_empty())
            .then(|| std::path::PathBuf::from(settings.keys_file.trim()));
        let source = KeySource {
            settings: settings.api_keys.clone(),
            file,
            partners: partners.to_vec(),
            fingerprint: Mutex::new(None),
        };
        let (table, fingerprint) = source.build()?;
        *source
            .fingerprint
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fingerprint;
        let oidc = crate::oidc::Verifier::from_settings(&settings.oidc)?.map(Arc::new);
        Ok(Self {
            table: Arc::new(RwLock::new(Arc::new(table))),
            oidc,
            source: Arc::new(source),
        })
    }

    /// Re-reads the keys file (and the OIDC key set) if it changed, and swaps the table; `Ok(None)` when nothing
    /// changed. A file that does not read or validate leaves the keys as they were (`Err`, naming the problem).
    pub fn reload(&self) -> Result<Option<KeyChanges>, KeysError> {
        if let Some(oidc) = &self.oidc {
            oidc.reload()?;
        }
        let Some(path) = &self.source.file else {
            return Ok(None);
        };
        let (bytes, fingerprint) = read_keys_file(path)?;
        if *self
            .source
            .fingerprint
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            == Some(fingerprint)
        {
            return Ok(None);
        }
        let (table, fingerprint) = self.source.build_from(Some((bytes, fingerprint)))?;
        let before = self.current();
        let changes = changes(&before, &table);
        *self
            .table
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(table);
        *self
            .source
            .fingerprint
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fingerprint;
        Ok(Some(changes))
    }

    /// The OIDC verifier, when an issuer is configured.
    pub fn oidc(&self) -> Option<&Arc<crate::oidc::Verifier>> {
        self.oidc.as_ref()
    }

    fn current(&self) -> Arc<KeyTable> {
        self.table
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl KeySource {
    /// The table from the settings' keys and the file's, and the file's fingerprint.
    fn build(&self) -> Result<(KeyTable, Option<[u8; 32]>), KeysError> {
        let file = self.file.as_ref().map(|path| read_keys_file(path)).transpose()?;
        self.build_from(file)
    }

    /// The table from the settings' keys and the keys file's `bytes` (as read), with the file's fingerprint.
    fn build_from(
        &self,
        file: Option<(Vec<u8>, [u8; 32])>,
    ) -> Result<(KeyTable, Option<[u8; 32]>), KeysError> {
        let mut keys: Vec<(String, ApiKeySettings)> = self
            .settings
            .iter()
            .enumerate()
            .map(|(i, k)| (format!("auth.api_keys[{i}]"), k.clone()))
            .collect();
        let mut fingerprint = None;
        if let (Some(path), Some((bytes, read_fingerprint))) = (&self.file, file) {
            fingerprint = Some(read_fingerprint);
            let text = String::from_utf8(bytes).map_err(|_| KeysError::NotText)?;
            let from_file = omni_config::parse_keys_file(&text)?;
            keys.extend(
                from_file
                    .into_iter()
                    .enumerate()
                    .map(|(i, k)| (format!("{}: api_keys[{i}]", path.display()), k)),
            );
        }
        let mut by_hash = HashMap::new();
        let mut names = HashSet::new();
        for (at, key) in keys {
            let invalid = |reason: String| KeysError::Invalid {
                at: at.clone(),
                reason,
            };
            key.scope_problem().map_err(|r| invalid(r.to_owned()))?;
            if !names.insert(key.name.clone()) {
                return Err(invalid(format!("the name `{}` names two keys", key.name)));
            }
            let hash = match (key.key.is_empty(), key.key_sha256.as_deref()) {
                (false, None) => digest(key.key.expose()),
                (true, Some(hex)) => {
                    parse_sha256(hex).ok_or_else(|| invalid("`key_sha256` is not 64 hex digits".into()))?
                }
                _ => return Err(invalid("give the key either as `key` or as `key_sha256`".into())),
            };
            let expires_at = key
                .expires_at
                .as_deref()
                .map(|t| DateTime::parse_from_rfc3339(t).map(|t| t.with_timezone(&Utc)))
                .transpose()
                .map_err(|e| invalid(format!("`expires_at` is not RFC 3339: {e}")))?;
            let partner_id = key
                .partner_id
                .as_deref()
                .map(PartnerId::parse)
                .transpose()
                .map_err(|e| invalid(format!("`partner_id` {e}")))?;
            if let Some(partner) = &partner_id
                && !self.partners.iter().any(|p| p.id == partner.as_str())
            {
                return Err(invalid(format!(
                    "`partner_id` `{partner}` is not a registered partner (orders.partners)"
                )));
            }
            if by_hash.contains_key(&hash) {
                return Err(invalid(format!("key `{}` is the same key as another", key.name)));
            }
            by_hash.insert(
                hash,
                KeyEntry {
                    principal: Principal {
                        name: key.name.clone(),
                        roles: key.roles.clone(),
                        partner_id,
                        locations: key.locations.clone(),
                    },
                    expires_at,
                    revoked: key.revoked,
                    hash,
                },
            );
        }
        let disabled_partners = self
            .partners
            .iter()
            .filter(|p| !p.enabled)
            .filter_map(|p| PartnerId::parse(&p.id).ok())
            .collect();
        let registered_partners = self.partners.iter().map(|p| p.id.clone()).collect();
        Ok((
            KeyTable {
                by_hash,
                disabled_partners,
                registered_partners,
            },
            fingerprint,
        ))
    }
}

/// A keys file's bytes and their SHA-256 (to tell a changed file from an unchanged one).
fn read_keys_file(path: &std::path::Path) -> Result<(Vec<u8>, [u8; 32]), KeysError> {
    let bytes = std::fs::read(path).map_err(|source| KeysError::Unreadable {
        path: path.display().to_string(),
        source,
    })?;
    let fingerprint = Sha256::digest(&bytes).into();
    Ok((bytes, fingerprint))
}

/// The key names a new table adds, removes and changes against the old one.
fn changes(before: &KeyTable, after: &KeyTable) -> KeyChanges {
    let by_name = |t: &KeyTable| -> HashMap<String, KeyEntry> {
        t.by_hash
            .values()
            .map(|e| (e.principal.name.clone(), e.clone()))
            .collect()
    };
    let (old, new) = (by_name(before), by_name(after));
    let mut out = KeyChanges::default();
    for (name, entry) in &new {
        match old.get(name) {
            None => out.added.push(name.clone()),
            Some(was)
                if was.hash != entry.hash
                    || was.revoked != entry.revoked
                    || was.expires_at != entry.expires_at
                    || was.principal != entry.principal =>
            {
                out.changed.push(name.clone());
            }
            Some(_) => {}
        }
    }
    out.removed = old.keys().filter(|n| !new.contains_key(*n)).cloned().collect();
    out.added.sort();
    out.removed.sort();
    out.changed.sort();
    out
}

fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    let mut out = [0_u8; 32];
    hex::decode_to_slice(text.trim(), &mut out).ok()?;
    Some(out)
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let known = req.extensions().get::<Principal>().cloned();
        ready(known.map_or_else(|| authenticate(req), Ok))
    }
}

/// The principal behind a request's `Authorization` header: 401 without a valid key, 403 for a disabled
/// partner's key.
pub fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
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
    let table = keys.current();
    let principal = match &keys.oidc {
        Some(oidc) if crate::oidc::looks_like_jwt(key) => oidc
            .verify(key, &table.registered_partners)
            .map_err(|failure| failure.into_api_error())?,
        _ => {
            let entry = table
                .by_hash
                .get(&digest(key))
                .ok_or_else(|| ApiError::new(Code::InvalidApiKey, "the API key is not valid"))?;
            if entry.revoked {
                return Err(ApiError::new(Code::InvalidApiKey, "the API key was revoked"));
            }
            if entry.expires_at.is_some_and(|at| at <= Utc::now()) {
                return Err(ApiError::new(Code::InvalidApiKey, "the API key has expired"));
            }
            entry.principal.clone()
        }
    };
    if let Some(partner) = &principal.partner_id
        && table.disabled_partners.contains(partner)
    {
        return Err(ApiError::new(
            Code::Forbidden,
            format!("partner `{partner}` is disabled; its keys are refused"),
        ));
    }
    Ok(principal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use omni_config::Role;

    fn sha256_hex(key: &str) -> String {
        hex::encode(digest(key))
    }

    fn call(keys: &ApiKeys, key: &str) -> Result<Principal, ApiError> {
        let req = actix_web::test::TestRequest::default()
            .app_data(web::Data::new(keys.clone()))
            .insert_header(("authorization", format!("Bearer {key}")))
            .to_http_request();
        authenticate(&req)
    }

    #[test]
    fn keys_from_a_file_by_hash_are_rotated_revoked_and_expired_without_a_restart() {
        let dir = std::env::temp_dir().join(format!("omni-keys-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("keys.toml");
        let entry = |name: &str, key: &str, extra: &str| {
            format!(
                "[[api_keys]]\nname = \"{name}\"\nkey_sha256 = \"{}\"\nroles = [\"manager\"]\n{extra}\n",
                sha256_hex(key)
            )
        };
        std::fs::write(&file, entry("ops-1", "first-key-000000001", "")).unwrap();
        let settings = AuthSettings {
            keys_file: file.display().to_string(),
            ..AuthSettings::default()
        };
        let keys = ApiKeys::from_settings(&settings, &[]).unwrap();
        assert_eq!(call(&keys, "first-key-000000001").unwrap().name, "ops-1");
        assert_eq!(keys.reload().unwrap(), None, "an unchanged file changes nothing");

        // Rotation: a second key beside the first, the first expiring; then the first revoked.
        let rotated = entry(
            "ops-1",
            "first-key-000000001",
            "expires_at = \"2020-01-01T00:00:00Z\"",
        ) + &entry("ops-2", "second-key-00000001", "");
        std::fs::write(&file, rotated).unwrap();
        let changes = keys.reload().unwrap().unwrap();
        assert_eq!(
            (changes.added, changes.changed),
            (vec!["ops-2".to_owned()], vec!["ops-1".to_owned()])
        );
        assert_eq!(call(&keys, "second-key-00000001").unwrap().name, "ops-2");
        let expired = call(&keys, "first-key-000000001").unwrap_err();
        assert!(expired.to_string().contains("expired"), "{expired}");
        std::fs::write(
            &file,
            entry("ops-1", "first-key-000000001", "revoked = true")
                + &entry("ops-2", "second-key-00000001", ""),
        )
        .unwrap();
        keys.reload().unwrap();
        assert!(
            call(&keys, "first-key-000000001")
                .unwrap_err()
                .to_string()
                .contains("revoked")
        );

        // A broken file, a key in clear or a name twice: refused, and the keys stay as they were.
        for bad in [
            "[[api_keys]]\nname = \"x\"\nkey = \"in-clear-key-0000001\"\nroles = [\"manager\"]\n".to_owned(),
            entry("ops-2", "third-key-000000001", "") + &entry("ops-2", "second-key-00000001", ""),
            "[[api_keys]\n".to_owned(),
        ] {
            std::fs::write(&file, bad).unwrap();
            assert!(keys.reload().is_err());
            assert_eq!(call(&keys, "second-key-00000001").unwrap().name, "ops-2");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn principal(roles: &[Role], partner: Option<&str>, stores: &[&str]) -> Principal {
        Principal {
            name: "p".into(),
            roles: roles.to_vec(),
            partner_id: partner.map(|p| PartnerId::parse(p).unwrap()),
            locations: stores.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn each_principal_sees_only_its_own_objects() {
        let acme = PartnerId::parse("acme").unwrap();
        let other = PartnerId::parse("other").unwrap();
        let partner = principal(&[Role::Partner], Some("acme"), &[]);
        assert!(partner.sees(Some(&acme), ["S2"]));
        assert!(!partner.sees(Some(&other), ["S1"]));
        assert!(!partner.sees(None, ["S1"]));
        assert!(!partner.works_at("S1"));

        let associate = principal(&[Role::Associate], None, &["S1"]);
        assert!(associate.sees(Some(&other), ["S1"]));
        assert!(!associate.sees(None, ["S2"]));
        assert!(
            !associate.sees(None, []),
            "an order not held anywhere yet is no store's"
        );
        assert!(associate.works_at("S1") && !associate.works_at("S2"));

        for unscoped in [
            principal(&[Role::Manager], None, &[]),
            principal(&[Role::Service], None, &[]),
            principal(&[Role::Auditor], None, &[]),
        ] {
            assert!(unscoped.sees(Some(&acme), []) && unscoped.works_at("S9"));
        }
    }
}
