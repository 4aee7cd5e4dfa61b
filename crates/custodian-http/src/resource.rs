//! One macro declares the standard handlers of a resource, for every
//! module: create, list, get, update and delete, each optional, each with
//! its OpenAPI entry.
//!
//! What differs between modules (soft delete and `include_deleted` in
//! claims, recorded reads in trials, the split guard in analytics) lives in
//! the module's request context, an extractor with these methods, each
//! calling the repository function the invocation names for the operation:
//!
//! - `create(f, new)`, `update(f, id, patch)`, `delete(f, id)`;
//! - `list_query(spec, query, headers)`, then `list(f, spec, &q)`;
//! - `get(f, id, params)`, where `params` is the operation's query type.

/// A `get` that takes no query parameters.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoParams {}

/// Declares a resource's handlers; see the module documentation. The
/// invoking module imports `custodian_core::query::Page` (the OpenAPI
/// attribute names it as written) and depends on `axum`, `utoipa` and `uuid`.
///
/// ```ignore
/// custodian_http::resource_handlers!(
///     ctx = Ctx, tag = "claims", path = "/v1/claims/teams", item = "team",
///     model = team::Model, spec = TEAMS;
///     create create_team(repo::NewTeam) => repo::create_team;
///     list list_teams => repo::list;
///     get get_team(ReadParams) => repo::get_team;
///     update update_team(repo::TeamPatch) => repo::update_team;
///     delete delete_team => repo::delete_team;
/// );
/// ```
#[macro_export]
macro_rules! resource_handlers {
    (
        ctx = $ctx:ty, tag = $tag:literal, path = $path:literal, item = $item:literal,
        model = $model:ty, spec = $spec:expr
        $(; create $create:ident($new:ty) => $rcreate:expr $(, doc = $cdoc:literal)?)?
        $(; list $list:ident => $rlist:expr $(, doc = $ldoc:literal)?)?
        $(; get $get:ident($params:ty) => $rget:expr $(, doc = $gdoc:literal)?)?
        $(; update $update:ident($patch:ty) => $rupdate:expr $(, doc = $udoc:literal)?)?
        $(; delete $delete:ident => $rdelete:expr $(, doc = $ddoc:literal)?)?
        $(;)?
    ) => {
        $(
            #[doc = concat!("Creates a ", $item, ".")]
            $(#[doc = ""] #[doc = $cdoc])?
            #[::utoipa::path(post, path = $path, tag = $tag, request_body = $new, responses(
                (status = 201, body = $model),
                $crate::responses::Conflict,
                $crate::responses::Invalid,
            ))]
            async fn $create(
                ctx: $ctx,
                ::axum::Json(new): ::axum::Json<$new>,
            ) -> ::std::result::Result<(::axum::http::StatusCode, ::axum::Json<$model>), $crate::ApiError> {
                Ok((::axum::http::StatusCode::CREATED, ::axum::Json(ctx.create($rcreate, new).await?)))
            }
        )?
        $(
            #[doc = concat!("Lists ", $item, "s with the list-query language.")]
            $(#[doc = ""] #[doc = $ldoc])?
            #[::utoipa::path(get, path = $path, tag = $tag, responses(
                (status = 200, body = Page<$model>),
                $crate::responses::BadQuery,
            ))]
            async fn $list(
                ctx: $ctx,
                ::axum::extract::RawQuery(query): ::axum::extract::RawQuery,
                headers: ::axum::http::HeaderMap,
            ) -> ::std::result::Result<::axum::Json<::custodian_core::query::Page<$model>>, $crate::ApiError> {
                let q = ctx.list_query(&$spec, query.as_deref(), &headers).await?;
                Ok(::axum::Json(ctx.list($rlist, &$spec, &q).await?))
            }
        )?
        $(
            #[doc = concat!("One ", $item, ".")]
            $(#[doc = ""] #[doc = $gdoc])?
            #[::utoipa::path(get, path = concat!($path, "/{id}"), tag = $tag,
                params(("id" = ::uuid::Uuid, Path), $params),
                responses((status = 200, body = $model), $crate::responses::NotFound))]
            async fn $get(
                ctx: $ctx,
                ::axum::extract::Path(id): ::axum::extract::Path<::uuid::Uuid>,
                ::axum::extract::Query(params): ::axum::extract::Query<$params>,
            ) -> ::std::result::Result<::axum::Json<$model>, $crate::ApiError> {
                Ok(::axum::Json(ctx.get($rget, id, params).await?))
            }
        )?
        $(
            #[doc = concat!("Changes a ", $item, ": only the fields given.")]
            $(#[doc = ""] #[doc = $udoc])?
            #[::utoipa::path(patch, path = concat!($path, "/{id}"), tag = $tag, request_body = $patch,
                params(("id" = ::uuid::Uuid, Path)),
                responses(
                    (status = 200, body = $model),
                    $crate::responses::NotFound,
                    $crate::responses::Conflict,
                    $crate::responses::Invalid,
                ))]
            async fn $update(
                ctx: $ctx,
                ::axum::extract::Path(id): ::axum::extract::Path<::uuid::Uuid>,
                ::axum::Json(patch): ::axum::Json<$patch>,
            ) -> ::std::result::Result<::axum::Json<$model>, $crate::ApiError> {
                Ok(::axum::Json(ctx.update($rupdate, id, patch).await?))
            }
        )?
        $(
            #[doc = concat!("Deletes a ", $item, ".")]
            $(#[doc = ""] #[doc = $ddoc])?
            #[::utoipa::path(delete, path = concat!($path, "/{id}"), tag = $tag,
                params(("id" = ::uuid::Uuid, Path)),
                responses(
                    (status = 204),
                    $crate::responses::NotFound,
                    $crate::responses::Conflict,
                ))]
            async fn $delete(
                ctx: $ctx,
                ::axum::extract::Path(id): ::axum::extract::Path<::uuid::Uuid>,
            ) -> ::std::result::Result<::axum::http::StatusCode, $crate::ApiError> {
                ctx.delete($rdelete, id).await?;
                Ok(::axum::http::StatusCode::NO_CONTENT)
            }
        )?
    };
}
