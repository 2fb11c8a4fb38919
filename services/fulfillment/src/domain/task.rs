//! A store task (DESIGN §5): the work one node does for one order by one method (ship, pickup, curbside).
//!
//! Each line's ordered quantity sits in buckets (open, picked, short, packed, staged, handed over, shipped,
//! released) that always add up to what was ordered, so a partial pick needs no extra state: the task's state
//! says where the work is, the buckets say where every unit is. [`Task::apply`] is the only way a task changes:
//! it checks the action against the state, the method and the buckets, and answers the task as it is after, with
//! what the change means outside the task ([`Effect`]s: units to route elsewhere, units fulfilled, the order to
//! cancel). It is pure; `app::` persists the task with its version, so a stale action or timer changes nothing.

use chrono::{DateTime, Utc};
use omni_contracts::Sku;

/// How the units reach the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Shipped from the store.
    Ship,
    /// Collected at the counter.
    Pickup,
    /// Handed over at the car.
    Curbside,
}

impl Method {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Ship => "ship",
            Method::Pickup => "pickup",
            Method::Curbside => "curbside",
        }
    }

    /// How an order's delivery reaches the customer from its node.
    pub fn of(delivery: &omni_contracts::api::Delivery) -> Self {
        match delivery {
            omni_contracts::api::Delivery::Ship { .. } => Method::Ship,
            omni_contracts::api::Delivery::Pickup { .. } => Method::Pickup,
            omni_contracts::api::Delivery::Curbside { .. } => Method::Curbside,
        }
    }
}

impl TryFrom<String> for Method {
    type Error = UnknownName;
    fn try_from(raw: String) -> Result<Self, UnknownName> {
        [Method::Ship, Method::Pickup, Method::Curbside]
            .into_iter()
            .find(|m| m.as_str() == raw)
            .ok_or(UnknownName {
                what: "method",
                name: raw,
            })
    }
}

/// A stored name this code never writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}`")]
pub struct UnknownName {
    /// What was named.
    pub what: &'static str,
    /// The name.
    pub name: String,
}

/// A task's lines from an order's: one per SKU, quantities of a SKU named twice added up.
pub fn merged(lines: &[omni_contracts::events::HoldLine]) -> Vec<(Sku, u32)> {
    let mut merged: Vec<(Sku, u32)> = Vec::with_capacity(lines.len());
    for line in lines {
        match merged.iter_mut().find(|(sku, _)| *sku == line.sku) {
            Some((_, units)) => *units += line.quantity.get(),
            None => merged.push((line.sku.clone(), line.quantity.get())),
        }
    }
    merged
}

/// Where a task's work is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting for the store to accept it (until `accept_by`).
    Created,
    /// Accepted; nothing picked yet.
    Accepted,
    /// Some units picked, some still open.
    Picking,
    /// Every unit the store will fulfil is picked.
    Picked,
    /// Packed in parcels.
    Packed,
    /// Ship: with the carrier (final).
    Shipped,
    /// Pickup, curbside: staged, the customer has a pickup code.
    ReadyForPickup,
    /// Curbside: the customer is at a bay.
    Arrived,
    /// Curbside: a runner is on the way to the car.
    RunnerAssigned,
    /// Pickup, curbside: the customer has the goods (final).
    HandedOver,
    /// Every unit left this node: rejected or short, routed elsewhere (final).
    Rerouted,
    /// The pickup window lapsed: the units go back on sale here and the order is cancelled (final).
    Uncollected,
    /// The order was cancelled (final).
    Cancelled,
}

