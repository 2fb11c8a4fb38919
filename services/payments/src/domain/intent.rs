//! Payment intents: what was asked of each tender of an order, and the one decision announced for the order.

use chrono::{DateTime, Utc};
use omni_contracts::api::{CardSummary, Payer, PaymentMethod};
use omni_contracts::card_data::is_method_reference;
use omni_contracts::stored_value::is_reference as is_stored_value_reference;
use omni_contracts::{CustomerId, Money, OrderId, PaymentIntentId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The reference announced for a tender the marketplace already collected.
pub const MARKETPLACE_PREPAID_REFERENCE: &str = "marketplace_prepaid";
/// The decline reason for a card token the vault does not hold.
pub const UNKNOWN_TOKEN: &str = "unknown card token";
/// The decline reason for a card tokenized by someone else than the order's payer (or for another customer).
pub const NOT_THE_PAYERS: &str = "card token was not issued to the payer of this order";
/// The decline reason for a vault entry that cannot be decrypted.
pub const UNREADABLE_TOKEN: &str = "card token cannot be used";
/// The decline reason for an order without tenders.
pub const NO_TENDER: &str = "order has no tender";

/// Where an intent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    /// Its tenders are being authorized, in charge order (each PSP call recorded before it is made).
    Authorizing,
    /// Every tender is authorized for its amount.
    Authorized,
    /// A tender was declined (earlier authorizations of the order were voided).
    Declined,
    /// Authorized, then voided because the order failed or was cancelled.
    Voided,
    /// A card's authorization could not be renewed before it lapses: the order needs another way to pay.
    AwaitingPayment,
    /// Authorized, then captured because the order was fulfilled (the final capture made; what was not
    /// captured is voided).
    Captured,
}

impl IntentStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            IntentStatus::Authorizing => "authorizing",
            IntentStatus::Authorized => "authorized",
            IntentStatus::Declined => "declined",
            IntentStatus::Voided => "voided",
            IntentStatus::Captured => "captured",
            IntentStatus::AwaitingPayment => "awaiting_payment",
        }
    }

    /// Parses the stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "authorizing" => Some(IntentStatus::Authorizing),
            "authorized" => Some(IntentStatus::Authorized),
            "declined" => Some(IntentStatus::Declined),
            "voided" => Some(IntentStatus::Voided),
            "captured" => Some(IntentStatus::Captured),
            "awaiting_payment" => Some(IntentStatus::AwaitingPayment),
            _ => None,
        }
    }
}

/// The kind of a tender, as stored on an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenderKind {
    /// A vault card token.
    Card,
    /// Paid to the marketplace already.
    MarketplacePrepaid,
    /// An Omni gift card.
    GiftCard,
    /// Omni store credit.
    StoreCredit,
}

impl TenderKind {
    /// Its place in the charge order: stored value first, then what was prepaid, then cards. Tenders are
    /// authorized and captured in this order and refunded in the reverse.
    pub fn charge_rank(self) -> u8 {
        match self {
            TenderKind::GiftCard | TenderKind::StoreCredit => 0,
            TenderKind::MarketplacePrepaid => 1,
            TenderKind::Card => 2,
        }
    }

    /// Whether Omni itself keeps the money (gift cards, store credit): moved in payments' own database.
    pub fn stored_value(self) -> bool {
        matches!(self, TenderKind::GiftCard | TenderKind::StoreCredit)
    }

    /// Whether the money is held outside any PSP Omni calls (nothing to ask, every movement succeeds at once).
    pub fn outside_psp(self) -> bool {
        matches!(self, TenderKind::MarketplacePrepaid)
    }
}

/// The positions of `tenders` in charge order (stable among tenders of one rank); a renewed authorization comes
/// right after the one it renews.
pub fn charge_order(tenders: &[TenderRecord]) -> Vec<usize> {
    let root = |mut i: usize| {
        let mut steps = 0;
        while let Some(previous) = tenders[i].replaces.and_then(|p| usize::try_from(p).ok())
            && previous < tenders.len()
            && steps < tenders.len()
        {
            i = previous;
            steps += 1;
        }
        (i, steps)
    };
    let mut order: Vec<usize> = (0..tenders.len()).collect();
    order.sort_by_key(|&i| {
        let (first, generation) = root(i);
        (tenders[first].kind.charge_rank(), first, generation)
    });
    order
}

