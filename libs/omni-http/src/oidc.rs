//! OIDC bearer tokens: a JWT from the configured issuer, signed with a key of its JSON Web Key Set (RS256/384/512,
//! PS256/384/512, ES256/384 or EdDSA; never a shared secret), for the configured audience, within its validity,
//! becomes a principal whose name, roles, partner and stores come from configurable claims. The scope rules of API
//! keys apply to it too.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use omni_config::{ApiKeySettings, OidcSettings, Role};
use omni_contracts::PartnerId;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::errors::{ApiError, Code};
use crate::principal::Principal;

/// The signing algorithms accepted: asymmetric only, so that whoever can check a token cannot make one.
const ACCEPTED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Largest key set fetched from a URL.
const MAX_JWKS_BYTES: usize = 1 << 20;

/// Where the issuer's key set comes from.
#[derive(Debug, Clone)]
enum KeySetSource {
    /// A file, re-read when it changes.
    File(PathBuf),
    /// A URL, fetched at start and then periodically.
    Url(String),
}

/// Checks tokens of one issuer.
#[derive(Debug)]
pub struct Verifier {
    settings: OidcSettings,
    source: KeySetSource,
    jwks: RwLock<Arc<JwkSet>>,
    fingerprint: Mutex<[u8; 32]>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFailure {
    /// Not a token of this issuer for this audience, or not valid now (401).
    Invalid(String),
    /// Valid, but what it grants is ambiguous or names an unknown partner (403).
    Scope(String),
}

impl TokenFailure {
    /// The HTTP error.
    pub fn into_api_error(self) -> ApiError {
        match self {
            TokenFailure::Invalid(reason) => ApiError::new(Code::InvalidApiKey, reason),
            TokenFailure::Scope(reason) => ApiError::new(Code::Forbidden, reason),
        }
    }
}

/// Whether a bearer credential has the shape of a JWT (three base64url parts) rather than of an API key.
pub fn looks_like_jwt(credential: &str) -> bool {
    credential.starts_with("ey")
        && credential.split('.').count() == 3
        && credential
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Why the OIDC settings or the issuer's key set cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// A setting is missing or malformed.
    #[error("invalid configuration: `auth.oidc.{key}` {reason}")]
    Invalid {
        /// The key under `auth.oidc`.
        key: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The key set file cannot be read.
    #[error("invalid configuration: `auth.oidc.jwks_file` cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key set could not be fetched from its URL.
    #[error("auth.oidc.jwks_url: cannot fetch {url}: {reason}")]
    Fetch {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// What was read is not a JSON Web Key Set.
    #[error("auth.oidc: {origin} is not a JSON Web Key Set: {source}")]
    NotAKeySet {
        /// The file or URL.
        origin: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

impl Verifier {
    /// The verifier of `settings`, reading its key set; `None` when no issuer is set.
    pub fn from_settings(settings: &OidcSettings) -> Result<Option<Self>, OidcError> {
        if settings.issuer.trim().is_empty() {
            return Ok(None);
        }
        let invalid = |key: &'static str, reason: &'static str| OidcError::Invalid { key, reason };
        if settings.audiences.is_empty() {
            return Err(invalid("audiences", "must name at least one audience"));
        }
        let (file, url) = (settings.jwks_file.trim(), settings.jwks_url.trim());
        let verifier = |source, jwks, fingerprint| Self {
            settings: settings.clone(),
            source,
            jwks: RwLock::new(Arc::new(jwks)),
            fingerprint: Mutex::new(fingerprint),
        };
        match (file.is_empty(), url.is_empty()) {
            (false, true) => {
                let path = PathBuf::from(file);
                let (jwks, fingerprint) = read_jwks(&path)?;
                Ok(Some(verifier(KeySetSource::File(path), jwks, fingerprint)))
            }
            (true, false) if url.starts_with("https://") || url.starts_with("http://") => {
                // Fetched by [`Verifier::fetch`]; until then no token verifies.
                let empty = JwkSet { keys: Vec::new() };
                Ok(Some(verifier(KeySetSource::Url(url.to_owned()), empty, [0; 32])))
            }
            (true, false) => Err(invalid("jwks_url", "must be an https:// (or http://) URL")),
            _ => Err(invalid(
                "jwks_file",
                "or `auth.oidc.jwks_url`: name the issuer's key set (JWKS), one of the two",
            )),
        }
    }

    /// The URL the key set is fetched from, and how often, when it is not a file.
    pub fn remote(&self) -> Option<(&str, std::time::Duration)> {
        match &self.source {
            KeySetSource::Url(url) => Some((
                url.as_str(),
                std::time::Duration::from_secs(self.settings.jwks_refresh_seconds.max(10)),
            )),
            KeySetSource::File(_) => None,
        }
    }

    /// Re-reads the key set if its file changed (a key rotation at the issuer). One that does not read leaves the
    /// keys as they were. A key set from a URL is fetched by [`Verifier::fetch`] instead.
    pub fn reload(&self) -> Result<bool, OidcError> {
        let KeySetSource::File(path) = &self.source else {
            return Ok(false);
        };
        let bytes = std::fs::read(path).map_err(|source| OidcError::Unreadable {
            path: path.display().to_string(),
            source,
        })?;
        self.install(&bytes, &path.display().to_string())
    }

    /// Fetches the key set from its URL (within 10 s, at most 1 MiB) and installs it if it changed. One that does
    /// not fetch or parse leaves the keys as they were.
    pub async fn fetch(&self, client: &reqwest::Client) -> Result<bool, OidcError> {
        let KeySetSource::Url(url) = &self.source else {
            return Ok(false);
        };
        let failed = |e: &dyn std::fmt::Display| OidcError::Fetch {
            url: url.clone(),
            reason: e.to_string(),
        };
        let response = client
            .get(url)
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| failed(&e))?;
        if !response.status().is_success() {
            return Err(failed(&response.status()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err(failed(&"the key set is larger than 1 MiB"));
        }
        let bytes = response.bytes().await.map_err(|e| failed(&e))?;
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(failed(&"the key set is larger than 1 MiB"));
        }
        self.install(&bytes, url)
    }

    /// Installs a key set read from `origin` if it differs from the one in use.
    fn install(&self, bytes: &[u8], origin: &str) -> Result<bool, OidcError> {
        let fingerprint: [u8; 32] = Sha256::digest(bytes).into();
        let mut known = self
            .fingerprint
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *known == fingerprint {
            return Ok(false);
        }
        let jwks = parse_jwks(bytes, origin)?;
        *self
            .jwks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(jwks);
        *known = fingerprint;
        Ok(true)
    }
    /// The principal a token stands for. `registered` are the partner ids Omni knows.
    pub fn verify(&self, token: &str, registered: &HashSet<String>) -> Result<Principal, TokenFailure> {
        let invalid =
            |reason: &str| TokenFailure::Invalid(format!("the bearer token is not valid: {reason}"));
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("it does not read as a JWT"))?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(invalid("its signing algorithm is not accepted"));
        }
        let jwks = self
            .jwks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let jwk = match &header.kid {
            Some(kid) => jwks.find(kid),
            None if jwks.keys.len() == 1 => jwks.keys.first(),
            None => None,
        }
        .ok_or_else(|| invalid("it is not signed with a key of the issuer"))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| invalid("the issuer's key cannot be used"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[self.settings.issuer.as_str()]);
        validation.set_audience(&self.settings.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.settings.leeway_seconds;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => invalid("it has expired"),
                    ErrorKind::ImmatureSignature => invalid("it is not valid yet"),
                    ErrorKind::InvalidAudience => invalid("it is for another audience"),
                    ErrorKind::InvalidIssuer => invalid("it is from another issuer"),
                    ErrorKind::InvalidSignature => invalid("its signature does not verify"),
                    _ => invalid("it does not verify"),
                }
            })?
            .claims;
        self.principal(&claims, registered)
    }

    /// The principal of verified claims: the scope rules of keys apply.
    fn principal(
        &self,
        claims: &Map<String, Value>,
        registered: &HashSet<String>,
    ) -> Result<Principal, TokenFailure> {
        let names = |claim: &str| -> Vec<String> {
            match claims.get(claim) {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                Some(Value::String(text)) => text.split_whitespace().map(str::to_owned).collect(),
                _ => Vec::new(),
            }
        };
        let name = claims
            .get(&self.settings.name_claim)
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                TokenFailure::Invalid(format!(
                    "the bearer token has no `{}` claim to name its principal",
                    self.settings.name_claim
                ))
            })?;
        let roles: Vec<Role> = names(&self.settings.roles_claim)
            .into_iter()
            .filter_map(|r| serde_json::from_value(Value::String(r)).ok())
            .collect();
        let partner_id = claims
            .get(&self.settings.partner_claim)
            .and_then(Value::as_str)
            .map(str::to_owned);
        let scope = ApiKeySettings {
            name: name.to_owned(),
            roles: roles.clone(),
            partner_id: partner_id.clone(),
            locations: names(&self.settings.locations_claim),
            ..ApiKeySettings::default()
        };
        scope.scope_problem().map_err(|reason| {
            TokenFailure::Scope(format!("the bearer token's scope is ambiguous: {reason}"))
        })?;
        let partner_id = match partner_id {
            Some(id) if registered.contains(&id) => {
                Some(PartnerId::parse(&id).map_err(|e| TokenFailure::Scope(e.to_string()))?)
            }
            Some(id) => {
                return Err(TokenFailure::Scope(format!(
                    "the bearer token names partner `{id}`, which is not registered"
                )));
            }
            None => None,
        };
        Ok(Principal {
            // Apart from key names, so that an audit entry says which kind of credential acted.
            name: format!("oidc:{name}"),
            roles,
            partner_id,
            locations: scope.locations,
        })
    }
}