impl TaskState {
    /// Every state, in the order work moves through them.
    pub const ALL: [TaskState; 13] = [
        TaskState::Created,
        TaskState::Accepted,
        TaskState::Picking,
        TaskState::Picked,
        TaskState::Packed,
        TaskState::Shipped,
        TaskState::ReadyForPickup,
        TaskState::Arrived,
        TaskState::RunnerAssigned,
        TaskState::HandedOver,
        TaskState::Rerouted,
        TaskState::Uncollected,
        TaskState::Cancelled,
    ];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Created => "created",
            TaskState::Accepted => "accepted",
            TaskState::Picking => "picking",
            TaskState::Picked => "picked",
            TaskState::Packed => "packed",
            TaskState::Shipped => "shipped",
            TaskState::ReadyForPickup => "ready_for_pickup",
            TaskState::Arrived => "arrived",
            TaskState::RunnerAssigned => "runner_assigned",
            TaskState::HandedOver => "handed_over",
            TaskState::Rerouted => "rerouted",
            TaskState::Uncollected => "uncollected",
            TaskState::Cancelled => "cancelled",
        }
    }

    /// Whether no action changes it any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Shipped
                | TaskState::HandedOver
                | TaskState::Rerouted
                | TaskState::Uncollected
                | TaskState::Cancelled
        )
    }
}

impl TryFrom<String> for TaskState {
    type Error = UnknownName;
    fn try_from(raw: String) -> Result<Self, UnknownName> {
        TaskState::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or(UnknownName {
                what: "task state",
                name: raw,
            })
    }
}

/// Where a line's units are. The fields always add up to the line's ordered quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Buckets {
    /// Not picked yet.
    pub open: u32,
    /// Taken off the shelf.
    pub picked: u32,
    /// Looked for and not found (a till sold them): routed elsewhere.
    pub short: u32,
    /// In a parcel.
    pub packed: u32,
    /// At the pickup counter, waiting for the customer.
    pub staged: u32,
    /// With the customer.
    pub handed_over: u32,
    /// With the carrier.
    pub shipped: u32,
    /// No longer this node's to fulfil: rejected, cancelled or uncollected (back on sale here, or routed
    /// elsewhere).
    pub released: u32,
}

impl Buckets {
    /// Every unit, whatever its bucket.
    pub fn total(&self) -> u32 {
        self.open
            + self.picked
            + self.short
            + self.packed
            + self.staged
            + self.handed_over
            + self.shipped
            + self.released
    }

    /// Units the node still holds for the order (reserved stock): everything not yet gone to the customer and
    /// not given up.
    pub fn held(&self) -> u32 {
        self.open + self.picked + self.packed + self.staged
    }

    /// Units on their way to the customer or with them.
    pub fn fulfilled(&self) -> u32 {
        self.handed_over + self.shipped
    }
}

/// One line of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLine {
    /// What.
    pub sku: Sku,
    /// How many were ordered from this node.
    pub ordered: u32,
    /// Where they are.
    pub buckets: Buckets,
}

/// A parcel packed for shipping.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Parcel {
    /// Its weight in grams (1 to 70,000).
    pub weight_grams: u32,
}

/// A store task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// How the units reach the customer.
    pub method: Method,
    /// Where the work is.
    pub state: TaskState,
    /// Counts every change, from 1; an action or timer names the version it was meant for.
    pub version: u32,
    /// The lines, one per SKU.
    pub lines: Vec<TaskLine>,
    /// The store must accept it by then, or it is routed elsewhere.
    pub accept_by: DateTime<Utc>,
    /// It should be shipped, or ready for pickup, by then (the order's promise); past it, a breach is reported.
    pub ready_by: DateTime<Utc>,
    /// Pickup, curbside: when it was staged (the pickup window runs from then).
    pub ready_at: Option<DateTime<Utc>>,
    /// Curbside: when the customer said they were at a bay (the hand-over SLA runs from then).
    pub arrived_at: Option<DateTime<Utc>>,
    /// Whether the customer was reminded that the pickup window is closing.
    pub reminded: bool,
    /// Whether `ready_by` passed before it was ready (reported once).
    pub ready_late: bool,
    /// Curbside: whether the customer waited at the car longer than the SLA (reported once).
    pub handover_late: bool,
    /// The parcels, once packed.
    pub parcels: Vec<Parcel>,
    /// The carrier and tracking number, once shipped.
    pub shipment: Option<(String, String)>,
    /// Curbside: the bay and the vehicle the customer described.
    pub arrival: Option<(String, String)>,
    /// Curbside: who runs the goods out.
    pub runner: Option<String>,
}

