//! Who is calling: a principal, with the roles and the scope (a partner, some stores) it acts under.

use omni_config::Role;
use omni_contracts::PartnerId;

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