fn read_jwks(path: &std::path::Path) -> Result<(JwkSet, [u8; 32]), OidcError> {
    let bytes = std::fs::read(path).map_err(|source| OidcError::Unreadable {
        path: path.display().to_string(),
        source,
    })?;
    let fingerprint = Sha256::digest(&bytes).into();
    Ok((parse_jwks(&bytes, &path.display().to_string())?, fingerprint))
}

fn parse_jwks(bytes: &[u8], origin: &str) -> Result<JwkSet, OidcError> {
    serde_json::from_slice(bytes).map_err(|source| OidcError::NotAKeySet {
        origin: origin.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use jsonwebtoken::{EncodingKey, Header};
    use ring::signature::{Ed25519KeyPair, KeyPair};

    use super::*;

    /// A test issuer: an Ed25519 key, its JWKS written to a file.
    struct Issuer {
        pkcs8: Vec<u8>,
        public: Vec<u8>,
    }

    impl Issuer {
        fn new() -> Self {
            let rng = ring::rand::SystemRandom::new();
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref().to_vec();
            let public = Ed25519KeyPair::from_pkcs8(&pkcs8)
                .unwrap()
                .public_key()
                .as_ref()
                .to_vec();
            Self { pkcs8, public }
        }

        fn jwks(&self, kid: &str) -> Value {
            let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.public);
            serde_json::json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig" }] })
        }

        fn token(&self, kid: &str, claims: &Value) -> String {
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(kid.into());
            jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&self.pkcs8)).unwrap()
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn settings(jwks_file: &std::path::Path) -> OidcSettings {
        OidcSettings {
            issuer: "https://id.example.test".into(),
            audiences: vec!["omni".into()],
            jwks_file: jwks_file.display().to_string(),
            ..OidcSettings::default()
        }
    }

    fn claims(extra: Value) -> Value {
        let mut claims = serde_json::json!({
            "iss": "https://id.example.test", "aud": "omni", "sub": "sam@store-1",
            "exp": now() + 600, "iat": now(),
            "omni_roles": ["associate"], "omni_locations": ["STORE-1"],
        });
        if let (Some(c), Value::Object(extra)) = (claims.as_object_mut(), extra) {
            c.extend(extra);
        }
        claims
    }

    #[test]
    fn a_token_of_the_issuer_is_accepted_with_its_scope_and_refused_otherwise() {
        let dir = std::env::temp_dir().join(format!("omni-oidc-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let jwks_file = dir.join("jwks.json");
        let issuer = Issuer::new();
        std::fs::write(&jwks_file, issuer.jwks("k1").to_string()).unwrap();
        let verifier = Verifier::from_settings(&settings(&jwks_file)).unwrap().unwrap();
        let registered: HashSet<String> = ["acme".to_owned()].into();

        let principal = verifier
            .verify(&issuer.token("k1", &claims(Value::Null)), &registered)
            .unwrap();
        assert_eq!(
            (
                principal.name.as_str(),
                principal.roles.as_slice(),
                principal.locations.as_slice()
            ),
            (
                "oidc:sam@store-1",
                [Role::Associate].as_slice(),
                ["STORE-1".to_owned()].as_slice()
            )
        );
        let partner = verifier
            .verify(
                &issuer.token(
                    "k1",
                    &claims(serde_json::json!({ "omni_roles": "partner", "omni_partner_id": "acme", "omni_locations": [] })),
                ),
                &registered,
            )
            .unwrap();
        assert_eq!(partner.partner_id.as_ref().map(PartnerId::as_str), Some("acme"));

        let refused = |token: String| verifier.verify(&token, &registered).unwrap_err();
        let expired = claims(serde_json::json!({ "exp": now() - 3600 }));
        assert!(
            matches!(refused(issuer.token("k1", &expired)), TokenFailure::Invalid(r) if r.contains("expired"))
        );
        let elsewhere = claims(serde_json::json!({ "aud": "another-app" }));
        assert!(
            matches!(refused(issuer.token("k1", &elsewhere)), TokenFailure::Invalid(r) if r.contains("audience"))
        );
        let other_issuer = claims(serde_json::json!({ "iss": "https://evil.example.test" }));
        assert!(
            matches!(refused(issuer.token("k1", &other_issuer)), TokenFailure::Invalid(r) if r.contains("issuer"))
        );
        let forger = Issuer::new();
        assert!(matches!(
            refused(forger.token("k1", &claims(Value::Null))),
            TokenFailure::Invalid(r) if r.contains("signature")
        ));
        let shared_secret = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(Value::Null),
            &EncodingKey::from_secret(b"guessable"),
        )
        .unwrap();
        assert!(matches!(refused(shared_secret), TokenFailure::Invalid(r) if r.contains("algorithm")));
        let unscoped_associate = claims(serde_json::json!({ "omni_locations": [] }));
        assert!(matches!(
            refused(issuer.token("k1", &unscoped_associate)),
            TokenFailure::Scope(_)
        ));
        let stranger = claims(
            serde_json::json!({ "omni_roles": ["partner"], "omni_partner_id": "nobody", "omni_locations": [] }),
        );
        assert!(
            matches!(refused(issuer.token("k1", &stranger)), TokenFailure::Scope(r) if r.contains("not registered"))
        );

        // The issuer rotates its key: the new set is read without a restart, and the old key's tokens stop working.
        let rotated = Issuer::new();
        std::fs::write(&jwks_file, rotated.jwks("k2").to_string()).unwrap();
        assert!(verifier.reload().unwrap());
        assert!(
            verifier
                .verify(&rotated.token("k2", &claims(Value::Null)), &registered)
                .is_ok()
        );
        assert!(
            verifier
                .verify(&issuer.token("k1", &claims(Value::Null)), &registered)
                .is_err()
        );
        assert!(!verifier.reload().unwrap(), "an unchanged file is not read again");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Serves `body` to every GET on a loopback port, for `requests` requests; the URL.
    fn serve(body: String, requests: usize) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(requests) {
                let Ok(mut stream) = stream else { continue };
                let mut buf = [0_u8; 2048];
                let _ = stream.read(&mut buf);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        url
    }

    #[tokio::test]
    async fn a_key_set_by_url_is_fetched_and_until_then_no_token_verifies() {
        let issuer = Issuer::new();
        let url = serve(issuer.jwks("k1").to_string(), 2);
        let settings = OidcSettings {
            jwks_url: url,
            ..settings(std::path::Path::new(""))
        };
        let settings = OidcSettings {
            jwks_file: String::new(),
            ..settings
        };
        let verifier = Verifier::from_settings(&settings).unwrap().unwrap();
        let registered = HashSet::new();
        let token = issuer.token("k1", &claims(Value::Null));
        assert!(verifier.verify(&token, &registered).is_err(), "no key set yet");
        let client = reqwest::Client::new();
        assert!(verifier.fetch(&client).await.unwrap());
        assert!(verifier.verify(&token, &registered).is_ok());
        assert!(
            !verifier.fetch(&client).await.unwrap(),
            "the same set again changes nothing"
        );
        let both = OidcSettings {
            jwks_file: "/etc/jwks.json".into(),
            ..settings.clone()
        };
        assert!(
            Verifier::from_settings(&both).is_err(),
            "a file or a URL, not both"
        );
    }

    /// Through the door every request takes: a bearer JWT becomes the caller; an API key still works beside it.
    #[test]
    fn a_bearer_token_authenticates_a_request_beside_the_api_keys() {
        let dir = std::env::temp_dir().join(format!("omni-oidc-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let jwks_file = dir.join("jwks.json");
        let issuer = Issuer::new();
        std::fs::write(&jwks_file, issuer.jwks("k1").to_string()).unwrap();
        let settings = omni_config::AuthSettings {
            api_keys: vec![ApiKeySettings {
                key: omni_config::Secret::new("ops-key-00000000001"),
                name: "ops".into(),
                roles: vec![Role::Admin],
                ..ApiKeySettings::default()
            }],
            oidc: settings(&jwks_file),
            ..omni_config::AuthSettings::default()
        };
        let keys = crate::ApiKeys::from_settings(&settings, &[]).unwrap();
        let call = |credential: &str| {
            let req = actix_web::test::TestRequest::default()
                .app_data(actix_web::web::Data::new(keys.clone()))
                .insert_header(("authorization", format!("Bearer {credential}")))
                .to_http_request();
            crate::auth::authenticate(&req)
        };
        let associate = call(&issuer.token("k1", &claims(Value::Null))).unwrap();
        assert!(associate.works_at("STORE-1") && !associate.works_at("STORE-2"));
        assert_eq!(call("ops-key-00000000001").unwrap().name, "ops");
        let expired =
            call(&issuer.token("k1", &claims(serde_json::json!({ "exp": now() - 3600 })))).unwrap_err();
        assert_eq!(
            actix_web::ResponseError::status_code(&expired),
            actix_web::http::StatusCode::UNAUTHORIZED
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