/// A line's quantities in a pick: how many were found and how many were not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickedLine {
    /// The line.
    pub sku: Sku,
    /// Units found and taken off the shelf.
    pub picked: u32,
    /// Units looked for and not found.
    pub short: u32,
}

/// A line the store refuses at acceptance, in part or whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedLine {
    /// The line.
    pub sku: Sku,
    /// How many units it refuses.
    pub quantity: u32,
}

/// What an associate, a customer or a timer does to a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The store takes the task, refusing some units of some lines (re-routed).
    Accept {
        /// The units refused, if any.
        rejected: Vec<RejectedLine>,
        /// Why, for the re-route.
        reason: Option<String>,
    },
    /// The store refuses the whole task (re-routed).
    Reject {
        /// Why.
        reason: String,
    },
    /// Units taken off the shelf, or not found.
    Pick(Vec<PickedLine>),
    /// Every picked unit packed.
    Pack(Vec<Parcel>),
    /// Ship: handed to the carrier.
    Ship {
        /// Who carries it.
        carrier: String,
        /// Their tracking number.
        tracking: String,
    },
    /// Pickup, curbside: staged at the counter; the customer is given a pickup code.
    Stage,
    /// Curbside: the customer is at a bay (their pickup code was checked).
    Arrive {
        /// The bay.
        bay: String,
        /// How to find the car.
        vehicle: String,
    },
    /// Curbside: someone takes the goods out.
    AssignRunner(String),
    /// Pickup, curbside: the customer has the goods (their pickup code was checked).
    HandOver,
    /// The order was cancelled.
    Cancel,
    /// A till sold units this task held (allocation's shortage after release): they are no longer there.
    SoldAtTill {
        /// What.
        sku: Sku,
        /// How many.
        units: u32,
    },
    /// Timer: `accept_by` passed with the task still waiting to be accepted.
    AcceptByLapsed,
    /// Timer: the pickup window ended with the goods still at the counter.
    PickupWindowLapsed,
    /// Timer: `ready_by` passed before the task was shipped or ready for pickup.
    ReadyByPassed,
    /// Timer: the pickup window closes soon; the customer is reminded.
    RemindCustomer,
    /// Timer: a curbside customer has waited at the car longer than the hand-over SLA.
    HandoverSlaPassed,
    /// A manager records the outcome without the steps (`POST /v1/fulfillments/{id}/complete`): every unit the
    /// store still holds was shipped, or handed over.
    CompletedByHand(omni_contracts::events::HandedOver),
}

impl Action {
    /// A short name, for errors, audit entries and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Accept { .. } => "accept",
            Action::Reject { .. } => "reject",
            Action::Pick(_) => "pick",
            Action::Pack(_) => "pack",
            Action::Ship { .. } => "ship",
            Action::Stage => "stage",
            Action::Arrive { .. } => "arrive",
            Action::AssignRunner(_) => "assign_runner",
            Action::HandOver => "hand_over",
            Action::Cancel => "cancel",
            Action::SoldAtTill { .. } => "sold_at_till",
            Action::AcceptByLapsed => "accept_by_lapsed",
            Action::PickupWindowLapsed => "pickup_window_lapsed",
            Action::ReadyByPassed => "ready_by_passed",
            Action::RemindCustomer => "remind_customer",
            Action::HandoverSlaPassed => "handover_sla_passed",
            Action::CompletedByHand(_) => "completed_by_hand",
        }
    }
}

/// What a change means outside the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// These units cannot come from this node: route them elsewhere (or cancel them if no node can).
    Reroute {
        /// `(sku, units)`.
        units: Vec<(Sku, u32)>,
        /// Why.
        reason: String,
    },
    /// These units reached the customer (or the carrier).
    Fulfilled {
        /// `(sku, units)`.
        units: Vec<(Sku, u32)>,
    },
    /// The units held here go back on sale at this store.
    ReleaseHeld,
    /// The customer never came: the order is cancelled and its authorization voided.
    CancelOrder {
        /// Why.
        reason: String,
    },
    /// Pickup, curbside: the goods are ready; the customer gets a pickup code.
    ReadyForPickup,
    /// Pickup, curbside: the pickup window closes soon; the customer is reminded.
    Remind,
    /// A promise to the customer was broken (reported once per task and kind).
    Breach(Breach),
}

