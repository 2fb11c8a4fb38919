//! HTTP request and response bodies shared across services. Requests reject unknown fields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ContractError;
use crate::ids::{CustomerId, LocationId, MovementId, OrderId, PartnerId, Sku};
use crate::money::{Currency, Quantity};
pub use crate::selling::{Channel, CustomerTier};

/// A latitude in degrees, -90 to 90.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "f64", into = "f64")]
#[schema(value_type = f64)]
pub struct Latitude(f64);

/// A longitude in degrees, -180 to 180.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "f64", into = "f64")]
#[schema(value_type = f64)]
pub struct Longitude(f64);

macro_rules! degrees {
    ($name:ident, $field:literal, $limit:literal) => {
        impl $name {
            /// Parses degrees within range.
            pub fn new(raw: f64) -> crate::Result<Self> {
                if raw.is_finite() && (-$limit..=$limit).contains(&raw) {
                    Ok(Self(raw))
                } else {
                    Err(ContractError::InvalidField {
                        field: $field,
                        reason: format!("must be between -{} and {}, got {raw}", $limit, $limit),
                    })
                }
            }
            /// The value in degrees.
            pub fn degrees(self) -> f64 {
                self.0
            }
        }
        impl TryFrom<f64> for $name {
            type Error = ContractError;
            fn try_from(raw: f64) -> crate::Result<Self> {
                Self::new(raw)
            }
        }
        impl From<$name> for f64 {
            fn from(v: $name) -> f64 {
                v.0
            }
        }
    };
}
degrees!(Latitude, "lat", 90.0);
degrees!(Longitude, "lon", 180.0);

/// A point on the earth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoPoint {
    /// Latitude in degrees.
    pub lat: Latitude,
    /// Longitude in degrees.
    pub lon: Longitude,
}

impl GeoPoint {
    /// Great-circle distance in kilometres (haversine).
    pub fn distance_km(&self, other: &GeoPoint) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0;
        let (lat1, lat2) = (self.lat.0.to_radians(), other.lat.0.to_radians());
        let dlat = lat2 - lat1;
        let dlon = (other.lon.0 - self.lon.0).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
    }
}

/// What kind of node a location is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LocationKind {
    /// A store: sells at the till, can ship, offer pickup and curbside.
    Store,
    /// A warehouse: ships only.
    Warehouse,
}

/// A way a location can serve an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Ships parcels.
    Ship,
    /// Hands orders over at the counter (BOPIS).
    Pickup,
    /// Hands orders over at the kerb.
    Curbside,
}

/// A store or warehouse (`POST /v1/locations` body and the stored record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Unique code.
    pub id: LocationId,
    /// Display name.
    pub name: String,
    /// Store or warehouse.
    pub kind: LocationKind,
    /// Latitude in degrees.
    pub lat: Latitude,
    /// Longitude in degrees.
    pub lon: Longitude,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: String,
    /// A region code buffer rules can match on, e.g. `north`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// How it can serve orders.
    pub capabilities: Vec<Capability>,
    /// Curbside bays, numbered 1 to this (0: none); a curbside customer names theirs on arrival.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub curbside_bays: u32,
    /// Units it can pick a day for orders (absent: no limit); routing weighs what is left of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pick_capacity: Option<u32>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Location {
    /// Where the location is.
    pub fn point(&self) -> GeoPoint {
        GeoPoint {
            lat: self.lat,
            lon: self.lon,
        }
    }
}

/// A sellable item (`POST /v1/skus` body and the stored record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkuRecord {
    /// Unique code.
    pub sku: Sku,
    /// Display title.
    pub title: String,
    /// Free-form tags such as `high-demand`; buffer rules match on them.
    #[serde(default)]
    pub tags: Vec<String>,
    /// On-hand below which a location asks for replenishment (one request per crossing).
    #[serde(default)]
    pub reorder_point: Option<u32>,
    /// The list price of one unit; store associates sell at it (only managers override it at the till).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<crate::money::Money>,
}

/// What a stock movement does to on-hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// Goods received: on-hand goes up.
    Receipt,
    /// Sold at the till: on-hand goes down.
    PosSale,
    /// A correction: on-hand goes up by the quantity.
    Adjustment,
    /// A cycle count: on-hand is set to the quantity.
    Count,
    /// Sent to another location: on-hand goes down.
    TransferOut,
    /// Received from another location: on-hand goes up.
    TransferIn,
    /// A resellable return: on-hand goes up.
    ReturnRestock,
}

/// One stock movement (`POST /v1/inventory/movements` body and the `omni.inventory.v1` payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockMovement {
    /// Idempotency key: a movement with an id already recorded is acknowledged and ignored.
    pub event_id: MovementId,
    /// Where the stock moved.
    pub location_id: LocationId,
    /// What moved.
    pub sku: Sku,
    /// How on-hand changes.
    pub kind: MovementKind,
    /// How many units.
    pub quantity: Quantity,
}

/// Availability of one SKU at one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LocationAvailability {
    /// The location.
    pub location_id: LocationId,
    /// Units on hand.
    pub on_hand: i64,
    /// Units held by reservations.
    pub reserved: i64,
    /// Available to promise: on-hand minus reserved (never negative).
    pub atp: i64,
}

/// What one location offers a channel: its ATP less what buffer and segment rules withhold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationOffer {
    /// The location.
    pub location_id: LocationId,
    /// Units on hand.
    pub on_hand: i64,
    /// Units held by reservations.
    pub reserved: i64,
    /// Available to promise: on-hand minus reserved (never negative).
    pub atp: i64,
    /// What the channel (and the asking segment) may sell here.
    pub available: i64,
    /// The rules that withheld units here.
    pub rules: Vec<crate::policies::AppliedRule>,
}

