//! The return policy (DESIGN §7): how long after delivery a channel's orders may be returned, which SKU tags make an
//! item final sale, and when a store manager decides instead (a few days past the window, a large refund). A
//! snapshot of it is taken when an order is placed and kept with the order, so a policy changed later never changes
//! an existing order's rights. Every decline and every referral to a manager names its rule. Pure.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use omni_contracts::Sku;
use omni_contracts::returns::ReturnLineRequest;
use omni_contracts::selling::Channel;
use serde::{Deserialize, Serialize};

/// The rule names a decline gives.
pub mod rules {
    /// Outside the return window.
    pub const RETURN_WINDOW: &str = "return_window";
    /// A final-sale item.
    pub const FINAL_SALE: &str = "final_sale";
    /// More units than can be returned.
    pub const RETURNABLE_QUANTITY: &str = "returnable_quantity";
    /// Nothing of the SKU was delivered on the order.
    pub const NOT_ON_ORDER: &str = "not_on_order";
    /// Past the window, within the days a manager may still allow.
    pub const MANAGER_GRACE: &str = "manager_grace";
    /// A refund above what a return may give without a manager.
    pub const REFUND_ABOVE_LIMIT: &str = "refund_above_limit";
    /// Declined by a manager.
    pub const MANAGER: &str = "manager";
}

/// The policy in force (from `[returns]` in the settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnPolicy {
    /// Days after delivery, by default.
    pub window_days: u32,
    /// Days after delivery for some channels.
    pub channel_window_days: BTreeMap<String, u32>,
    /// SKU tags that make an item final sale.
    pub final_sale_tags: BTreeSet<String>,
    /// Days past the window a manager may still allow.
    pub manager_grace_days: u32,
    /// Refunds above this (minor units) need a manager; 0: never.
    pub manager_approval_above_minor: i64,
}

impl ReturnPolicy {
    /// The snapshot an order placed on `channel` keeps, for its lines' SKUs with their tags.
    pub fn snapshot<'a>(
        &self,
        channel: Channel,
        skus: impl IntoIterator<Item = (&'a Sku, &'a [String])>,
    ) -> PolicySnapshot {
        let window_days = self
            .channel_window_days
            .get(channel.as_str())
            .copied()
            .unwrap_or(self.window_days);
        let final_sale = skus
            .into_iter()
            .filter(|(_, tags)| tags.iter().any(|t| self.final_sale_tags.contains(t)))
            .map(|(sku, _)| sku.clone())
            .collect();
        PolicySnapshot {
            window_days,
            final_sale,
            manager_grace_days: self.manager_grace_days,
            manager_approval_above_minor: self.manager_approval_above_minor,
        }
    }
}

/// An order's return rights, as the policy gave them when it was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySnapshot {
    /// Days after delivery.
    pub window_days: u32,
    /// The order's SKUs that are final sale.
    pub final_sale: BTreeSet<Sku>,
    /// Days past the window a manager may still allow (0 in snapshots taken before managers decided).
    #[serde(default)]
    pub manager_grace_days: u32,
    /// Refunds above this need a manager; 0: never.
    #[serde(default)]
    pub manager_approval_above_minor: i64,
}

/// What the policy says of a return it does not decline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Approved by the policy.
    Approved,
    /// A store manager decides, for the reason named.
    NeedsManager(Decline),
}

/// A refusal naming its rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: {reason}")]
pub struct Decline {
    /// The rule.
    pub rule: &'static str,
    /// What it says of this return.
    pub reason: String,
}

impl PolicySnapshot {
    /// Whether `lines`, refunding `refund_minor`, may be returned `now`, the order's last delivery having been at
    /// `delivered_at`: approved, declined, or for a manager to decide.
    pub fn allows(
        &self,
        lines: &[ReturnLineRequest],
        delivered_at: DateTime<Utc>,
        now: DateTime<Utc>,
        refund_minor: i64,
    ) -> Result<Verdict, Decline> {
        if let Some(line) = lines.iter().find(|l| self.final_sale.contains(&l.sku)) {
            return Err(Decline {
                rule: rules::FINAL_SALE,
                reason: format!("{} was sold as final sale", line.sku),
            });
        }
        let closes = delivered_at + Duration::days(i64::from(self.window_days));
        let window = format!(
            "the order could be returned for {} days after delivery, until {}",
            self.window_days,
            closes.format("%Y-%m-%d %H:%M UTC")
        );
        if now > closes + Duration::days(i64::from(self.manager_grace_days)) {
            return Err(Decline {
                rule: rules::RETURN_WINDOW,
                reason: window,
            });
        }
        if now > closes {
            return Ok(Verdict::NeedsManager(Decline {
                rule: rules::MANAGER_GRACE,
                reason: format!(
                    "{window}; a store manager may allow it up to {} days later",
                    self.manager_grace_days
                ),
            }));
        }
        if self.manager_approval_above_minor > 0 && refund_minor > self.manager_approval_above_minor {
            return Ok(Verdict::NeedsManager(Decline {
                rule: rules::REFUND_ABOVE_LIMIT,
                reason: format!(
                    "it would refund {refund_minor} (minor units), above the {} a return gives without a store \
                     manager",
                    self.manager_approval_above_minor
                ),
            }));
        }
        Ok(Verdict::Approved)
    }
}

