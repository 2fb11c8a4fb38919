//! API-key principals. Keys arrive as `Authorization: Bearer <key>`; only their SHA-256 is kept in memory.
//! Each principal is scoped: a partner to its orders, an associate (or store manager) to its stores; admins,
//! services, auditors and merchandising managers see every object.

use std::collections::{HashMap, HashSet};
use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use omni_config::{AuthSettings, PartnerSettings, Role};
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

    /// Who this principal pays as: its partner (any key of a partner pays with the partner's cards), or itself.
    pub fn payer(&self) -> omni_contracts::api::Payer {
        match &self.partner_id {
            Some(partner) => omni_contracts::api::Payer::partner(partner),
            None => omni_contracts::api::Payer::principal(&self.name),
        }
    }

    /// Whether the principal is kept to a partner's or some stores' objects.
    pub fn is_scoped(&self) -> bool {
        self.partner_id.is_some() || !self.locations.is_empty()
    }

    /// Whether the principal may see an object owned by `partner` (a partner's order) and kept at `stores`
    /// (an order's node, a hold's locations): a partner only its own, a store-scoped principal only objects at
    /// one of its stores, everyone else every object.
    pub fn sees<'a>(&self, partner: Option<&PartnerId>, stores: impl IntoIterator<Item = &'a str>) -> bool {
        if let Some(own) = &self.partner_id {
            return partner == Some(own);
        }
        if self.locations.is_empty() {
            return true;
        }
        stores.into_iter().any(|store| self.works_at(store))
    }

    /// Whether the principal may act at `store`: a partner nowhere, a store-scoped principal at its stores,
    /// everyone else everywhere.
    pub fn works_at(&self, store: &str) -> bool {
        if self.partner_id.is_some() {
            return false;
        }
        self.locations.is_empty() || self.locations.iter().any(|l| l == store)
    }
}

/// The keys a service accepts.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    by_hash: Arc<HashMap<[u8; 32], Principal>>,
    disabled_partners: Arc<HashSet<PartnerId>>,
}

impl ApiKeys {
    /// Builds the table from settings and the registered partners. A key whose scope is ambiguous, a partner key
    /// with a malformed or unregistered partner id, and two keys of one name are refused; a disabled partner's
    /// keys authenticate but are refused everywhere (403).
    pub fn from_settings(settings: &AuthSettings, partners: &[PartnerSettings]) -> Result<Self, String> {
        let mut by_hash = HashMap::new();
        let mut names = HashSet::new();
        for (i, key) in settings.api_keys.iter().enumerate() {
            key.scope_problem()
                .map_err(|reason| format!("invalid configuration: `auth.api_keys[{i}]`: {reason}"))?;
            if !names.insert(key.name.as_str()) {
                return Err(format!(
                    "invalid configuration: `auth.api_keys[{i}].name` `{}` names two keys",
                    key.name
                ));
            }
            let partner_id = key
                .partner_id
                .as_deref()
                .map(PartnerId::parse)
                .transpose()
                .map_err(|e| format!("invalid configuration: `auth.api_keys[{i}].partner_id` {e}"))?;
            if let Some(partner) = &partner_id
                && !partners.iter().any(|p| p.id == partner.as_str())
            {
                return Err(format!(
                    "invalid configuration: `auth.api_keys[{i}].partner_id` `{partner}` is not a registered \
                     partner (orders.partners)"
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
        let disabled_partners = partners
            .iter()
            .filter(|p| !p.enabled)
            .filter_map(|p| PartnerId::parse(&p.id).ok())
            .collect();
        Ok(Self {
            by_hash: Arc::new(by_hash),
            disabled_partners: Arc::new(disabled_partners),
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
    let principal = keys
        .lookup(key)
        .cloned()
        .ok_or_else(|| ApiError::new(Code::InvalidApiKey, "the API key is not valid"))?;
    if let Some(partner) = &principal.partner_id
        && keys.disabled_partners.contains(partner)
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
