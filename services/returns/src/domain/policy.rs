//! The return policy (DESIGN §7): how long after delivery a channel's orders may be returned, and which SKU tags
//! make an item final sale. A snapshot of it is taken when an order is placed and kept with the order, so a policy
//! changed later never changes an existing order's rights. Every decline names its rule. Pure.

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
    /// Whether `lines` may be returned `now`, the order's last delivery having been at `delivered_at`.
    pub fn allows(
        &self,
        lines: &[ReturnLineRequest],
        delivered_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), Decline> {
        if let Some(line) = lines.iter().find(|l| self.final_sale.contains(&l.sku)) {
            return Err(Decline {
                rule: rules::FINAL_SALE,
                reason: format!("{} was sold as final sale", line.sku),
            });
        }
        let closes = delivered_at + Duration::days(i64::from(self.window_days));
        if now > closes {
            return Err(Decline {
                rule: rules::RETURN_WINDOW,
                reason: format!(
                    "the order could be returned for {} days after delivery, until {}",
                    self.window_days,
                    closes.format("%Y-%m-%d %H:%M UTC")
                ),
            });
        }
        Ok(())
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
        assert_eq!(snapshot.allows(&[line("TEE")], delivered, day(30)), Ok(()));
        assert_eq!(
            snapshot
                .allows(&[line("TEE")], delivered, day(31))
                .unwrap_err()
                .rule,
            rules::RETURN_WINDOW
        );
        assert_eq!(
            snapshot
                .allows(&[line("TEE"), line("CLEARANCE")], delivered, day(1))
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
            before.allows(&[line("TEE")], delivered, delivered + Duration::days(20)),
            Ok(())
        );
    }
}