/// A promise to the customer the store did not keep in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Breach {
    /// Not shipped, or not ready for pickup, by `ready_by`.
    ReadyBy,
    /// A curbside customer waited at the car longer than the hand-over SLA.
    CurbsideHandover,
}

impl Breach {
    /// The wire and metric name.
    pub fn as_str(self) -> &'static str {
        match self {
            Breach::ReadyBy => "ready_by",
            Breach::CurbsideHandover => "curbside_handover",
        }
    }
}

/// A durable timer of a task: what fires, and the action it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// `accept_by`: refused as if rejected.
    AcceptBy,
    /// `ready_by`: a breach reported.
    ReadyBy,
    /// Before the pickup window ends: the customer reminded.
    PickupReminder,
    /// The pickup window: uncollected, stock back on sale here, the order cancelled.
    PickupWindow,
    /// Curbside, arrived and not handed over within the SLA: a breach reported.
    CurbsideHandover,
}

impl TimerKind {
    /// Every kind.
    pub const ALL: [TimerKind; 5] = [
        TimerKind::AcceptBy,
        TimerKind::ReadyBy,
        TimerKind::PickupReminder,
        TimerKind::PickupWindow,
        TimerKind::CurbsideHandover,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::AcceptBy => "accept_by",
            TimerKind::ReadyBy => "ready_by",
            TimerKind::PickupReminder => "pickup_reminder",
            TimerKind::PickupWindow => "pickup_window",
            TimerKind::CurbsideHandover => "curbside_handover",
        }
    }

    /// What its firing does to the task.
    pub fn action(self) -> Action {
        match self {
            TimerKind::AcceptBy => Action::AcceptByLapsed,
            TimerKind::ReadyBy => Action::ReadyByPassed,
            TimerKind::PickupReminder => Action::RemindCustomer,
            TimerKind::PickupWindow => Action::PickupWindowLapsed,
            TimerKind::CurbsideHandover => Action::HandoverSlaPassed,
        }
    }
}

impl TryFrom<String> for TimerKind {
    type Error = UnknownName;
    fn try_from(raw: String) -> Result<Self, UnknownName> {
        TimerKind::ALL
            .into_iter()
            .find(|k| k.as_str() == raw)
            .ok_or(UnknownName {
                what: "timer kind",
                name: raw,
            })
    }
}

/// A kind of node's deadlines for its tasks (settings `fulfillment.store`, `fulfillment.warehouse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// From release to accepted.
    pub accept_within: chrono::Duration,
    /// From release to shipped or ready, when the order names no promise.
    pub ready_within: chrono::Duration,
    /// The customer's windows.
    pub windows: Windows,
}

/// How long a customer has, per node kind (settings `fulfillment.store`, `fulfillment.warehouse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// From ready to uncollected.
    pub pickup: chrono::Duration,
    /// How long before the pickup window ends the customer is reminded (none if not shorter than `pickup`).
    pub reminder_before: chrono::Duration,
    /// Curbside: from arrival to hand-over before it is a breach.
    pub curbside_handover: chrono::Duration,
}

/// Why an action was refused; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskRefusal {
    /// The action does not follow from the task's state (ship before pack, hand over before ready, ...).
    #[error("a task that is {state:?} cannot be given `{action}`")]
    OutOfOrder {
        /// The task's state.
        state: TaskState,
        /// The action.
        action: &'static str,
    },
    /// The action is not one of this method's (ship a pickup, a runner for a counter pickup).
    #[error("a {method:?} task has no `{action}`")]
    WrongMethod {
        /// The task's method.
        method: Method,
        /// The action.
        action: &'static str,
    },
    /// A quantity or line that does not fit the task; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// The store answered after `accept_by`: the task is being routed elsewhere.
    #[error("the task had to be accepted by {0}")]
    TooLate(DateTime<Utc>),
    /// A timer fired before it was due (a clock step back); it fires again when due.
    #[error("`{action}` is due at {due}")]
    NotDue {
        /// The timer's action.
        action: &'static str,
        /// When it is due.
        due: DateTime<Utc>,
    },
}