/// The tender whose authorization is due for renewal at `now` (renewed `before` it lapses): an approved card
/// tender with money still to capture (`capturable`, by position) that no later tender renews. The earliest first.
pub fn renewal_due(
    tenders: &[TenderRecord],
    capturable: &[i64],
    before: chrono::Duration,
    now: DateTime<Utc>,
) -> Option<usize> {
    renewable(tenders, capturable)
        .filter(|(_, expires)| *expires - before <= now)
        .min_by_key(|(_, expires)| *expires)
        .map(|(i, _)| i)
}

/// When the next renewal of these tenders is due, if any.
pub fn next_renewal(
    tenders: &[TenderRecord],
    capturable: &[i64],
    before: chrono::Duration,
) -> Option<DateTime<Utc>> {
    renewable(tenders, capturable)
        .map(|(_, expires)| expires - before)
        .min()
}

fn renewable<'a>(
    tenders: &'a [TenderRecord],
    capturable: &'a [i64],
) -> impl Iterator<Item = (usize, DateTime<Utc>)> + 'a {
    tenders.iter().enumerate().filter_map(move |(i, t)| {
        let renewed = tenders
            .iter()
            .any(|other| other.replaces.and_then(|p| usize::try_from(p).ok()) == Some(i));
        let live = t.kind == TenderKind::Card
            && t.psp_reference().is_some()
            && capturable.get(i).copied().unwrap_or(0) > 0
            && !renewed;
        live.then_some(()).and(t.expires_at).map(|expires| (i, expires))
    })
}

/// One tender of an intent and what happened to it. Cards by payment-method reference: never a token, never
/// card data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenderRecord {
    /// The kind of tender.
    #[serde(rename = "type")]
    pub kind: TenderKind,
    /// The payment-method reference of a card tender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// What may be shown of the card, once the vault found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardSummary>,
    /// The last four characters of a gift card's or store credit's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last4: Option<String>,
    /// What this tender pays, in minor units (absent on intents from before payment plans: the whole amount).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
    /// When its authorization lapses (cards), if it was approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The tender whose authorization this one renews (same card, authorized again before it lapsed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<u32>,
    /// What the tender gave: approved with a reference, declined with a reason, or not tried (`None`) because
    /// an earlier tender was declined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<TenderOutcome>,
}

impl TenderRecord {
    /// A tender of an order, not tried yet. A card "reference" that is not reference-shaped is not kept: a
    /// caller may have put a card number there by mistake.
    pub fn of(tender: &PaymentMethod) -> Self {
        match tender {
            PaymentMethod::Card {
                reference,
                amount_minor,
                ..
            } => Self {
                kind: TenderKind::Card,
                reference: is_method_reference(reference).then(|| reference.clone()),
                card: None,
                last4: None,
                amount_minor: *amount_minor,
                expires_at: None,
                replaces: None,
                outcome: None,
            },
            PaymentMethod::MarketplacePrepaid { amount_minor } => Self {
                kind: TenderKind::MarketplacePrepaid,
                reference: None,
                card: None,
                last4: None,
                amount_minor: *amount_minor,
                expires_at: None,
                replaces: None,
                outcome: None,
            },
            PaymentMethod::GiftCard {
                reference,
                last4,
                amount_minor,
            }
            | PaymentMethod::StoreCredit {
                reference,
                last4,
                amount_minor,
            } => Self {
                kind: if matches!(tender, PaymentMethod::GiftCard { .. }) {
                    TenderKind::GiftCard
                } else {
                    TenderKind::StoreCredit
                },
                reference: is_stored_value_reference(reference).then(|| reference.clone()),
                card: None,
                last4: Some(last4.chars().take(4).collect()),
                amount_minor: *amount_minor,
                expires_at: None,
                replaces: None,
                outcome: None,
            },
        }
    }