/// `GET /v1/availability/{sku}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Availability {
    /// The SKU asked about.
    pub sku: Sku,
    /// The channel the answer is for.
    pub channel: Channel,
    /// The customer tier the answer is for.
    pub tier: CustomerTier,
    /// The segment the answer is for, if any (a VIP tier is always in the `vip` segment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<crate::policies::Segment>,
    /// What the channel may sell in total: the sum of `available` over the locations.
    pub available: i64,
    /// Per-location breakdown.
    pub locations: Vec<LocationOffer>,
    /// Every rule that withheld units somewhere, once (the per-location lists say how many where).
    pub rules: Vec<crate::ids::PolicyId>,
}

/// Who is buying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    /// The channel's customer id, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<CustomerId>,
    /// The customer's tier.
    #[serde(default)]
    pub tier: CustomerTier,
}

/// One order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    /// What is ordered.
    pub sku: Sku,
    /// How many.
    pub quantity: Quantity,
    /// Price of one unit in minor units of the order's currency.
    pub unit_price_minor: UnitPrice,
}

/// A non-negative unit price in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "i64", into = "i64")]
#[schema(value_type = i64)]
pub struct UnitPrice(i64);

impl UnitPrice {
    /// Parses a price of zero or more minor units.
    pub fn new(raw: i64) -> crate::Result<Self> {
        if raw < 0 {
            return Err(ContractError::InvalidField {
                field: "unit_price_minor",
                reason: format!("must not be negative, got {raw}"),
            });
        }
        Ok(Self(raw))
    }
    /// Minor units.
    pub fn minor(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for UnitPrice {
    type Error = ContractError;
    fn try_from(raw: i64) -> crate::Result<Self> {
        Self::new(raw)
    }
}

impl From<UnitPrice> for i64 {
    fn from(p: UnitPrice) -> i64 {
        p.0
    }
}

/// How the customer gets the goods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Delivery {
    /// Shipped to an address at these coordinates.
    Ship {
        /// Latitude of the ship-to address.
        lat: Latitude,
        /// Longitude of the ship-to address.
        lon: Longitude,
    },
    /// Picked up at the counter of a store.
    Pickup {
        /// The store.
        location_id: LocationId,
    },
    /// Handed over at the kerb of a store.
    Curbside {
        /// The store.
        location_id: LocationId,
    },
}

/// How the order is paid for, as a caller sends it: its payment plan, one entry per tender. Cards are referenced
/// by vault token only, never by number; the token is spent at intake: what the order keeps is a
/// [`PaymentMethod`]. Each tender pays its `amount_minor`, or, when that is absent, the remainder of the total
/// (at most one tender may leave it out; see [`payment_plan`]).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Tender {
    /// A card tokenized by the payments service (`POST /v1/payments/tokens`) for the same caller.
    Card {
        /// The vault token.
        token: String,
        /// What this card pays, in minor units; absent: the remainder of the total.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount_minor: Option<i64>,
    },
    /// Paid to the marketplace already; nothing to authorize.
    MarketplacePrepaid {
        /// What was prepaid, in minor units; absent: the remainder of the total.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount_minor: Option<i64>,
    },
    /// An Omni gift card, by its code (`XXXX-XXXX-XXXX-XXXX`, issued by `POST /v1/payments/gift-cards`).
    GiftCard {
        /// The card's code: spent at intake, the order keeps only its reference.
        code: String,
        /// What this card pays, in minor units; absent: the remainder of the total.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount_minor: Option<i64>,
    },
    /// Omni store credit, by its code (issued like gift cards, e.g. for a return).
    StoreCredit {
        /// The credit's code: spent at intake, the order keeps only its reference.
        code: String,
        /// What this credit pays, in minor units; absent: the remainder of the total.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount_minor: Option<i64>,
    },
}

/// Never the token or code: they pay.
impl std::fmt::Debug for Tender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, amount) = match self {
            Tender::Card { amount_minor, .. } => ("Card", amount_minor),
            Tender::MarketplacePrepaid { amount_minor } => ("MarketplacePrepaid", amount_minor),
            Tender::GiftCard { amount_minor, .. } => ("GiftCard", amount_minor),
            Tender::StoreCredit { amount_minor, .. } => ("StoreCredit", amount_minor),
        };
        f.debug_struct(kind)
            .field("amount_minor", amount)
            .finish_non_exhaustive()
    }
}

impl Tender {
    /// A card paying the remainder of the total.
    pub fn card(token: impl Into<String>) -> Self {
        Tender::Card {
            token: token.into(),
            amount_minor: None,
        }
    }

    /// What this tender is to pay; `None`: the remainder.
    pub fn amount_minor(&self) -> Option<i64> {
        match self {
            Tender::Card { amount_minor, .. }
            | Tender::MarketplacePrepaid { amount_minor }
            | Tender::GiftCard { amount_minor, .. }
            | Tender::StoreCredit { amount_minor, .. } => *amount_minor,
        }
    }

