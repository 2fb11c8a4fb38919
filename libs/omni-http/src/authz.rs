//! The authorization table: every route of a service declares who may call it ([`Rule::roles`]) and whose
//! objects it touches ([`Objects`]). A service registers its routes only through its rules
//! ([`Rule::register`]); the shell's middleware authenticates every call to a rule's route and refuses a role the
//! rule does not name (403) before the handler runs, and a route that has no rule is refused for everyone.
//! Handlers then keep each principal to its own objects with [`crate::Principal::sees`] and
//! [`crate::Principal::works_at`] (404 for objects one may not see).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, Handler, Responder, web};
use omni_config::Role;

use crate::errors::{ApiError, Code};

/// An HTTP method a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method's name, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    fn route(self) -> actix_web::Route {
        match self {
            Method::Get => web::get(),
            Method::Post => web::post(),
            Method::Put => web::put(),
            Method::Delete => web::delete(),
        }
    }
}

/// Whose objects a route touches, and so how a handler scopes a principal to its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objects {
    /// Nobody's in particular: reference data (locations, SKUs, availability) or the service's own settings.
    Shared,
    /// Orders: a partner only its own, a store-scoped principal only orders at its stores (the node holding
    /// them).
    Orders,
    /// Things at a store (stock movements, fulfillments): a store-scoped principal only at its stores.
    AtStores,
    /// Holds: a store-scoped principal only at its stores; a hold placed for an order is changed only by the
    /// service principal, and a pinned hold (a paid order's) is never shortened.
    Holds,
    /// Card tokens: the caller tokenizes its own customers' cards; a token pays only orders its creator places.
    OwnTokens,
    /// Returns: a partner only its own orders' returns; a store-scoped principal only returns taken at its stores
    /// (of any order: returns are taken anywhere).
    Returns,
    /// The service's audit log, read only.
    AuditLog,
    /// A customer's own pickup: no API key, the caller proves it is the customer with the order's pickup code
    /// (wrong codes are counted per task and per client address, and refused past a limit).
    PickupCode,
    /// A customer's own return: no API key, the caller proves the order is theirs with its return code (wrong
    /// codes are counted per order and per client address, and refused past a limit).
    ReturnCode,
    /// A PSP's webhook: no API key, the PSP proves the call is its own with an HMAC signature of the body and a
    /// recent timestamp; a replayed event is acknowledged and changes nothing.
    PspSignature,
}

impl Objects {
    /// One line for the published table.
    pub fn describe(self) -> &'static str {
        match self {
            Objects::Shared => "shared reference data or the service's own settings",
            Objects::Orders => {
                "a partner: its own orders; associates and store managers: orders at their stores"
            }
            Objects::AtStores => "associates and store managers: their stores only",
            Objects::Holds => {
                "associates and store managers: holds at their stores, and not holds of an order (only the \
                 service principal changes those); a pinned hold is never shortened"
            }
            Objects::OwnTokens => {
                "the caller's customers' cards: a token pays only orders its creator places (a partner's: any of \
                 its keys)"
            }
            Objects::Returns => {
                "a partner: returns of its own orders; associates and store managers: returns taken at their \
                 stores, of any order"
            }
            Objects::AuditLog => "the service's audit log, read only",
            Objects::PickupCode => {
                "no API key: the customer proves the pickup is theirs with its pickup code; wrong codes are \
                 limited per task and per client address"
            }
            Objects::ReturnCode => {
                "no API key: the customer proves the order is theirs with its return code; wrong codes are \
                 limited per order and per client address"
            }
            Objects::PspSignature => {
                "no API key: the PSP signs the body (HMAC-SHA256 with the webhook secret) with a timestamp of the \
                 last 5 minutes; replays change nothing"
            }
        }
    }

    /// Whether the route takes no API key (its handler checks another proof).
    pub fn keyless(self) -> bool {
        matches!(
            self,
            Objects::PickupCode | Objects::ReturnCode | Objects::PspSignature
        )
    }
}