    /// The PSP reference of its authorization, once approved.
    pub fn psp_reference(&self) -> Option<&str> {
        match &self.outcome {
            Some(TenderOutcome::Approved { psp_reference }) => Some(psp_reference),
            _ => None,
        }
    }

    /// The tender as an order shows it.
    pub fn to_payment_method(&self) -> PaymentMethod {
        match self.kind {
            TenderKind::Card => PaymentMethod::Card {
                reference: self.reference.clone().unwrap_or_default(),
                card: self.card.clone(),
                amount_minor: self.amount_minor,
            },
            TenderKind::MarketplacePrepaid => PaymentMethod::MarketplacePrepaid {
                amount_minor: self.amount_minor,
            },
            TenderKind::GiftCard => PaymentMethod::GiftCard {
                reference: self.reference.clone().unwrap_or_default(),
                last4: self.last4.clone().unwrap_or_default(),
                amount_minor: self.amount_minor,
            },
            TenderKind::StoreCredit => PaymentMethod::StoreCredit {
                reference: self.reference.clone().unwrap_or_default(),
                last4: self.last4.clone().unwrap_or_default(),
                amount_minor: self.amount_minor,
            },
        }
    }
}

/// What one tender gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TenderOutcome {
    /// Held by the PSP (or prepaid).
    Approved {
        /// The PSP's reference of the hold.
        psp_reference: String,
    },
    /// Refused.
    Declined {
        /// Why, in words safe to show.
        reason: String,
    },
}

/// Each tender's amount, in tender order: as planned at intake, or (an order from before payment plans) resolved
/// against the order's `total` the same way. `None` when the plan does not add up (intake refuses such orders).
pub fn planned_amounts(tenders: &[TenderRecord], total: i64) -> Option<Vec<i64>> {
    let planned: Vec<Option<i64>> = tenders.iter().map(|t| t.amount_minor).collect();
    omni_contracts::api::payment_plan(&planned, total).ok()
}

/// The one decision announced for an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Every tender is authorized; the references, comma-separated, in tender order.
    Authorized {
        /// The PSP references.
        psp_reference: String,
    },
    /// Declined for the first reason met.
    Declined {
        /// Why.
        reason: String,
    },
}

/// Decides an order's intent from its tenders: authorized only if it has tenders and every one was approved.
pub fn decide(tenders: &[TenderRecord]) -> Decision {
    if tenders.is_empty() {
        return Decision::Declined {
            reason: NO_TENDER.to_owned(),
        };
    }
    if let Some(reason) = tenders.iter().find_map(|t| match &t.outcome {
        Some(TenderOutcome::Declined { reason }) => Some(reason.clone()),
        _ => None,
    }) {
        return Decision::Declined { reason };
    }
    let mut references = Vec::with_capacity(tenders.len());
    for tender in tenders {
        match &tender.outcome {
            Some(TenderOutcome::Approved { psp_reference }) => references.push(psp_reference.as_str()),
            _ => {
                return Decision::Declined {
                    reason: "tender was not authorized".to_owned(),
                };
            }
        }
    }
    Decision::Authorized {
        psp_reference: references.join(","),
    }
}

