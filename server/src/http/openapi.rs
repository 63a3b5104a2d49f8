//! The OpenAPI 3.1 document, generated from the handlers' annotations,
//! and its browsable page (Swagger UI, bundled in the binary so it works
//! without internet).

use utoipa::{
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};
use utoipa_swagger_ui::SwaggerUi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Satchel",
        description = "A self-hosted file service that speaks Kommo's Files API."
    ),
    paths(
        super::health::healthz,
        super::metrics::render,
        super::tokens::issue_token,
        super::account::get_account,
        super::sessions::open_session,
        super::sessions::list_sessions,
        super::upload::put_part,
        super::upload::resume_point,
        super::upload::cancel,
        super::tus::create,
        super::tus::offset,
        super::tus::patch,
        super::tus::terminate,
        super::files::list_files,
        super::files::get_file,
        super::files::patch_file,
        super::files::list_versions,
        super::files::get_version,
        super::trash::trash,
        super::trash::restore,
        super::trash::stats,
        super::download::download_current,
        super::download::download,
        super::download::download_preview,
        super::crm::entities::create,
        super::crm::entities::list,
        super::crm::entities::get_one,
        super::crm::entities::patch,
        super::crm::entities::create_fields,
        super::crm::entities::list_fields,
        super::crm::notes::list_by_type,
        super::crm::notes::list_by_entity,
        super::crm::notes::get_by_type,
        super::crm::notes::get_by_entity,
        super::crm::notes::add_batch,
        super::crm::notes::add_to_entity,
        super::crm::notes::edit_batch,
        super::crm::notes::edit_by_type,
        super::crm::notes::edit_by_entity,
        super::crm::media::list,
        super::crm::media::attach,
        super::crm::media::detach,
        super::crm::media::file_links,
    ),
    components(schemas(super::problem::Problem)),
    modifiers(&BearerAuth, &HalJson),
    tags(
        (name = "operations", description = "Health and metrics"),
        (name = "uploads", description = "Upload sessions and their parts"),
        (name = "files", description = "Files, versions and downloads"),
        (name = "crm", description = "CRM side: entities, notes, entity files"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The CRM side (`/api/v4`) answers `application/hal+json`, as Kommo's
/// does (`json::hal_json`); its success bodies are documented so.
struct HalJson;

impl Modify for HalJson {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/v4/") {
                continue;
            }
            let operations =
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                for response in operation.responses.responses.values_mut() {
                    if let utoipa::openapi::RefOr::T(response) = response {
                        if let Some(content) = response.content.shift_remove("application/json") {
                            response.content.insert(super::json::HAL_JSON.to_owned(), content);
                        }
                    }
                }
            }
        }
    }
}

pub fn router() -> axum::Router<crate::state::AppState> {
    SwaggerUi::new("/api/docs").url("/api/openapi.json", ApiDoc::openapi()).into()
}