    /// What an accepted order keeps of this tender: a card by its payment-method reference, never the token.
    pub fn to_payment_method(&self) -> PaymentMethod {
        match self {
            Tender::Card { token, amount_minor } => PaymentMethod::Card {
                reference: crate::card_data::method_reference(token),
                card: None,
                amount_minor: *amount_minor,
            },
            Tender::MarketplacePrepaid { amount_minor } => PaymentMethod::MarketplacePrepaid {
                amount_minor: *amount_minor,
            },
            Tender::GiftCard { code, amount_minor } => PaymentMethod::GiftCard {
                reference: crate::stored_value::reference(code).unwrap_or_default(),
                last4: crate::stored_value::last4(code),
                amount_minor: *amount_minor,
            },
            Tender::StoreCredit { code, amount_minor } => PaymentMethod::StoreCredit {
                reference: crate::stored_value::reference(code).unwrap_or_default(),
                last4: crate::stored_value::last4(code),
                amount_minor: *amount_minor,
            },
        }
    }
}

/// The most tenders one order may be split over.
pub const MAX_TENDERS: usize = 5;

/// Why a payment plan does not add up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// No tender at all.
    #[error("tenders: an order needs at least one tender")]
    Empty,
    /// Too many tenders.
    #[error("tenders: at most {MAX_TENDERS} tenders per order, got {0}")]
    TooMany(usize),
    /// A planned amount is zero or negative.
    #[error("tenders[{0}].amount_minor: must be above 0")]
    NotPositive(usize),
    /// Two tenders leave their amount out.
    #[error(
        "tenders[{0}].amount_minor: only one tender may pay the remainder (leave its amount out); give this one an amount"
    )]
    TwoRemainders(usize),
    /// The planned amounts do not add up to the total.
    #[error("tenders: the amounts add up to {planned}, the order total is {total}")]
    DoesNotAddUp {
        /// The planned amounts' sum.
        planned: i64,
        /// The order total.
        total: i64,
    },
    /// The remainder tender would pay nothing.
    #[error("tenders[{0}]: the other tenders pay the whole total, nothing is left for this one")]
    NothingLeft(usize),
}

/// Resolves a payment plan: each tender's planned amount (`None`: the remainder) against the order `total`, all in
/// minor units. The amounts must add up to the total exactly; at most one tender pays the remainder, and it must
/// get something. An order of total 0 with one tender is planned at 0.
pub fn payment_plan(planned: &[Option<i64>], total: i64) -> Result<Vec<i64>, PlanError> {
    if planned.is_empty() {
        return Err(PlanError::Empty);
    }
    if planned.len() > MAX_TENDERS {
        return Err(PlanError::TooMany(planned.len()));
    }
    let mut remainder = None;
    let mut fixed: i64 = 0;
    for (i, amount) in planned.iter().enumerate() {
        match amount {
            Some(a) if *a <= 0 => return Err(PlanError::NotPositive(i)),
            Some(a) => fixed = fixed.saturating_add(*a),
            None if remainder.is_some() => return Err(PlanError::TwoRemainders(i)),
            None => remainder = Some(i),
        }
    }
    match remainder {
        None if fixed != total => Err(PlanError::DoesNotAddUp {
            planned: fixed,
            total,
        }),
        None => Ok(planned.iter().map(|a| a.unwrap_or(0)).collect()),
        Some(_) if fixed > total => Err(PlanError::DoesNotAddUp {
            planned: fixed,
            total,
        }),
        Some(i) if fixed == total && planned.len() > 1 => Err(PlanError::NothingLeft(i)),
        Some(_) => Ok(planned.iter().map(|a| a.unwrap_or(total - fixed)).collect()),
    }
}

/// How an accepted order is paid, as Omni keeps, shows and announces it: a card by its payment-method reference
/// (and, once payments has looked at it, its brand, last four digits and expiry), never by token or number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PaymentMethod {
    /// A card in the vault.
    Card {
        /// The payment-method reference (`pm_…`): names the card to payments, cannot pay anything itself.
        reference: String,
        /// What may be shown of the card, once payments has reported it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        card: Option<CardSummary>,
        /// What this card pays, in minor units (resolved at intake; absent on orders from before payment plans:
        /// the whole total).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount_minor: Option<i64>,
    },
    /// Paid to the marketplace already; nothing to authorize.
    MarketplacePrepaid {
        /// What was prepaid, in minor units (as for cards).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount_minor: Option<i64>,
    },
    /// An Omni gift card, by reference (a one-way digest of its code) and the code's last four characters.
    GiftCard {
        /// `sv_…`: names the card to payments, cannot pay anything itself.
        reference: String,
        /// The code's last four characters.
        last4: String,
        /// What this card pays, in minor units.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount_minor: Option<i64>,
    },
    /// Omni store credit, likewise.
    StoreCredit {
        /// `sv_…`: names the credit to payments, cannot pay anything itself.
        reference: String,
        /// The code's last four characters.
        last4: String,
        /// What this credit pays, in minor units.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount_minor: Option<i64>,
    },
}

impl PaymentMethod {
    /// What this tender pays, as planned (`None`: the remainder, on orders from before payment plans).
    pub fn amount_minor(&self) -> Option<i64> {
        match self {
            PaymentMethod::Card { amount_minor, .. }
            | PaymentMethod::MarketplacePrepaid { amount_minor }
            | PaymentMethod::GiftCard { amount_minor, .. }
            | PaymentMethod::StoreCredit { amount_minor, .. } => *amount_minor,
        }
    }

    /// The same tender with its planned amount resolved.
    pub fn with_amount(mut self, amount: i64) -> Self {
        match &mut self {
            PaymentMethod::Card { amount_minor, .. }
            | PaymentMethod::MarketplacePrepaid { amount_minor }
            | PaymentMethod::GiftCard { amount_minor, .. }
            | PaymentMethod::StoreCredit { amount_minor, .. } => *amount_minor = Some(amount),
        }
        self
    }