/// A change that was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The task after it.
    pub task: Task,
    /// What it means outside the task.
    pub effects: Vec<Effect>,
}

impl Task {
    /// A new task for `lines` (`(sku, ordered)`, one per SKU), waiting to be accepted by `accept_by`, to be
    /// shipped or ready by `ready_by`.
    pub fn new(
        method: Method,
        lines: Vec<(Sku, u32)>,
        accept_by: DateTime<Utc>,
        ready_by: DateTime<Utc>,
    ) -> Self {
        Task {
            method,
            state: TaskState::Created,
            version: 1,
            lines: lines
                .into_iter()
                .map(|(sku, ordered)| TaskLine {
                    sku,
                    ordered,
                    buckets: Buckets {
                        open: ordered,
                        ..Buckets::default()
                    },
                })
                .collect(),
            accept_by,
            ready_by,
            ready_at: None,
            arrived_at: None,
            reminded: false,
            ready_late: false,
            handover_late: false,
            parcels: vec![],
            shipment: None,
            arrival: None,
            runner: None,
        }
    }

    /// The timers the task has in its state, with when each is due: what a timer row holds, re-armed at every
    /// change (each firing is itself a change, so a timer fires once).
    pub fn timers(&self, windows: &Windows) -> Vec<(TimerKind, DateTime<Utc>)> {
        use TaskState as S;
        let mut timers = Vec::new();
        if self.state == S::Created {
            timers.push((TimerKind::AcceptBy, self.accept_by));
        }
        let before_ready = matches!(
            self.state,
            S::Created | S::Accepted | S::Picking | S::Picked | S::Packed
        );
        if before_ready && !self.ready_late {
            timers.push((TimerKind::ReadyBy, self.ready_by));
        }
        if let (S::ReadyForPickup, Some(ready_at)) = (self.state, self.ready_at) {
            let closes = ready_at + windows.pickup;
            if !self.reminded && windows.reminder_before < windows.pickup {
                timers.push((TimerKind::PickupReminder, closes - windows.reminder_before));
            }
            timers.push((TimerKind::PickupWindow, closes));
        }
        if let (S::Arrived | S::RunnerAssigned, Some(arrived_at), false) =
            (self.state, self.arrived_at, self.handover_late)
        {
            timers.push((
                TimerKind::CurbsideHandover,
                arrived_at + windows.curbside_handover,
            ));
        }
        timers
    }

    /// The earliest of its timers' deadlines, for the store's queue (a reminder is not a deadline); `None` when
    /// nothing is due any more.
    pub fn deadline(&self, windows: &Windows) -> Option<DateTime<Utc>> {
        self.timers(windows)
            .into_iter()
            .filter(|(kind, _)| *kind != TimerKind::PickupReminder)
            .map(|(_, due)| due)
            .min()
    }

    /// Units the node still holds for the order.
    pub fn held(&self) -> u32 {
        self.lines.iter().map(|l| l.buckets.held()).sum()
    }

    /// Applies `action` at `now`: the task after it and what that means outside, or why it was refused (the task
    /// unchanged). A timer's action also needs `windows`, to know it is due.
    pub fn apply(&self, action: &Action, now: DateTime<Utc>) -> Result<Applied, TaskRefusal> {
        self.apply_within(action, now, None)
    }

    /// [`Task::apply`] for a timer's action: refused ([`TaskRefusal::NotDue`]) before the timer is due.
    pub fn fire(
        &self,
        kind: TimerKind,
        now: DateTime<Utc>,
        windows: &Windows,
    ) -> Result<Applied, TaskRefusal> {
        self.apply_within(&kind.action(), now, Some(windows))
    }

