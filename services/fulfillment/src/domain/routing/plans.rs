//! Finding the cheapest plans: ways to cover every SKU of the order with at most `max_parts` nodes, each SKU's
//! whole quantity from one node. Up to [`EXACT_SKUS`] distinct SKUs every grouping of them is tried, each group
//! with the few cheapest nodes able to serve it (so a far node holding everything competes fairly with two near
//! ones and their split penalty); beyond that, single nodes and one greedy split (most SKUs first).

use omni_contracts::events::CostTerms;

use super::Node;
use super::cost::{CostModel, Fit, Timing, part_cost};

/// Most distinct SKUs for which every grouping is tried.
pub const EXACT_SKUS: usize = 8;
/// Cheapest nodes kept per group of SKUs (alternatives when a node is already in the plan).
const KEPT_PER_GROUP: usize = 3;

/// A node that may serve part of the order.
#[derive(Debug, Clone, Copy)]
pub struct Able {
    /// Its index in the node list.
    pub node: usize,
    /// The SKUs (bits, in the order's SKU order) it holds enough of.
    pub covers: u128,
    /// Distance to the customer when shipping; `None` for a collection at the node.
    pub distance_km: Option<f64>,
    /// How many km nearer the routing rules make it count.
    pub bonus_km: f64,
}

/// One node's part of a found plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoundPart {
    /// Index in the node list.
    pub node: usize,
    /// The SKUs it serves (bits).
    pub skus: u128,
    /// What it costs.
    pub cost: CostTerms,
}

/// A found plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// One part per node.
    pub parts: Vec<FoundPart>,
    /// The parts' costs and the split penalty.
    pub total: f64,
}

/// What every search needs.
pub struct Search<'a> {
    /// The nodes, by index.
    pub nodes: &'a [Node],
    /// Units wanted per SKU, in the order's SKU order.
    pub units: &'a [u32],
    /// The cost model.
    pub model: &'a CostModel,
    /// When, and the promise.
    pub timing: &'a Timing,
    /// Most nodes in one plan.
    pub max_parts: usize,
    /// How many plans to return.
    pub shown: usize,
}