    /// Whether the money is kept outside Omni's PSP (prepaid to a marketplace): nothing to authorize or capture.
    pub fn is_prepaid(&self) -> bool {
        matches!(self, PaymentMethod::MarketplacePrepaid { .. })
    }
}

/// `POST /v1/payments/refunds` body: give money back on an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefund {
    /// The refund's id, chosen by the caller: its idempotency key (1 to 64 of `A-Z a-z 0-9 . _ -`). The same id
    /// again answers the same refund; with another order or amount it is refused.
    pub refund_id: String,
    /// The order.
    #[schema(value_type = uuid::Uuid)]
    pub order_id: crate::OrderId,
    /// How much to give back, in minor units of the order's currency.
    pub amount_minor: i64,
    /// The order's currency (checked when given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// Why (a reason code or words, at most 500 characters).
    #[serde(default)]
    pub reason: String,
}

/// A refund carried out: what went back to which tender (last charged first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundReceipt {
    /// The refund's id.
    pub refund_id: String,
    /// The order.
    #[schema(value_type = uuid::Uuid)]
    pub order_id: crate::OrderId,
    /// What was given back in all.
    pub amount: crate::money::Money,
    /// Each step: the tender's position in the payment plan, `refund` (captured money given back) or `void`
    /// (authorized money released), and the amount.
    #[schema(value_type = Vec<Object>)]
    pub tenders: Vec<crate::events::TenderAmount>,
}

/// `POST /v1/payments/gift-cards` body: issue a gift card or store credit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueStoredValue {
    /// The issuer's idempotency key (1 to 64 of `A-Z a-z 0-9 . _ -`): issuing again under it answers the same card,
    /// without its code.
    pub issue_id: String,
    /// `gift_card` (default) or `store_credit`.
    #[serde(default = "gift_card")]
    pub kind: String,
    /// The starting balance, in minor units (1 to 100,000,000).
    pub amount_minor: i64,
    /// Its currency.
    pub currency: Currency,
    /// The customer it is for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
}

fn gift_card() -> String {
    "gift_card".to_owned()
}

/// A gift card or store credit as payments shows it: never its code, except once when it is issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoredValueView {
    /// `sv_…`: the card's reference (a one-way digest of its code).
    pub reference: String,
    /// `gift_card` or `store_credit`.
    pub kind: String,
    /// The code, `XXXX-XXXX-XXXX-XXXX`: only in the answer that issued it, never again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The code's last four characters.
    pub last4: String,
    /// Its currency.
    pub currency: Currency,
    /// The money on it, in minor units.
    pub balance_minor: i64,
    /// What is not held by orders waiting to be captured.
    pub available_minor: i64,
}

/// `POST /v1/payments/gift-cards/balance` body (the code in a body, never in a URL that logs keep).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoredValueCode {
    /// The gift card's or store credit's code.
    pub code: String,
}

/// What may be shown of a tokenized card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardSummary {
    /// Card brand guessed from the number's prefix.
    pub brand: String,
    /// Last four digits.
    pub last4: String,
    /// Expiry month.
    pub exp_month: u8,
    /// Expiry year.
    pub exp_year: u16,
}

/// Who placed an order, and so whose card tokens may pay it: a partner (any of its keys) or one principal.
/// Written `partner:<id>` or `principal:<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Payer(String);

impl Payer {
    /// A partner: the tokens of any of its keys pay any of its orders.
    pub fn partner(partner: &PartnerId) -> Self {
        Self(format!("partner:{partner}"))
    }

    /// One principal (an associate, a manager, a storefront's service key), by its unique name.
    pub fn principal(name: &str) -> Self {
        Self(format!("principal:{name}"))
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads the stored form; `None` for anything else (an order stored before payers were recorded).
    pub fn parse(raw: &str) -> Option<Self> {
        let (kind, name) = raw.split_once(':')?;
        (matches!(kind, "partner" | "principal") && !name.is_empty()).then(|| Self(raw.to_owned()))
    }
}

impl std::fmt::Display for Payer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `POST /v1/orders` body (tenders as [`Tender`]s); an accepted order keeps it with its tenders as
/// [`PaymentMethod`]s ([`AcceptedRequest`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder<T = Tender> {
    /// Where the order was placed.
    pub channel: Channel,
    /// Who is buying.
    #[serde(default = "default_customer")]
    pub customer: Customer,
    /// Currency of every price on the order.
    pub currency: Currency,
    /// What is ordered (1 to 100 lines).
    pub lines: Vec<OrderLine>,
    /// How it reaches the customer.
    pub delivery: Delivery,
    /// How it is paid.
    pub tenders: Vec<T>,
    /// Ship-by or pickup-by promise.
    #[serde(default, serialize_with = "rfc3339")]
    pub promise_by: Option<DateTime<Utc>>,
    /// A pre-order: its hold may draw on units ring-fenced for pre-orders (`false` when absent).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preorder: bool,
    /// When the customer placed it, where that was before Omni took it (a marketplace, an offline till).
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "rfc3339")]
    pub placed_at: Option<DateTime<Utc>>,
}

/// What an accepted order keeps of its request: tenders as payment methods, never tokens.
pub type AcceptedRequest = NewOrder<PaymentMethod>;

impl<T> NewOrder<T> {
    /// The lines' total in minor units; `None` when it overflows.
    pub fn total_minor(&self) -> Option<i64> {
        self.lines.iter().try_fold(0i64, |total, line| {
            i64::from(line.quantity)
                .checked_mul(line.unit_price_minor.minor())
                .and_then(|l| total.checked_add(l))
        })
    }
}

