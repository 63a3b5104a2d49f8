//! The OpenAPI 3.1 document, generated from the handlers' annotations,
//! and its browsable page (Swagger UI, bundled in the binary so it works
//! without internet).

use utoipa::{
    openapi::{
        path::{Operation, PathItem},
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
        ContentBuilder, Ref, RefOr, Response, ResponseBuilder, Schema,
    },
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
        super::health::readyz,
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
    components(schemas(super::problem::Problem, super::tus::TusResumable)),
    modifiers(&BearerAuth, &Problems, &NonEmptyBatches, &FormBodies, &BinaryBodies, &HalJson),
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

/// Every operation of a path item, whichever method.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// A problem answer (`application/problem+json`, RFC 9457).
fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
        )
        .build()
}

/// Every error answer is a problem (`problem::Problem`) in
/// `application/problem+json`: each documented 4xx/5xx says so, an
/// operation that needs a token documents 401, and every operation has
/// a `default` problem for the refusals its own list does not name
/// (an unknown entity type, a malformed path segment, a missing
/// protocol header).
struct Problems;

impl Modify for Problems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let responses = &mut operation.responses.responses;
                for (status, response) in responses.iter_mut() {
                    let RefOr::T(response) = response else { continue };
                    if status.starts_with('4') || status.starts_with('5') {
                        if let Some(content) = response.content.shift_remove("application/json") {
                            response.content.insert("application/problem+json".to_owned(), content);
                        }
                    }
                }
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                if secured && !responses.contains_key("401") {
                    let missing = problem(
                        "unauthorized: no token, or one that is unknown, revoked or expired",
                    );
                    responses.insert("401".to_owned(), RefOr::T(missing));
                }
                responses
                    .entry("default".to_owned())
                    .or_insert_with(|| RefOr::T(problem("any other refusal, as a problem")));
            }
        }
    }
}

/// The trash's batch bodies name at least one file; a rename names one
/// change (utoipa keeps only one of `min_properties` and
/// `max_properties`).
struct NonEmptyBatches;

impl Modify for NonEmptyBatches {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            if let Some(RefOr::T(Schema::Object(patch))) = components.schemas.get_mut("FilePatch") {
                patch.min_properties = Some(1);
            }
        }
        for path in ["/v1.0/files", "/v1.0/files/restore"] {
            let Some(item) = openapi.paths.paths.get_mut(path) else { continue };
            for operation in operations(item) {
                let Some(body) = operation.request_body.as_mut() else { continue };
                for (encoding, content) in body.content.iter_mut() {
                    if encoding != "application/json" {
                        // A form has no list: its keys are `0[uuid]`, `1[uuid]`, …
                        content.schema = Some(RefOr::T(batch_form()));
                    } else if let Some(RefOr::T(Schema::Array(array))) = content.schema.as_mut() {
                        array.min_items = Some(1);
                    }
                }
            }
        }
    }
}

/// A form carries text: a boolean field reads `1`/`0`, `true`/`false` or
/// `on`/`off` (PHP writes `true` as `1`; `domain::form`), an optional
/// field sent empty is absent, and a multipart field's name is
/// printable text. Each body's form
/// encodings get schemas of their own, `<Body>Form` (urlencoded) and
/// `<Body>Multipart`, that say so; JSON keeps the JSON one.
struct FormBodies;

impl Modify for FormBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else { return };
        let mut made = std::collections::BTreeMap::new();
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let Some(body) = operation.request_body.as_mut() else { continue };
                // Bodies read as fields (a part's form is read as a stream).
                if !body.content.contains_key("application/x-www-form-urlencoded") {
                    continue;
                }
                for (encoding, content) in body.content.iter_mut() {
                    let form = encoding == "application/x-www-form-urlencoded"
                        || encoding == "multipart/form-data";
                    let Some(RefOr::Ref(reference)) = content.schema.as_ref().filter(|_| form)
                    else {
                        continue;
                    };
                    let name = reference.ref_location.rsplit('/').next().unwrap_or_default();
                    let Some(RefOr::T(Schema::Object(object))) = components.schemas.get(name)
                    else {
                        continue;
                    };
                    let multipart = encoding == "multipart/form-data";
                    let form_name =
                        format!("{name}{}", if multipart { "Multipart" } else { "Form" });
                    made.entry(form_name.clone())
                        .or_insert_with(|| as_form(object.clone(), multipart));
                    content.schema = Some(RefOr::Ref(Ref::from_schema_name(form_name)));
                }
            }
        }
        for (name, schema) in made {
            components.schemas.insert(name, RefOr::T(schema));
        }
    }
}

/// A part's bytes (`application/octet-stream`, tus's
/// `application/offset+octet-stream`) are any bytes at all: no schema
/// constrains them (a `Vec<u8>` would read as a JSON array of numbers).
struct BinaryBodies;

