use actix_web::{HttpResponse, web};
use omni_contracts::TaskId;
use omni_http::{ApiError, Principal};

use super::TaskView;
use crate::app::State;
use crate::db::tasks;

/// One store task, for an associate of its store (404 for another store's, as for an unknown one).
#[utoipa::path(
    get, path = "/v1/tasks/{id}", params(("id" = String, Path, description = "The task")),
    responses(
        (status = 200, description = "The task", body = TaskView),
        (status = 404, description = "No such task at the caller's stores", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn get_task(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::not_found(format!("task {id}"));
    let task_id = TaskId::parse(&id).map_err(|_| not_found())?;
    let task = state
        .db
        .run(move |conn| tasks::find(conn, task_id))
        .await?
        .filter(|t| principal.works_at(t.location_id.as_str()))
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(TaskView::from(task)))
}