impl NewOrder {
    /// The request as an accepted order keeps it: each tender as its [`PaymentMethod`].
    /// Each tender's planned amount is resolved against the lines' total (see [`payment_plan`]) when the plan adds
    /// up; intake refused it otherwise.
    pub fn accepted(self) -> AcceptedRequest {
        let planned: Vec<Option<i64>> = self.tenders.iter().map(Tender::amount_minor).collect();
        let amounts = self
            .total_minor()
            .and_then(|total| payment_plan(&planned, total).ok());
        let tenders = self
            .tenders
            .iter()
            .enumerate()
            .map(|(i, t)| match amounts.as_ref().and_then(|a| a.get(i)) {
                Some(amount) => t.to_payment_method().with_amount(*amount),
                None => t.to_payment_method(),
            })
            .collect();
        NewOrder {
            channel: self.channel,
            customer: self.customer,
            currency: self.currency,
            lines: self.lines,
            delivery: self.delivery,
            tenders,
            promise_by: self.promise_by,
            preorder: self.preorder,
            placed_at: self.placed_at,
        }
    }
}

/// An optional instant written exactly as chrono writes it (RFC 3339, `Z`, the fraction digits it needs), but
/// formatted once into a buffer: chrono's own `Serialize` goes through `collect_str`, one escaped character at a
/// time (half of storing an order's request during intake).
fn rfc3339<S: serde::Serializer>(at: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => match write_rfc3339(at, &mut [0; RFC3339_MAX]) {
            Some(text) => serializer.serialize_some(text),
            None => {
                serializer.serialize_some(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true).as_str())
            }
        },
        None => serializer.serialize_none(),
    }
}

/// The longest instant [`write_rfc3339`] writes: `2026-11-24T09:30:00.123456789Z`.
const RFC3339_MAX: usize = 30;

/// `at` as chrono writes it (`SecondsFormat::AutoSi`, `Z`: no fraction, or 3, 6 or 9 digits, as few as hold it),
/// into `buf`, with no allocation and no formatting machinery; `None` for a year outside 0–9999 or a leap second,
/// which chrono writes.
fn write_rfc3339<'b>(at: &DateTime<Utc>, buf: &'b mut [u8; RFC3339_MAX]) -> Option<&'b str> {
    use chrono::{Datelike, Timelike};
    fn digits(buf: &mut [u8], mut n: u32) {
        for d in buf.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    let year = u32::try_from(at.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = at.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    buf[..20].copy_from_slice(b"0000-00-00T00:00:00.");
    digits(&mut buf[0..4], year);
    digits(&mut buf[5..7], at.month());
    digits(&mut buf[8..10], at.day());
    digits(&mut buf[11..13], at.hour());
    digits(&mut buf[14..16], at.minute());
    digits(&mut buf[17..19], at.second());
    let end = match nanos {
        0 => 19,
        n if n % 1_000_000 == 0 => {
            digits(&mut buf[20..23], n / 1_000_000);
            23
        }
        n if n % 1_000 == 0 => {
            digits(&mut buf[20..26], n / 1_000);
            26
        }
        n => {
            digits(&mut buf[20..29], n);
            29
        }
    };
    buf[end] = b'Z';
    std::str::from_utf8(&buf[..=end]).ok()
}

fn default_customer() -> Customer {
    Customer {
        id: None,
        tier: CustomerTier::Standard,
    }
}

/// Where an order is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// A return's replacement order, waiting for the returned units: not sourced until they come.
    Held,
    /// Taken and stored; not yet sourced.
    Accepted,
    /// Stock is held at a node.
    Reserved,
    /// Every tender is authorized.
    PaymentAuthorized,
    /// Released to the node that fulfils it.
    Released,
    /// Shipped, or handed over to the customer; its units have left the node's stock.
    Fulfilled,
    /// Fulfilled and paid: the payment was captured (or prepaid to the marketplace).
    Completed,
    /// Could not be completed; holds released, payments voided.
    Failed,
    /// Cancelled; holds released, payments voided.
    Cancelled,
    /// Paid and asked to be cancelled: waiting for its node to stop the work (then `cancelled`), or to report
    /// the goods already left (then `fulfilled`).
    Cancelling,
    /// Released, but a card's authorization could not be renewed before it lapses: the order needs another way to
    /// pay (or a cancel). Its node's work goes on; what is captured before the old authorization lapses is taken.
    AwaitingPayment,
}

impl OrderStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Held => "held",
            OrderStatus::Accepted => "accepted",
            OrderStatus::Reserved => "reserved",
            OrderStatus::PaymentAuthorized => "payment_authorized",
            OrderStatus::Released => "released",
            OrderStatus::Fulfilled => "fulfilled",
            OrderStatus::Completed => "completed",
            OrderStatus::Failed => "failed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Cancelling => "cancelling",
            OrderStatus::AwaitingPayment => "awaiting_payment",
        }
    }

    /// Parses the wire name.
    pub fn parse(raw: &str) -> crate::Result<Self> {
        Ok(match raw {
            "held" => OrderStatus::Held,
            "accepted" => OrderStatus::Accepted,
            "reserved" => OrderStatus::Reserved,
            "payment_authorized" => OrderStatus::PaymentAuthorized,
            "released" => OrderStatus::Released,
            "fulfilled" => OrderStatus::Fulfilled,
            "completed" => OrderStatus::Completed,
            "failed" => OrderStatus::Failed,
            "cancelled" => OrderStatus::Cancelled,
            "cancelling" => OrderStatus::Cancelling,
            "awaiting_payment" => OrderStatus::AwaitingPayment,
            other => {
                return Err(ContractError::InvalidField {
                    field: "status",
                    reason: format!("unknown status `{other}`"),
                });
            }
        })
    }
}