impl Modify for BinaryBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let Some(body) = operation.request_body.as_mut() else { continue };
                for (encoding, content) in body.content.iter_mut() {
                    if encoding.ends_with("octet-stream") {
                        let any = utoipa::openapi::schema::SchemaType::AnyValue;
                        let any = utoipa::openapi::schema::Object::with_type(any);
                        content.schema = Some(RefOr::T(Schema::Object(any)));
                    }
                }
            }
        }
    }
}

/// A body's schema as a form sends it (`FormBodies`).
fn as_form(mut object: utoipa::openapi::schema::Object, multipart: bool) -> Schema {
    use utoipa::openapi::{
        schema::{SchemaType, Type},
        ObjectBuilder,
    };
    let is_boolean = |t: &SchemaType| match t {
        SchemaType::Type(t) => *t == Type::Boolean,
        SchemaType::Array(types) => types.contains(&Type::Boolean),
        SchemaType::AnyValue => false,
    };
    for (name, property) in object.properties.iter_mut() {
        if let RefOr::T(Schema::Object(field)) = property {
            // A form cannot send null.
            if let SchemaType::Array(types) = &field.schema_type {
                let kept: Vec<Type> = types.iter().filter(|t| **t != Type::Null).cloned().collect();
                field.schema_type = match kept.as_slice() {
                    [one] => SchemaType::Type(one.clone()),
                    _ => SchemaType::Array(kept),
                };
            }
            if is_boolean(&field.schema_type) {
                *property = RefOr::T(Schema::Object(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["1", "0", "true", "false", "on", "off"]))
                        .description(field.description.clone())
                        .build(),
                ));
            }
        }
        // An optional field sent empty is absent
        // (unless the body must name something: a rename).
        if !object.required.contains(name) && object.min_properties.is_none() {
            let empty = ObjectBuilder::new().schema_type(Type::String).max_length(Some(0)).build();
            *property = RefOr::T(Schema::AnyOf(
                utoipa::openapi::schema::AnyOfBuilder::new()
                    .item(property.clone())
                    .item(empty)
                    .build(),
            ));
        }
    }
    // A body that names exactly one change (a rename): as a form, one
    // field given and the others absent or empty.
    if object.min_properties == Some(1) && object.max_properties == Some(1) {
        return one_of_fields(object, multipart.then(multipart_names));
    }
    object.property_names = multipart.then(|| Box::new(multipart_names()));
    Schema::Object(object)
}

/// A form that gives exactly one of `object`'s fields: one branch per
/// field, that field required and every other absent or empty.
fn one_of_fields(object: utoipa::openapi::schema::Object, names: Option<Schema>) -> Schema {
    use utoipa::openapi::{schema::Type, ObjectBuilder, OneOfBuilder};
    let empty = ObjectBuilder::new().schema_type(Type::String).max_length(Some(0)).build();
    let mut branches = OneOfBuilder::new().description(object.description.clone());
    for given in object.properties.keys() {
        let mut branch = ObjectBuilder::new()
            .schema_type(Type::Object)
            .required(given)
            .property_names(names.clone());
        for (other, other_schema) in &object.properties {
            branch = match other == given {
                true => branch.property(other, other_schema.clone()),
                false => branch.property(other, empty.clone()),
            };
        }
        branches = branches.item(branch.build());
    }
    Schema::OneOf(branches.build())
}

/// The names a multipart form's fields can have (`FormBodies`): no
/// control characters, quotes or backslashes, which its headers cannot
/// carry. A urlencoded key can be anything (`domain::form`).
fn multipart_names() -> Schema {
    use utoipa::openapi::{schema::Type, ObjectBuilder};
    let names = r#"^[^\x00-\x1f\x7f"\\]*$"#;
    Schema::Object(ObjectBuilder::new().schema_type(Type::String).pattern(Some(names)).build())
}

/// A trash batch as a form, with PHP's bracket keys.
fn batch_form() -> Schema {
    use utoipa::openapi::{schema::Type, ObjectBuilder};
    let uuid = ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).build();
    Schema::Object(
        ObjectBuilder::new()
            .property("0[uuid]", uuid.clone())
            .property("1[uuid]", uuid)
            .required("0[uuid]")
            .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(
                false,
            )))
            .description(Some("`0[uuid]`, `1[uuid]`, … each a file's uuid"))
            .build(),
    )
}

/// The CRM side (`/api/v4`) answers `application/hal+json`, as Kommo's
/// does (`json::hal_json`); its success bodies are documented so.
struct HalJson;

impl Modify for HalJson {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            // The widget's token is Satchel's own, answered as plain JSON.
            if !path.starts_with("/api/v4/") || path == "/api/v4/files/issue_token" {
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