impl Search<'_> {
    /// The cheapest plans over the able nodes, cheapest first (ties: by node id).
    pub fn run(&self, able: &[Able]) -> Vec<Found> {
        let mut found = if self.units.len() <= EXACT_SKUS {
            self.exact(able)
        } else {
            self.greedy(able)
        };
        found.sort_by(|a, b| {
            a.total
                .total_cmp(&b.total)
                .then_with(|| self.ids(a).cmp(&self.ids(b)))
        });
        found.truncate(self.shown);
        found
    }

    fn ids<'n>(&'n self, plan: &Found) -> Vec<&'n str> {
        plan.parts
            .iter()
            .map(|p| self.nodes[p.node].id.as_str())
            .collect()
    }

    fn units_of(&self, skus: u128) -> u32 {
        self.units
            .iter()
            .enumerate()
            .filter(|(i, _)| skus & (1 << i) != 0)
            .map(|(_, u)| *u)
            .sum()
    }

    fn cost(&self, able: &Able, skus: u128) -> Option<CostTerms> {
        self.cost_of_units(able, self.units_of(skus))
    }

    fn cost_of_units(&self, able: &Able, units: u32) -> Option<CostTerms> {
        match part_cost(
            self.model,
            self.timing,
            &self.nodes[able.node],
            able.distance_km,
            able.bonus_km,
            units,
        ) {
            Fit::Fits(terms) => Some(terms),
            _ => None,
        }
    }

    /// Every grouping of the SKUs into at most `max_parts` groups, each group served by one of its cheapest
    /// nodes, no node twice.
    fn exact(&self, able: &[Able]) -> Vec<Found> {
        let skus = self.units.len();
        let full: u128 = (1u128 << skus) - 1;
        // Units of every group of SKUs, worked out once rather than once per node.
        let units: Vec<u32> = (0..=full).map(|group| self.units_of(group)).collect();
        // The cheapest few nodes for every group of SKUs they could serve.
        let mut cheapest: Vec<Vec<FoundPart>> = vec![Vec::new(); 1 << skus];
        for a in able {
            let covers = a.covers & full;
            let mut group = covers;
            while group != 0 {
                if let Some(cost) = self.cost_of_units(a, units[group as usize]) {
                    self.keep(
                        &mut cheapest[group as usize],
                        FoundPart {
                            node: a.node,
                            skus: group,
                            cost,
                        },
                    );
                }
                group = (group - 1) & covers;
            }
        }
        let mut found = Vec::new();
        let mut groups = Vec::with_capacity(self.max_parts);
        self.groupings(0, skus, &mut groups, &mut |groups| {
            let mut parts = Vec::with_capacity(groups.len());
            self.assign(groups, &cheapest, &mut parts, &mut found);
        });
        found
    }

    fn keep(&self, kept: &mut Vec<FoundPart>, part: FoundPart) {
        let id = |p: &FoundPart| self.nodes[p.node].id.as_str();
        let at = kept
            .iter()
            .position(|k| {
                part.cost
                    .total
                    .total_cmp(&k.cost.total)
                    .then_with(|| id(&part).cmp(id(k)))
                    .is_lt()
            })
            .unwrap_or(kept.len());
        if at < KEPT_PER_GROUP {
            kept.insert(at, part);
            kept.truncate(KEPT_PER_GROUP);
        }
    }

    /// Calls `each` with every way to put SKUs `next..skus` into groups after `groups` (at most `max_parts`).
    fn groupings(&self, next: usize, skus: usize, groups: &mut Vec<u128>, each: &mut dyn FnMut(&[u128])) {
        if next == skus {
            each(groups);
            return;
        }
        let bit = 1u128 << next;
        for g in 0..groups.len() {
            groups[g] |= bit;
            self.groupings(next + 1, skus, groups, each);
            groups[g] &= !bit;
        }
        if groups.len() < self.max_parts {
            groups.push(bit);
            self.groupings(next + 1, skus, groups, each);
            groups.pop();
        }
    }

    /// Every choice of one kept node per group, no node twice.
    fn assign(
        &self,
        groups: &[u128],
        cheapest: &[Vec<FoundPart>],
        parts: &mut Vec<FoundPart>,
        found: &mut Vec<Found>,
    ) {
        let Some((group, rest)) = groups.split_first() else {
            let penalty = self.model.split_penalty * (parts.len().saturating_sub(1)) as f64;
            let total = parts.iter().map(|p| p.cost.total).sum::<f64>() + penalty;
            found.push(Found {
                parts: parts.clone(),
                total: (total * 100.0).round() / 100.0,
            });
            return;
        };
        for option in &cheapest[*group as usize] {
            if parts.iter().any(|p| p.node == option.node) {
                continue;
            }
            parts.push(*option);
            self.assign(rest, cheapest, parts, found);
            parts.pop();
        }
    }

    /// Many SKUs: every node that holds them all, and one split that takes the node covering the most SKUs
    /// still missing (the cheaper on a tie) until all are covered.
    fn greedy(&self, able: &[Able]) -> Vec<Found> {
        let full: u128 = if self.units.len() >= 128 {
            u128::MAX
        } else {
            (1u128 << self.units.len()) - 1
        };
        let mut found: Vec<Found> = able
            .iter()
            .filter(|a| a.covers & full == full)
            .filter_map(|a| {
                let cost = self.cost(a, full)?;
                Some(Found {
                    parts: vec![FoundPart {
                        node: a.node,
                        skus: full,
                        cost,
                    }],
                    total: cost.total,
                })
            })
            .collect();
        if self.max_parts < 2 {
            return found;
        }
        let mut missing = full;
        let mut parts: Vec<FoundPart> = Vec::new();
        while missing != 0 && parts.len() < self.max_parts {
            let best = able
                .iter()
                .filter(|a| !parts.iter().any(|p| p.node == a.node))
                .filter_map(|a| {
                    let skus = a.covers & missing;
                    if skus == 0 {
                        return None;
                    }
                    let cost = self.cost(a, skus)?;
                    Some(FoundPart {
                        node: a.node,
                        skus,
                        cost,
                    })
                })
                .min_by(|x, y| {
                    y.skus
                        .count_ones()
                        .cmp(&x.skus.count_ones())
                        .then_with(|| x.cost.total.total_cmp(&y.cost.total))
                        .then_with(|| self.nodes[x.node].id.cmp(&self.nodes[y.node].id))
                });
            let Some(part) = best else { break };
            missing &= !part.skus;
            parts.push(part);
        }
        if missing == 0 && parts.len() > 1 {
            let penalty = self.model.split_penalty * (parts.len() - 1) as f64;
            let total = parts.iter().map(|p| p.cost.total).sum::<f64>() + penalty;
            found.push(Found {
                parts,
                total: (total * 100.0).round() / 100.0,
            });
        }
        found
    }
}