impl TryFrom<String> for OrderStatus {
    type Error = ContractError;
    fn try_from(raw: String) -> crate::Result<Self> {
        Self::parse(&raw)
    }
}

impl TryFrom<String> for ReservationStatus {
    type Error = ContractError;
    fn try_from(raw: String) -> crate::Result<Self> {
        Self::parse(&raw)
    }
}

/// An order as the orders service shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Order {
    /// Omni's id.
    pub id: OrderId,
    /// Lifecycle state.
    pub status: OrderStatus,
    /// The partner, for marketplace orders.
    pub partner_id: Option<PartnerId>,
    /// The partner's own id of the order.
    pub partner_order_id: Option<String>,
    /// What the customer asked for (cards by payment-method reference).
    #[serde(flatten)]
    pub request: AcceptedRequest,
    /// Who placed it: whose card tokens may pay it.
    #[serde(default)]
    pub placed_by: Payer,
    /// Sum of the lines in minor units.
    pub total_minor: i64,
    /// The node holding and fulfilling it, once sourced.
    pub location_id: Option<LocationId>,
    /// Why it failed, when it did.
    pub failure_reason: Option<String>,
    /// Its money as payments reported it: paid, refunded and still due.
    #[serde(default)]
    pub payment: OrderPayment,
    /// What came back of it, as returns reported.
    #[serde(default)]
    pub returns: OrderReturns,
    /// The return it replaces units of, for an exchange's replacement order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_for: Option<ExchangeFor>,
    /// When Omni accepted it.
    pub created_at: DateTime<Utc>,
    /// Last state change.
    pub updated_at: DateTime<Utc>,
}

/// The exchange a replacement order was made for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeFor {
    /// The return.
    #[schema(value_type = uuid::Uuid)]
    pub return_id: crate::ids::ReturnId,
    /// The order returned from.
    pub order_id: OrderId,
    /// What the returned units pay of it (as store credit, added to its tenders once they come), in minor units.
    pub credit_minor: i64,
}

/// What came back of an order, from returns' reports (each unit that came to a store or the returns desk, as
/// `omni.return.unit_graded` announced it, whatever became of it there).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderReturns {
    /// `none`, `partially_returned`, or `returned` (every unit ordered came back).
    pub state: ReturnedState,
    /// Units returned per SKU (only SKUs with some).
    pub lines: Vec<ReturnedQuantity>,
}

impl OrderReturns {
    /// What came back of an order with `lines`, `returned` units per SKU.
    pub fn of(lines: &[OrderLine], returned: &std::collections::BTreeMap<Sku, u32>) -> Self {
        let ordered: i64 = lines.iter().map(|l| i64::from(l.quantity.get())).sum();
        let back: i64 = returned.values().map(|n| i64::from(*n)).sum();
        let state = match back {
            0 => ReturnedState::None,
            n if n >= ordered => ReturnedState::Returned,
            _ => ReturnedState::PartiallyReturned,
        };
        Self {
            state,
            lines: returned
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(sku, n)| ReturnedQuantity {
                    sku: sku.clone(),
                    quantity: *n,
                })
                .collect(),
        }
    }
}

/// How much of an order came back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnedState {
    /// Nothing.
    #[default]
    None,
    /// Some units.
    PartiallyReturned,
    /// Every unit ordered.
    Returned,
}

/// Units of one SKU returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReturnedQuantity {
    /// The SKU.
    pub sku: Sku,
    /// Units that came back.
    pub quantity: u32,
}

/// An order's money, from payments' reports (`omni.payment.captured`, `voided`, `refunded`), in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderPayment {
    /// Taken from the customer's tenders so far.
    pub captured_minor: i64,
    /// Given back after it was taken.
    pub refunded_minor: i64,
    /// Authorized and released without being taken (a cancel, a short delivery, a refund before capture).
    pub voided_minor: i64,
    /// What the customer has paid: captured less refunded.
    pub paid_minor: i64,
    /// What is still to be taken as the order is delivered (0 once it failed, was cancelled or completed).
    pub due_minor: i64,
}

impl OrderPayment {
    /// The money of an order of `total` in `status` with these sums reported.
    pub fn of(total: i64, status: OrderStatus, captured: i64, refunded: i64, voided: i64) -> Self {
        let open = !matches!(
            status,
            OrderStatus::Failed | OrderStatus::Cancelled | OrderStatus::Completed
        );
        Self {
            captured_minor: captured,
            refunded_minor: refunded,
            voided_minor: voided,
            paid_minor: captured - refunded,
            due_minor: if open {
                (total - captured - voided).max(0)
            } else {
                0
            },
        }
    }
}

/// `POST /v1/payments/tokens` body. The card number never leaves the payments service.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenizeCard {
    /// Primary account number, digits only (spaces allowed).
    pub number: String,
    /// Expiry month, 1-12.
    pub exp_month: u8,
    /// Expiry year, four digits.
    pub exp_year: u16,
    /// Card verification code; checked once by the PSP flow, never stored.
    #[serde(default)]
    pub cvc: Option<String>,
    /// The customer (the channel's customer id) the card belongs to: the token then pays only that customer's
    /// orders.
    #[serde(default)]
    pub customer_id: Option<CustomerId>,
}