#[cfg(test)]
mod tests {
    use omni_contracts::Quantity;
    use omni_contracts::returns::ReturnReason;

    use super::*;

    fn policy() -> ReturnPolicy {
        ReturnPolicy {
            window_days: 30,
            channel_window_days: BTreeMap::from([("marketplace".to_owned(), 14)]),
            final_sale_tags: BTreeSet::from(["final-sale".to_owned()]),
            manager_grace_days: 0,
            manager_approval_above_minor: 0,
        }
    }

    fn line(sku: &str) -> ReturnLineRequest {
        ReturnLineRequest {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(1).unwrap(),
            reason: ReturnReason::DoesNotFit,
        }
    }

    #[test]
    fn the_snapshot_keeps_the_channels_window_and_the_final_sale_skus() {
        let (tee, clearance) = (Sku::parse("TEE").unwrap(), Sku::parse("CLEARANCE").unwrap());
        let tags = [
            (&tee, &["new".to_owned()][..]),
            (&clearance, &["final-sale".to_owned()][..]),
        ];
        let web = policy().snapshot(Channel::Web, tags);
        assert_eq!(web.window_days, 30);
        assert_eq!(web.final_sale, BTreeSet::from([clearance.clone()]));
        assert_eq!(policy().snapshot(Channel::Marketplace, tags).window_days, 14);
    }

    #[test]
    fn a_return_inside_the_window_is_allowed_and_every_decline_names_its_rule() {
        let snapshot = policy().snapshot(
            Channel::Web,
            [(&Sku::parse("CLEARANCE").unwrap(), &["final-sale".to_owned()][..])],
        );
        let delivered = DateTime::parse_from_rfc3339("2026-11-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let day = |d: i64| delivered + Duration::days(d);
        assert_eq!(
            snapshot.allows(&[line("TEE")], delivered, day(30), 1_999),
            Ok(Verdict::Approved)
        );
        assert_eq!(
            snapshot
                .allows(&[line("TEE")], delivered, day(31), 1_999)
                .unwrap_err()
                .rule,
            rules::RETURN_WINDOW
        );
        assert_eq!(
            snapshot
                .allows(&[line("TEE"), line("CLEARANCE")], delivered, day(1), 1_999)
                .unwrap_err()
                .rule,
            rules::FINAL_SALE
        );
    }

    #[test]
    fn a_policy_changed_later_does_not_change_a_snapshot_taken_before() {
        let tee = Sku::parse("TEE").unwrap();
        let before = policy().snapshot(Channel::Web, [(&tee, &[][..])]);
        let mut stricter = policy();
        stricter.window_days = 7;
        stricter.final_sale_tags.insert("basics".to_owned());
        let delivered = DateTime::parse_from_rfc3339("2026-11-01T10:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            before.allows(&[line("TEE")], delivered, delivered + Duration::days(20), 1_999),
            Ok(Verdict::Approved)
        );
    }

    #[test]
    fn a_few_days_late_or_a_large_refund_waits_for_a_manager() {
        let mut lenient = policy();
        lenient.manager_grace_days = 14;
        lenient.manager_approval_above_minor = 10_000;
        let snapshot = lenient.snapshot(Channel::Web, [(&Sku::parse("TEE").unwrap(), &[][..])]);
        let delivered = DateTime::parse_from_rfc3339("2026-11-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let day = |d: i64| delivered + Duration::days(d);
        let rule = |verdict: Result<Verdict, Decline>| match verdict {
            Ok(Verdict::NeedsManager(referral)) => referral.rule,
            Ok(Verdict::Approved) => "approved",
            Err(decline) => decline.rule,
        };
        assert_eq!(
            rule(snapshot.allows(&[line("TEE")], delivered, day(30), 1_999)),
            "approved"
        );
        assert_eq!(
            rule(snapshot.allows(&[line("TEE")], delivered, day(31), 1_999)),
            rules::MANAGER_GRACE
        );
        assert_eq!(
            rule(snapshot.allows(&[line("TEE")], delivered, day(44), 1_999)),
            rules::MANAGER_GRACE
        );
        assert_eq!(
            rule(snapshot.allows(&[line("TEE")], delivered, day(45), 1_999)),
            rules::RETURN_WINDOW
        );
        assert_eq!(
            rule(snapshot.allows(&[line("TEE")], delivered, day(1), 10_000)),
            "approved"
        );
        assert_eq!(
            rule(snapshot.allows(&[line("TEE")], delivered, day(1), 10_001)),
            rules::REFUND_ABOVE_LIMIT
        );
        // A snapshot taken before managers decided keeps its rights: no grace, no limit.
        let old: PolicySnapshot = serde_json::from_str(r#"{"window_days": 30, "final_sale": []}"#).unwrap();
        assert_eq!(
            rule(old.allows(&[line("TEE")], delivered, day(31), 1_000_000)),
            rules::RETURN_WINDOW
        );
    }
}
