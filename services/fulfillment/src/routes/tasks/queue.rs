use actix_web::{HttpResponse, web};
use chrono::NaiveDateTime;
use omni_contracts::{LocationId, TaskId};
use omni_http::{ApiError, Code, Principal};
use serde::{Deserialize, Serialize};

use super::TaskView;
use crate::app::State;
use crate::db::tasks;
use crate::domain::task::TaskState;

/// Most tasks one page holds.
pub const MAX_PAGE: u32 = 100;

/// Query of `GET /v1/stores/{location}/tasks`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// Only tasks in this state (default: every state with work left).
    pub state: Option<TaskState>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    pub after: Option<String>,
}

/// One page of a store's queue.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskPage {
    /// The tasks, earliest deadline first.
    pub tasks: Vec<TaskView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

/// A store's work queue: its tasks in a state (or every state with work left), earliest deadline first, in
/// bounded pages. An associate sees only the queues of their stores.
#[utoipa::path(
    get, path = "/v1/stores/{location}/tasks",
    params(("location" = String, Path, description = "The store"), QueueQuery),
    responses(
        (status = 200, description = "A page of the store's tasks", body = TaskPage),
        (status = 400, description = "Invalid query", body = omni_http::errors::ErrorBody),
        (status = 404, description = "Not one of the caller's stores", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn store_queue(
    state: web::Data<State>,
    principal: Principal,
    location: web::Path<String>,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, ApiError> {
    let invalid = |m: String| ApiError::new(Code::InvalidQuery, m);
    let not_found = || ApiError::not_found(format!("store {location}"));
    let location = LocationId::parse(&location).map_err(|_| not_found())?;
    if !principal.works_at(location.as_str()) {
        return Err(not_found());
    }
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(invalid(format!("limit: 1 to {MAX_PAGE}, got {limit}")));
    }
    let after = query
        .after
        .as_deref()
        .map(parse_cursor)
        .transpose()
        .map_err(|e| invalid(format!("after: {e}")))?;
    let states: Vec<TaskState> = match query.state {
        Some(one) => vec![one],
        None => TaskState::ALL.into_iter().filter(|s| !s.is_final()).collect(),
    };
    let page = state
        .db
        .run(move |conn| tasks::queue(conn, &location, &states, after, i64::from(limit)))
        .await?;
    let next = (page.len() == limit as usize)
        .then(|| page.last().map(|t| cursor(t.deadline, t.id)))
        .flatten();
    Ok(HttpResponse::Ok().json(TaskPage {
        tasks: page.into_iter().map(TaskView::from).collect(),
        next,
    }))
}

/// `<deadline in microseconds since the epoch>.<task id>`.
fn cursor(deadline: NaiveDateTime, id: TaskId) -> String {
    format!("{}.{id}", deadline.and_utc().timestamp_micros())
}

fn parse_cursor(raw: &str) -> Result<tasks::QueueCursor, String> {
    let (micros, id) = raw
        .split_once('.')
        .ok_or_else(|| "not a `next` this route gave".to_owned())?;
    let micros: i64 = micros
        .parse()
        .map_err(|_| "not a `next` this route gave".to_owned())?;
    let deadline = chrono::DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| "not a `next` this route gave".to_owned())?
        .naive_utc();
    Ok((deadline, TaskId::parse(id).map_err(|e| e.to_string())?))
}