/// A payment intent as the API shows it. No card data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaymentIntent {
    /// The intent.
    pub id: PaymentIntentId,
    /// The order it pays for.
    pub order_id: OrderId,
    /// The amount authorized (or asked for, if declined).
    pub amount: Money,
    /// Authorized or declined.
    pub status: IntentStatus,
    /// The PSP references of the holds, when authorized.
    pub psp_reference: Option<String>,
    /// Why it was declined.
    pub decline_reason: Option<String>,
    /// The order's tenders and what each gave (a renewed authorization is a tender of its own, after the one it
    /// renews).
    pub tenders: Vec<TenderRecord>,
    /// When it was decided.
    pub created_at: DateTime<Utc>,
    /// Who placed the order: the only payer whose cards pay it, also when authorized again.
    #[serde(default)]
    pub payer: Payer,
    /// The order's customer, if the channel named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub customer_id: Option<CustomerId>,
    /// When a card authorization is next due for renewal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approved(reference: &str) -> TenderRecord {
        TenderRecord {
            kind: TenderKind::Card,
            reference: Some("pm_x".into()),
            card: None,
            last4: None,
            amount_minor: None,
            expires_at: None,
            replaces: None,
            outcome: Some(TenderOutcome::Approved {
                psp_reference: reference.into(),
            }),
        }
    }

    #[test]
    fn an_order_is_authorized_only_when_every_tender_is_approved() {
        assert_eq!(
            decide(&[approved("a"), approved("b")]),
            Decision::Authorized {
                psp_reference: "a,b".into()
            }
        );
        let declined = TenderRecord {
            outcome: Some(TenderOutcome::Declined {
                reason: "card_declined".into(),
            }),
            ..approved("x")
        };
        assert_eq!(
            decide(&[approved("a"), declined]),
            Decision::Declined {
                reason: "card_declined".into()
            }
        );
    }

    #[test]
    fn an_order_without_tenders_is_declined() {
        assert_eq!(
            decide(&[]),
            Decision::Declined {
                reason: NO_TENDER.into()
            }
        );
    }

    #[test]
    fn a_card_number_put_where_a_reference_belongs_is_not_kept() {
        let record = TenderRecord::of(&PaymentMethod::Card {
            reference: crate::domain::sandbox::VISA_APPROVED.into(),
            card: None,
            amount_minor: None,
        });
        assert_eq!(record.kind, TenderKind::Card);
        assert_eq!(record.reference, None);
    }

    #[test]
    fn a_stored_tender_list_round_trips_through_json() {
        let tenders = vec![
            approved("sandbox_auth_x"),
            TenderRecord::of(&PaymentMethod::MarketplacePrepaid {
                amount_minor: Some(5),
            }),
        ];
        let json = serde_json::to_string(&tenders).unwrap();
        assert_eq!(serde_json::from_str::<Vec<TenderRecord>>(&json).unwrap(), tenders);
    }
}

#[cfg(test)]
mod renewal_tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;

    fn card(expires_in_days: i64, replaces: Option<u32>) -> TenderRecord {
        TenderRecord {
            kind: TenderKind::Card,
            reference: Some("pm_x".into()),
            card: None,
            last4: None,
            amount_minor: Some(1_000),
            expires_at: Some(
                Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + Duration::days(expires_in_days),
            ),
            replaces,
            outcome: Some(TenderOutcome::Approved {
                psp_reference: "sandbox_auth_x".into(),
            }),
        }
    }

    #[test]
    fn a_card_is_renewed_a_margin_before_it_lapses_unless_nothing_is_left_or_it_was_renewed() {
        let start = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let day = Duration::days(1);
        let tenders = [card(7, None), card(3, None)];
        assert_eq!(
            next_renewal(&tenders, &[1_000, 1_000], day),
            Some(start + Duration::days(2))
        );
        assert_eq!(
            renewal_due(&tenders, &[1_000, 1_000], day, start + Duration::days(1)),
            None
        );
        assert_eq!(
            renewal_due(&tenders, &[1_000, 1_000], day, start + Duration::days(2)),
            Some(1)
        );
        // Fully captured: nothing to renew.
        assert_eq!(
            renewal_due(&tenders, &[1_000, 0], day, start + Duration::days(6)),
            Some(0)
        );
        // Renewed by a third tender: the renewal is what counts now, and it comes right after in charge order.
        let renewed = [card(7, None), card(3, None), card(10, Some(1))];
        assert_eq!(
            next_renewal(&renewed, &[1_000, 0, 1_000], day),
            Some(start + Duration::days(6))
        );
        assert_eq!(charge_order(&renewed), [0, 1, 2]);
        let renewed_first = [card(3, None), card(7, None), card(10, Some(0))];
        assert_eq!(charge_order(&renewed_first), [0, 2, 1]);
    }
}