    fn apply_within(
        &self,
        action: &Action,
        now: DateTime<Utc>,
        windows: Option<&Windows>,
    ) -> Result<Applied, TaskRefusal> {
        use TaskState as S;
        let mut task = self.clone();
        let mut effects = Vec::new();
        let out_of_order = || TaskRefusal::OutOfOrder {
            state: self.state,
            action: action.name(),
        };
        let wrong_method = || TaskRefusal::WrongMethod {
            method: self.method,
            action: action.name(),
        };
        if self.state.is_final() {
            return Err(out_of_order());
        }
        if let Some(windows) = windows {
            let kind = TimerKind::ALL.into_iter().find(|k| k.action() == *action);
            let due = kind.and_then(|k| self.timers(windows).into_iter().find(|(t, _)| *t == k));
            match due {
                None => return Err(out_of_order()),
                Some((_, due)) if now < due => {
                    return Err(TaskRefusal::NotDue {
                        action: action.name(),
                        due,
                    });
                }
                Some(_) => {}
            }
        }
        match action {
            Action::Accept { rejected, reason } => {
                if self.state != S::Created {
                    return Err(out_of_order());
                }
                if now > self.accept_by {
                    return Err(TaskRefusal::TooLate(self.accept_by));
                }
                let mut refused = Vec::new();
                for (n, line) in rejected.iter().enumerate() {
                    let target = task.line_mut(&line.sku, &format!("rejected[{n}].sku"))?;
                    if line.quantity == 0 || line.quantity > target.buckets.open {
                        return Err(TaskRefusal::Invalid(format!(
                            "rejected[{n}].quantity: 1 to {} units of `{}`, got {}",
                            target.buckets.open, line.sku, line.quantity
                        )));
                    }
                    target.buckets.open -= line.quantity;
                    target.buckets.released += line.quantity;
                    refused.push((line.sku.clone(), line.quantity));
                }
                if !refused.is_empty() {
                    effects.push(Effect::Reroute {
                        units: refused,
                        reason: reason.clone().unwrap_or_else(|| "the store refused it".into()),
                    });
                }
                task.state = if task.open() == 0 {
                    S::Rerouted
                } else {
                    S::Accepted
                };
            }
            Action::Reject { reason } => {
                if self.state != S::Created {
                    return Err(out_of_order());
                }
                effects.push(task.give_up_open(reason.clone()));
                task.state = S::Rerouted;
            }
            Action::AcceptByLapsed => {
                if self.state != S::Created {
                    return Err(out_of_order());
                }
                effects.push(task.give_up_open(format!(
                    "the store did not accept it by {}",
                    self.accept_by.to_rfc3339()
                )));
                task.state = S::Rerouted;
            }
            Action::Pick(picks) => {
                if !matches!(self.state, S::Accepted | S::Picking) {
                    return Err(out_of_order());
                }
                if picks.is_empty() {
                    return Err(TaskRefusal::Invalid("lines: at least one line".into()));
                }
                let mut short = Vec::new();
                for (n, pick) in picks.iter().enumerate() {
                    let target = task.line_mut(&pick.sku, &format!("lines[{n}].sku"))?;
                    let units = pick.picked + pick.short;
                    if units == 0 || units > target.buckets.open {
                        return Err(TaskRefusal::Invalid(format!(
                            "lines[{n}]: picked and short add up to 1 to {} open units of `{}`, got {units}",
                            target.buckets.open, pick.sku
                        )));
                    }
                    target.buckets.open -= units;
                    target.buckets.picked += pick.picked;
                    target.buckets.short += pick.short;
                    if pick.short > 0 {
                        short.push((pick.sku.clone(), pick.short));
                    }
                }
                if !short.is_empty() {
                    effects.push(Effect::Reroute {
                        units: short,
                        reason: "short at the store's shelf".into(),
                    });
                }
                task.state = match (task.open(), task.count(|b| b.picked)) {
                    (0, 0) => S::Rerouted,
                    (0, _) => S::Picked,
                    _ => S::Picking,
                };
            }
            Action::Pack(parcels) => {
                if self.state != S::Picked {
                    return Err(out_of_order());
                }
                if parcels.is_empty() {
                    return Err(TaskRefusal::Invalid("parcels: at least one parcel".into()));
                }
                if let Some((n, p)) = parcels
                    .iter()
                    .enumerate()
                    .find(|(_, p)| p.weight_grams == 0 || p.weight_grams > 70_000)
                {
                    return Err(TaskRefusal::Invalid(format!(
                        "parcels[{n}].weight_grams: 1 to 70000, got {}",
                        p.weight_grams
                    )));
                }
                for line in &mut task.lines {
                    line.buckets.packed += std::mem::take(&mut line.buckets.picked);
                }
                task.parcels = parcels.clone();
                task.state = S::Packed;
            }
            Action::Ship { carrier, tracking } => {
                if self.method != Method::Ship {
                    return Err(wrong_method());
                }
                if self.state != S::Packed {
                    return Err(out_of_order());
                }
                if carrier.trim().is_empty() || tracking.trim().is_empty() {
                    return Err(TaskRefusal::Invalid(
                        "carrier, tracking: both are needed to ship".into(),
                    ));
                }
                let units = task.move_all(|b| &mut b.packed, |b| &mut b.shipped);
                effects.push(Effect::Fulfilled { units });
                task.shipment = Some((carrier.clone(), tracking.clone()));
                task.state = S::Shipped;
            }
            Action::Stage => {
                if self.method == Method::Ship {
                    return Err(wrong_method());
                }
                if self.state != S::Packed {
                    return Err(out_of_order());
                }
                task.move_all(|b| &mut b.packed, |b| &mut b.staged);
                effects.push(Effect::ReadyForPickup);
                task.ready_at = Some(now);
                task.state = S::ReadyForPickup;
            }
            Action::Arrive { bay, vehicle } => {
                if self.method != Method::Curbside {
                    return Err(wrong_method());
                }
                if self.state != S::ReadyForPickup {
                    return Err(out_of_order());
                }
                if bay.trim().is_empty() {
                    return Err(TaskRefusal::Invalid("bay: which bay the car is at".into()));
                }
                task.arrival = Some((bay.clone(), vehicle.clone()));
                task.arrived_at = Some(now);
                task.state = S::Arrived;
            }
            Action::AssignRunner(runner) => {
                if self.method != Method::Curbside {
                    return Err(wrong_method());
                }
                if !matches!(self.state, S::Arrived | S::RunnerAssigned) {
                    return Err(out_of_order());
                }
                task.runner = Some(runner.clone());
                task.state = S::RunnerAssigned;
            }
            Action::HandOver => {
                let ready = match self.method {
                    Method::Ship => return Err(wrong_method()),
                    Method::Pickup => self.state == S::ReadyForPickup,
                    Method::Curbside => matches!(self.state, S::Arrived | S::RunnerAssigned),
                };
                if !ready {
                    return Err(out_of_order());
                }
                let units = task.move_all(|b| &mut b.staged, |b| &mut b.handed_over);
                effects.push(Effect::Fulfilled { units });
                task.state = S::HandedOver;
            }
            Action::PickupWindowLapsed => {
                if self.method == Method::Ship {
                    return Err(wrong_method());
                }
                if self.state != S::ReadyForPickup {
                    return Err(out_of_order());
                }
                task.move_all(|b| &mut b.staged, |b| &mut b.released);
                effects.push(Effect::ReleaseHeld);
                effects.push(Effect::CancelOrder {
                    reason: "not collected within the pickup window".into(),
                });
                task.state = S::Uncollected;
            }
            Action::ReadyByPassed => {
                let before_ready = matches!(
                    self.state,
                    S::Created | S::Accepted | S::Picking | S::Picked | S::Packed
                );
                if !before_ready || self.ready_late {
                    return Err(out_of_order());
                }
                task.ready_late = true;
                effects.push(Effect::Breach(Breach::ReadyBy));
            }
            Action::RemindCustomer => {
                if self.method == Method::Ship {
                    return Err(wrong_method());
                }
                if self.state != S::ReadyForPickup || self.reminded {
                    return Err(out_of_order());
                }
                task.reminded = true;
                effects.push(Effect::Remind);
            }
            Action::HandoverSlaPassed => {
                if self.method != Method::Curbside {
                    return Err(wrong_method());
                }
                if !matches!(self.state, S::Arrived | S::RunnerAssigned) || self.handover_late {
                    return Err(out_of_order());
                }
                task.handover_late = true;
                effects.push(Effect::Breach(Breach::CurbsideHandover));
            }
            Action::CompletedByHand(how) => {
                use omni_contracts::events::HandedOver;
                let (fits, state) = match how {
                    HandedOver::Shipped => (self.method == Method::Ship, S::Shipped),
                    HandedOver::PickedUp => (self.method != Method::Ship, S::HandedOver),
                };
                if !fits {
                    return Err(wrong_method());
                }
                if task.held() == 0 {
                    return Err(out_of_order());
                }
                let mut units = Vec::new();
                for line in &mut task.lines {
                    let b = &mut line.buckets;
                    let held = std::mem::take(&mut b.open)
                        + std::mem::take(&mut b.picked)
                        + std::mem::take(&mut b.packed)
                        + std::mem::take(&mut b.staged);
                    match how {
                        HandedOver::Shipped => b.shipped += held,
                        HandedOver::PickedUp => b.handed_over += held,
                    }
                    if held > 0 {
                        units.push((line.sku.clone(), held));
                    }
                }
                effects.push(Effect::Fulfilled { units });
                task.state = state;
            }
            Action::SoldAtTill { sku, units } => {
                let line = task.line_mut(sku, "sku")?;
                let b = &mut line.buckets;
                if *units == 0 || *units > b.held() {
                    return Err(TaskRefusal::Invalid(format!(
                        "units: 1 to {} held units of `{sku}`, got {units}",
                        b.held()
                    )));
                }
                // From the shelf first, then from what was already taken off it.
                let mut left = *units;
                for bucket in [&mut b.open, &mut b.picked, &mut b.packed, &mut b.staged] {
                    let take = left.min(*bucket);
                    *bucket -= take;
                    left -= take;
                }
                b.short += units;
                effects.push(Effect::Reroute {
                    units: vec![(sku.clone(), *units)],
                    reason: "sold at the till before it left the store".into(),
                });
                if task.held() == 0 {
                    task.state = S::Rerouted;
                }
            }
            Action::Cancel => {
                for line in &mut task.lines {
                    let b = &mut line.buckets;
                    b.released += std::mem::take(&mut b.open)
                        + std::mem::take(&mut b.picked)
                        + std::mem::take(&mut b.packed)
                        + std::mem::take(&mut b.staged);
                }
                effects.push(Effect::ReleaseHeld);
                task.state = S::Cancelled;
            }
        }
        task.version += 1;
        Ok(Applied { task, effects })
    }