/// One row of the table: a route, the roles that may call it (admins may call every route), and whose objects
/// it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The method.
    pub method: Method,
    /// The route's pattern as registered, e.g. `/v1/orders/{id}`.
    pub path: &'static str,
    /// Who may call it, besides admins.
    pub roles: &'static [Role],
    /// Whose objects it touches.
    pub objects: Objects,
}

impl Rule {
    /// A rule.
    pub const fn new(method: Method, path: &'static str, roles: &'static [Role], objects: Objects) -> Self {
        Self {
            method,
            path,
            roles,
            objects,
        }
    }

    /// Whether a principal holding `roles` may call the route at all.
    pub fn admits(&self, roles: &[Role]) -> bool {
        roles.contains(&Role::Admin) || roles.iter().any(|r| self.roles.contains(r))
    }

    /// Registers `handler` at this rule's route: the only way a service adds a route, so none escapes the table.
    pub fn register<F, Args>(&self, cfg: &mut web::ServiceConfig, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        cfg.route(self.path, self.method.route().to(handler));
    }
}

/// A service's rules, as the middleware looks them up.
#[derive(Debug, Clone, Copy, Default)]
pub struct Table(pub &'static [Rule]);

/// What the table says of a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The route is not the table's to judge: operational endpoints, or no route at all (404 follows).
    Open,
    /// The route's rule.
    Guarded(&'static Rule),
    /// The pattern has rules but none for this method (405 follows, no principal needed).
    OtherMethod,
    /// A route was registered without a rule: refused for everyone.
    Unruled,
}

/// Routes every service serves without authentication.
pub const OPEN_PATHS: &[&str] = &["/health/live", "/health/ready", "/metrics", "/openapi.json"];

impl Table {
    /// The verdict for a request matched to `pattern` (`None`: no route matched).
    pub fn judge(&self, method: &str, pattern: Option<&str>) -> Verdict {
        let Some(pattern) = pattern else {
            return Verdict::Open;
        };
        if OPEN_PATHS.contains(&pattern) {
            return Verdict::Open;
        }
        let mut same_path = self.0.iter().filter(|r| r.path == pattern).peekable();
        if same_path.peek().is_none() {
            return Verdict::Unruled;
        }
        same_path
            .find(|r| r.method.as_str() == method)
            .map_or(Verdict::OtherMethod, Verdict::Guarded)
    }
}

/// Holds every request to a route to the service's authorization table: authenticates the caller (401, or 403
/// for a disabled partner), refuses a role the route's rule does not name (403) and a route without a rule (403,
/// logged as an error), and hands the principal to the handler. Operational routes and unknown paths pass.
/// The table comes from the app's `web::Data<Table>` (none: every route is unruled).
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    use actix_web::{HttpMessage, ResponseError};
    let table = req
        .app_data::<web::Data<Table>>()
        .map_or_else(Table::default, |table| *table.get_ref());
    let pattern = req.match_pattern();
    let mut req = req;
    let refusal = match table.judge(req.method().as_str(), pattern.as_deref()) {
        Verdict::Open | Verdict::OtherMethod => None,
        Verdict::Unruled => {
            tracing::error!(
                route = pattern.as_deref().unwrap_or_default(),
                "A route has no rule in the authorization table; refusing every call to it."
            );
            Some(ApiError::new(
                Code::Forbidden,
                "this route is not in the authorization table",
            ))
        }
        // The customer's own route (their pickup code) or a PSP's webhook (its signature): the handler checks the
        // proof, there is no principal.
        Verdict::Guarded(rule) if rule.objects.keyless() => None,
        Verdict::Guarded(rule) => match crate::auth::authenticate(req.request()) {
            Err(e) => Some(e),
            Ok(principal) if !rule.admits(&principal.roles) => Some(ApiError::new(
                Code::Forbidden,
                format!(
                    "{} may not {} {}; it needs one of the roles {:?}",
                    principal.name,
                    rule.method.as_str(),
                    rule.path,
                    rule.roles
                ),
            )),
            Ok(principal) => {
                req.extensions_mut().insert(principal);
                // Only tokenization takes card numbers; any other body holding one is refused.
                if rule.objects != Objects::OwnTokens && rule.method != Method::Get {
                    refuse_card_numbers(&mut req).await
                } else {
                    None
                }
            }
        },
    };
    match refusal {
        Some(error) => Ok(req.into_response(error.error_response()).map_into_right_body()),
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}

/// Reads the body of a call that is not a tokenization and refuses it when one of its strings holds a card
/// number (DESIGN §6: card numbers enter only the vault); otherwise puts the body back for the handler.
async fn refuse_card_numbers(req: &mut ServiceRequest) -> Option<ApiError> {
    let body = match req.extract::<web::Bytes>().await {
        Ok(body) => body,
        Err(_) => {
            let limit = req
                .app_data::<web::PayloadConfig>()
                .map_or_else(String::new, |_| " (http.body_limit_bytes)".to_owned());
            return Some(ApiError::new(
                Code::PayloadTooLarge,
                format!("the body could not be read or exceeds the limit{limit}"),
            ));
        }
    };
    let refused = omni_contracts::card_data::json_strings_hold_card_number(&body);
    req.set_payload(actix_web::dev::Payload::from(body));
    refused.then(|| {
        ApiError::new(
            Code::CardNumberRefused,
            "a field holds what looks like a card number; card numbers go only to POST /v1/payments/tokens, \
             and orders take the token it answers",
        )
    })
}

/// The whole table as a Markdown table, one row per route (for `docs/AUTHORIZATION.md`).
pub fn markdown<S: std::fmt::Display>(services: &[(S, &'static [Rule])]) -> String {
    let mut out = String::from("| service | method | route | who (admins: every route) | objects |\n");
    out.push_str("|---|---|---|---|---|\n");
    for (service, rules) in services {
        for rule in *rules {
            let roles: Vec<String> = rule
                .roles
                .iter()
                .map(|r| format!("{r:?}").to_lowercase())
                .collect();
            out.push_str(&format!(
                "| {service} | {} | `{}` | {} | {} |\n",
                rule.method.as_str(),
                rule.path,
                if rule.objects == Objects::PickupCode {
                    "anyone with the pickup code".to_owned()
                } else if rule.objects == Objects::ReturnCode {
                    "anyone with the order's return code".to_owned()
                } else if rule.objects == Objects::PspSignature {
                    "the PSP, by its signature".to_owned()
                } else if roles.is_empty() {
                    "admins only".to_owned()
                } else {
                    roles.join(", ")
                },
                rule.objects.describe()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &[Rule] = &[
        Rule::new(Method::Get, "/v1/things/{id}", &[Role::Partner], Objects::Orders),
        Rule::new(Method::Post, "/v1/things", &[], Objects::Shared),
    ];

    #[test]
    fn a_route_without_a_rule_is_refused_and_operational_routes_are_open() {
        let table = Table(RULES);
        assert_eq!(table.judge("GET", Some("/v1/other")), Verdict::Unruled);
        assert_eq!(table.judge("GET", Some("/health/ready")), Verdict::Open);
        assert_eq!(table.judge("GET", None), Verdict::Open);
        assert_eq!(
            table.judge("PATCH", Some("/v1/things/{id}")),
            Verdict::OtherMethod
        );
        assert_eq!(
            table.judge("GET", Some("/v1/things/{id}")),
            Verdict::Guarded(&RULES[0])
        );
    }

    #[test]
    fn admins_pass_every_rule_and_others_only_theirs() {
        assert!(RULES[1].admits(&[Role::Admin]));
        assert!(!RULES[1].admits(&[Role::Manager]));
        assert!(RULES[0].admits(&[Role::Partner]));
        assert!(!RULES[0].admits(&[Role::Associate, Role::Auditor]));
    }
}