impl std::fmt::Debug for TokenizeCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenizeCard")
            .field("number", &"[redacted]")
            .field("exp_month", &self.exp_month)
            .field("exp_year", &self.exp_year)
            .field("cvc", &self.cvc.as_ref().map(|_| "[redacted]"))
            .field("customer_id", &self.customer_id)
            .finish()
    }
}

/// A vault token for a card, with the parts of the card that may be shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CardToken {
    /// The token to put on an order's card tender; it pays only orders placed by the caller that tokenized it
    /// (any key of its partner, for a partner key), and of `customer_id` when that was given.
    pub token: String,
    /// The payment-method reference orders will show for the card in place of the token.
    pub reference: String,
    /// The customer the card is bound to, when the tokenization named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
    /// Card brand guessed from the number's prefix.
    pub brand: String,
    /// First six digits.
    pub first6: String,
    /// Last four digits.
    pub last4: String,
    /// Expiry month.
    pub exp_month: u8,
    /// Expiry year.
    pub exp_year: u16,
}

/// Paging for list endpoints: `limit` is capped at 100.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Items per page (1-100, default 50).
    #[serde(default = "default_limit")]
    pub limit: u32,
    /// Items to skip.
    #[serde(default)]
    pub offset: u32,
}

fn default_limit() -> u32 {
    50
}

impl Page {
    /// The limit, clamped to 1..=100.
    pub fn limit(&self) -> i64 {
        i64::from(self.limit.clamp(1, 100))
    }
    /// The offset.
    pub fn offset(&self) -> i64 {
        i64::from(self.offset)
    }
}

/// A partner marketplace order on its `omni.orders.inbound.<partner>.v1`, version 1. Its JSON Schema is
/// `docs/schemas/partner-order.v1.schema.json`, which intake checks every message against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerOrder {
    /// The marketplace.
    pub partner_id: PartnerId,
    /// The marketplace's own order id; with `partner_id` the idempotency key.
    pub partner_order_id: String,
    /// When the customer placed it on the marketplace.
    pub placed_at: DateTime<Utc>,
    /// Currency of every amount.
    pub currency: Currency,
    /// Who is buying.
    pub customer: Customer,
    /// What is ordered.
    pub lines: Vec<OrderLine>,
    /// Sum of the lines (quantity × unit price) in minor units; must add up.
    pub total_minor: i64,
    /// How it reaches the customer.
    pub delivery: Delivery,
    /// Ship-by or pickup-by promise.
    pub promise_by: DateTime<Utc>,
    /// How it is paid (usually `marketplace_prepaid`).
    pub tenders: Vec<Tender>,
}

impl PartnerOrder {
    /// The order Omni takes for it (channel `marketplace`).
    pub fn to_new_order(&self) -> NewOrder {
        NewOrder {
            channel: Channel::Marketplace,
            customer: self.customer.clone(),
            currency: self.currency,
            lines: self.lines.clone(),
            delivery: self.delivery.clone(),
            tenders: self.tenders.clone(),
            promise_by: Some(self.promise_by),
            // Partner schema v1 has no pre-orders.
            preorder: false,
            placed_at: Some(self.placed_at),
        }
    }
}

/// One line of a hold request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationLine {
    /// The SKU.
    pub sku: Sku,
    /// Units to hold.
    pub quantity: Quantity,
}

/// `POST /v1/reservations` body: a checkout hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReservation {
    /// Chosen by the caller; the idempotency key of the hold.
    pub reservation_id: crate::ids::ReservationId,
    /// Hold at this location; when absent, allocation picks one that can hold every line.
    #[serde(default)]
    pub location_id: Option<LocationId>,
    /// The selling channel; its buffer rules bind the hold.
    pub channel: Channel,
    /// The customer's tier (VIPs may take units ring-fenced for them).
    #[serde(default)]
    pub tier: CustomerTier,
    /// A segment the hold is for (`preorder`, `curbside`), whose ring-fenced units it may take.
    #[serde(default)]
    pub segment: Option<crate::policies::Segment>,
    /// What to hold (1 to 100 lines).
    pub lines: Vec<ReservationLine>,
    /// How long the hold lasts unless extended or committed (1 to 86,400 seconds).
    pub ttl_seconds: u32,
}

/// `POST /v1/reservations/{id}/extend` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendReservation {
    /// New lifetime from now (1 to 86,400 seconds).
    pub ttl_seconds: u32,
}

/// Where a hold is in its life: held until it is released, lapses or is committed (all three final).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    /// Its units are held.
    Held,
    /// Given back before it lapsed (cancelled, or its order failed).
    Released,
    /// It lapsed.
    Expired,
    /// Its units left on-hand: the order was fulfilled.
    Committed,
}

impl ReservationStatus {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Held => "held",
            ReservationStatus::Released => "released",
            ReservationStatus::Expired => "expired",
            ReservationStatus::Committed => "committed",
        }
    }

    /// Parses the wire name.
    pub fn parse(raw: &str) -> crate::Result<Self> {
        Ok(match raw {
            "held" => ReservationStatus::Held,
            "released" => ReservationStatus::Released,
            "expired" => ReservationStatus::Expired,
            "committed" => ReservationStatus::Committed,
            other => {
                return Err(ContractError::InvalidField {
                    field: "status",
                    reason: format!("unknown reservation status `{other}`"),
                });
            }
        })
    }
}

