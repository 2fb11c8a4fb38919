//! What an order can still return, per SKU (DESIGN §7): what was delivered (shipped or handed over) less what its
//! other returns hold (open ones by the units they ask for, settled ones by the units they received). A return is
//! taken whole or refused whole, naming the rule; the caller checks it under the order's lock, so two returns racing
//! for the last unit cannot both be taken. Pure.

use std::collections::BTreeMap;

use omni_contracts::Sku;
use omni_contracts::returns::ReturnLineRequest;

use super::policy::{Decline, rules};

/// Units per SKU.
pub type Units = BTreeMap<Sku, u32>;

/// What can still be returned: `delivered` less `held` by other returns, per SKU (never below 0).
pub fn returnable(delivered: &Units, held: &Units) -> Units {
    delivered
        .iter()
        .map(|(sku, d)| (sku.clone(), d.saturating_sub(held.get(sku).copied().unwrap_or(0))))
        .collect()
}

/// Whether `lines` fit in what the order can still return (a SKU asked twice counts twice).
pub fn fits(lines: &[ReturnLineRequest], delivered: &Units, held: &Units) -> Result<(), Decline> {
    let left = returnable(delivered, held);
    let mut asked = Units::new();
    for line in lines {
        *asked.entry(line.sku.clone()).or_default() += line.quantity.get();
    }
    for (sku, wanted) in &asked {
        let Some(can) = left.get(sku) else {
            return Err(Decline {
                rule: rules::NOT_ON_ORDER,
                reason: format!("no unit of {sku} was delivered on this order"),
            });
        };
        if wanted > can {
            return Err(Decline {
                rule: rules::RETURNABLE_QUANTITY,
                reason: format!(
                    "{wanted} units of {sku} asked, {can} can be returned (delivered {}, in other returns {})",
                    delivered.get(sku).copied().unwrap_or(0),
                    held.get(sku).copied().unwrap_or(0)
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use omni_contracts::Quantity;
    use omni_contracts::returns::ReturnReason;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap()
    }

    fn line(s: &str, quantity: u32) -> ReturnLineRequest {
        ReturnLineRequest {
            sku: sku(s),
            quantity: Quantity::new(i64::from(quantity)).unwrap(),
            reason: ReturnReason::NoLongerWanted,
        }
    }

    #[test]
    fn the_last_unit_goes_to_one_return_only() {
        let delivered = Units::from([(sku("TEE"), 2), (sku("MUG"), 1)]);
        let held = Units::from([(sku("TEE"), 1)]);
        assert_eq!(fits(&[line("TEE", 1), line("MUG", 1)], &delivered, &held), Ok(()));
        let refused = fits(&[line("TEE", 2)], &delivered, &held).unwrap_err();
        assert_eq!(refused.rule, rules::RETURNABLE_QUANTITY);
        assert!(
            refused.reason.contains("2 units of TEE asked, 1 can be returned"),
            "{refused}"
        );
        assert_eq!(
            fits(&[line("TEE", 1), line("TEE", 1)], &delivered, &held)
                .unwrap_err()
                .rule,
            rules::RETURNABLE_QUANTITY,
            "a SKU asked twice counts twice"
        );
        assert_eq!(
            fits(&[line("CAP", 1)], &delivered, &held).unwrap_err().rule,
            rules::NOT_ON_ORDER
        );
    }

    /// Property: whatever returns are asked, declined, cancelled or settled in whatever order, what the taken
    /// returns hold never exceeds what was delivered, per SKU.
    #[test]
    fn returned_and_open_never_exceed_delivered() {
        let skus = ["TEE", "MUG", "CAP"];
        for seed in 0..500 {
            let mut rng = StdRng::seed_from_u64(seed);
            let delivered: Units = skus.iter().map(|s| (sku(s), rng.random_range(0..4))).collect();
            // Each taken return: (lines, whether it still holds its units).
            let mut taken: Vec<(Vec<(Sku, u32)>, bool)> = Vec::new();
            for _ in 0..20 {
                if rng.random_bool(0.3) && !taken.is_empty() {
                    // Declined after the fact, cancelled or expired: its units are free again.
                    let n = rng.random_range(0..taken.len());
                    taken[n].1 = false;
                    continue;
                }
                let lines: Vec<ReturnLineRequest> = (0..rng.random_range(1..3))
                    .map(|_| line(skus[rng.random_range(0..skus.len())], rng.random_range(1..3)))
                    .collect();
                let mut held = Units::new();
                for (lines, holds) in &taken {
                    for (s, q) in lines.iter().filter(|_| *holds) {
                        *held.entry(s.clone()).or_default() += q;
                    }
                }
                if fits(&lines, &delivered, &held).is_ok() {
                    taken.push((
                        lines.iter().map(|l| (l.sku.clone(), l.quantity.get())).collect(),
                        true,
                    ));
                }
                let mut now = Units::new();
                for (lines, holds) in &taken {
                    for (s, q) in lines.iter().filter(|_| *holds) {
                        *now.entry(s.clone()).or_default() += q;
                    }
                }
                for (s, q) in &now {
                    assert!(
                        *q <= delivered.get(s).copied().unwrap_or(0),
                        "seed {seed}: {q} of {s} held, {delivered:?} delivered"
                    );
                }
            }
        }
    }
}