    fn line_mut(&mut self, sku: &Sku, field: &str) -> Result<&mut TaskLine, TaskRefusal> {
        self.lines
            .iter_mut()
            .find(|l| l.sku == *sku)
            .ok_or_else(|| TaskRefusal::Invalid(format!("{field}: `{sku}` is not a line of this task")))
    }

    fn open(&self) -> u32 {
        self.count(|b| b.open)
    }

    fn count(&self, bucket: impl Fn(&Buckets) -> u32) -> u32 {
        self.lines.iter().map(|l| bucket(&l.buckets)).sum()
    }

    /// Gives up every open unit (released here, routed elsewhere).
    fn give_up_open(&mut self, reason: String) -> Effect {
        let units = self.move_all(|b| &mut b.open, |b| &mut b.released);
        Effect::Reroute { units, reason }
    }

    /// Moves every unit of one bucket to another; returns `(sku, units)` of the lines that had any.
    fn move_all(
        &mut self,
        from: impl Fn(&mut Buckets) -> &mut u32,
        to: impl Fn(&mut Buckets) -> &mut u32,
    ) -> Vec<(Sku, u32)> {
        let mut moved = Vec::new();
        for line in &mut self.lines {
            let units = std::mem::take(from(&mut line.buckets));
            *to(&mut line.buckets) += units;
            if units > 0 {
                moved.push((line.sku.clone(), units));
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests;