impl std::fmt::Display for ReservationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hold as allocation shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reservation {
    /// The hold.
    pub reservation_id: crate::ids::ReservationId,
    /// Held, released, expired or committed.
    pub status: ReservationStatus,
    /// Where the units are held (for a hold split across locations: the one holding most units).
    pub location_id: LocationId,
    /// What is held, in all.
    pub lines: Vec<ReservationLine>,
    /// What is held where: one entry, or several when no single location had every line.
    pub locations: Vec<ReservationPart>,
    /// When it lapses unless extended or committed.
    pub expires_at: DateTime<Utc>,
}

/// The part of a hold at one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReservationPart {
    /// The location.
    pub location_id: LocationId,
    /// What is held there.
    pub lines: Vec<ReservationLine>,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn an_order_is_returned_once_every_unit_ordered_came_back() {
        let line = |sku: &str, quantity: i64| OrderLine {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(quantity).unwrap(),
            unit_price_minor: UnitPrice::new(100).unwrap(),
        };
        let lines = [line("TEE-1", 2), line("CAP-1", 1)];
        let back = |n: &[(&str, u32)]| {
            n.iter()
                .map(|(sku, q)| (Sku::parse(sku).unwrap(), *q))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        assert_eq!(OrderReturns::of(&lines, &back(&[])), OrderReturns::default());
        let some = OrderReturns::of(&lines, &back(&[("TEE-1", 1), ("CAP-1", 0)]));
        assert_eq!(some.state, ReturnedState::PartiallyReturned);
        assert_eq!(some.lines.len(), 1);
        let all = OrderReturns::of(&lines, &back(&[("TEE-1", 2), ("CAP-1", 1)]));
        assert_eq!(all.state, ReturnedState::Returned);
        assert_eq!(
            serde_json::to_value(&all).unwrap(),
            serde_json::json!({ "state": "returned", "lines": [
                { "sku": "CAP-1", "quantity": 1 }, { "sku": "TEE-1", "quantity": 2 }] })
        );
    }

    #[test]
    fn a_payment_plan_resolves_the_remainder_and_adds_up_exactly() {
        assert_eq!(payment_plan(&[None], 3999), Ok(vec![3999]));
        assert_eq!(payment_plan(&[Some(1000), None], 3999), Ok(vec![1000, 2999]));
        assert_eq!(payment_plan(&[None, Some(1000)], 3999), Ok(vec![2999, 1000]));
        assert_eq!(
            payment_plan(&[Some(1999), Some(2000)], 3999),
            Ok(vec![1999, 2000])
        );
        assert_eq!(payment_plan(&[Some(3999)], 3999), Ok(vec![3999]));
        assert_eq!(payment_plan(&[None], 0), Ok(vec![0]));
    }

    #[test]
    fn a_payment_plan_that_does_not_add_up_is_refused() {
        assert_eq!(payment_plan(&[], 10), Err(PlanError::Empty));
        assert_eq!(payment_plan(&[None; 6], 10), Err(PlanError::TooMany(6)));
        assert_eq!(payment_plan(&[Some(0), None], 10), Err(PlanError::NotPositive(0)));
        assert_eq!(payment_plan(&[None, None], 10), Err(PlanError::TwoRemainders(1)));
        assert_eq!(
            payment_plan(&[Some(4), Some(5)], 10),
            Err(PlanError::DoesNotAddUp {
                planned: 9,
                total: 10
            })
        );
        assert_eq!(
            payment_plan(&[Some(11), None], 10),
            Err(PlanError::DoesNotAddUp {
                planned: 11,
                total: 10
            })
        );
        assert_eq!(
            payment_plan(&[Some(10), None], 10),
            Err(PlanError::NothingLeft(1))
        );
        assert!(payment_plan(&[Some(i64::MAX), Some(i64::MAX)], 10).is_err());
    }

    #[test]
    fn an_order_s_instants_are_written_as_chrono_writes_them() {
        let instants = [
            Utc.with_ymd_and_hms(2026, 11, 24, 9, 30, 0).single(),
            Utc.timestamp_opt(1_795_000_000, 123_000_000).single(),
            Utc.timestamp_opt(1_795_000_000, 123_456_000).single(),
            Utc.timestamp_opt(1_795_000_000, 123_456_789).single(),
            Utc.timestamp_opt(1_795_000_000, 1).single(),
            Utc.timestamp_opt(1_795_000_000, 10_000).single(),
            Utc.timestamp_opt(1_795_000_000, 999_999_999).single(),
            // A leap second, and years chrono writes with a sign: written by chrono itself.
            Utc.timestamp_opt(1_795_000_019, 1_500_000_000).single(),
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).single(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).single(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).single(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).single(),
            Some(Utc::now()),
        ];
        let many = (0..2_000i64).map(|n| {
            Utc.timestamp_opt(
                n * 7_919_993_777 % 253_402_300_799,
                (n * 7_654_321) as u32 % 1_000_000_000,
            )
            .single()
        });
        for at in instants.into_iter().chain(many) {
            let at = at.unwrap_or_else(|| panic!("a valid instant"));
            let ours = serde_json::to_string(&SerializeWith(Some(at))).unwrap_or_default();
            let chrono = serde_json::to_string(&Some(at)).unwrap_or_default();
            assert_eq!(ours, chrono);
            assert_eq!(serde_json::from_str::<DateTime<Utc>>(&ours).ok(), Some(at));
        }
        assert_eq!(
            serde_json::to_string(&SerializeWith(None)).unwrap_or_default(),
            "null"
        );
    }

    struct SerializeWith(Option<DateTime<Utc>>);

    impl Serialize for SerializeWith {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            rfc3339(&self.0, serializer)
        }
    }
}
