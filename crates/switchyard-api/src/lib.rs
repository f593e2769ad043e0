//! Switchyard's HTTP surface on actix-web: routes, request and response DTOs, extractors,
//! middleware, the error model and the OpenAPI document generated from the routes.
//!
//! This crate knows the domain's ports only; the server crate hands it their implementations.

pub mod auth;
pub mod dto;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod names;
pub mod openapi;
pub mod rate;
pub mod routes;

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, web};
use ipnet::IpNet;
use switchyard_domain::accounts::Accounts;
use switchyard_domain::catalog::Catalog;
use switchyard_domain::conversations::{Conversations, Files};
use switchyard_domain::gateway::model_configs::ModelConfigs;
use switchyard_domain::gateway::{CallLogs, Gateway};
use switchyard_domain::usage::{Governor, UsageStats};
use switchyard_domain::{Clock, HealthProbe};
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_swagger_ui::SwaggerUi;

pub use error::{ApiError, ErrorCode};
pub use middleware::metrics::Metrics;
use middleware::request_context::{REQUEST_ID_HEADER, TrustedProxies};
use routes::meta::OpenApiDocument;

/// A function that registers routes; route modules' `configure` have this type.
pub type RouteConfig = fn(&mut ServiceConfig<'_>);

/// What the handlers share: the use cases, the ports' implementations and the metrics registry.
#[derive(Debug)]
pub struct AppState {
    pub probe: Arc<dyn HealthProbe>,
    pub clock: Arc<dyn Clock>,
    pub accounts: Arc<Accounts>,
    pub catalog: Arc<Catalog>,
    pub gateway: Arc<Gateway>,
    pub model_configs: Arc<ModelConfigs>,
    pub conversations: Arc<Conversations>,
    pub files: Arc<Files>,
    pub usage: Arc<UsageStats>,
    pub call_logs: Arc<CallLogs>,
    pub governor: Arc<Governor>,
    pub metrics: Metrics,
    /// The largest `/v1` request body, in bytes.
    pub gateway_body_limit: usize,
    /// Rebuilds the routing snapshot after catalog writes, coalesced.
    pub refresher: middleware::routing_refresh::Refresher,
}

/// The domain services and ports the API calls, and the metrics registry (made first: the
/// gateway reports to it).
#[derive(Debug, Clone)]
pub struct Services {
    pub probe: Arc<dyn HealthProbe>,
    pub clock: Arc<dyn Clock>,
    pub accounts: Arc<Accounts>,
    pub catalog: Arc<Catalog>,
    pub gateway: Arc<Gateway>,
    pub model_configs: Arc<ModelConfigs>,
    pub conversations: Arc<Conversations>,
    pub files: Arc<Files>,
    pub usage: Arc<UsageStats>,
    pub call_logs: Arc<CallLogs>,
    pub governor: Arc<Governor>,
    pub metrics: Metrics,
}

/// HTTP settings, filled by the server crate from configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// The largest `/v1` request body (images travel inline), in bytes.
    pub gateway_body_limit: usize,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Origins allowed to call the API from a browser; empty = no CORS headers at all, `*` = any.
    pub cors_origins: Vec<String>,
}

/// Builds the actix `App` for each worker from state shared by all of them.
#[derive(Debug, Clone)]
pub struct Api {
    state: web::Data<AppState>,
    proxies: web::Data<TrustedProxies>,
    metrics: web::Data<Metrics>,
    settings: HttpSettings,
    extra_routes: Vec<RouteConfig>,
}

impl Api {
    pub fn new(services: Services, settings: HttpSettings) -> Result<Self, prometheus::Error> {
        let metrics = services.metrics;
        Ok(Self {
            state: web::Data::new(AppState {
                probe: services.probe,
                clock: services.clock,
                accounts: services.accounts,
                catalog: services.catalog,
                gateway: services.gateway,
                model_configs: services.model_configs,
                conversations: services.conversations,
                files: services.files,
                usage: services.usage,
                call_logs: services.call_logs,
                governor: services.governor,
                metrics: metrics.clone(),
                gateway_body_limit: settings.gateway_body_limit,
                refresher: middleware::routing_refresh::Refresher::default(),
            }),
            proxies: web::Data::new(TrustedProxies(settings.trusted_proxies.clone())),
            metrics: web::Data::new(metrics),
            settings,
            extra_routes: Vec::new(),
        })
    }

    /// Adds routes beyond the built-in ones (they appear in the OpenAPI document too).
    pub fn with_routes(mut self, routes: RouteConfig) -> Self {
        self.extra_routes.push(routes);
        self
    }

    /// The OpenAPI document of every registered route.
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        self.app_and_document().1
    }

    /// One worker's application.
    pub fn app(
        &self,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody + use<>>,
            Error = actix_web::Error,
            InitError = (),
        > + use<>,
    > {
        let (app, document) = self.app_and_document();
        let allowed_methods = middleware::error_body::AllowedMethods::from_document(&document);
        let document = document
            .to_json()
            .unwrap_or_else(|error| format!(r#"{{"error":"the OpenAPI document could not be rendered: {error}"}}"#));
        app.app_data(web::Data::new(OpenApiDocument(document)))
            .app_data(web::Data::new(allowed_methods))
            .service(SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::from("/openapi.json")))
            .default_service(web::to(middleware::error_body::fallback))
            .wrap(from_fn(middleware::routing_refresh::refresh_after_catalog_writes))
            .wrap(Condition::new(!self.settings.cors_origins.is_empty(), self.cors()))
            .wrap(from_fn(middleware::error_body::error_body))
            .wrap(from_fn(middleware::metrics::track))
            .wrap(TracingLogger::<middleware::root_span::RequestSpan>::new())
            .wrap(from_fn(middleware::request_context::request_context))
    }

    fn app_and_document(
        &self,
    ) -> (
        App<
            impl ServiceFactory<
                ServiceRequest,
                Config = (),
                Response = ServiceResponse,
                Error = actix_web::Error,
                InitError = (),
            > + use<>,
        >,
        utoipa::openapi::OpenApi,
    ) {
        let mut app = App::new()
            .into_utoipa_app()
            .openapi(openapi::ApiDoc::openapi())
            .app_data(self.state.clone())
            .app_data(self.proxies.clone())
            .app_data(self.metrics.clone())
            .app_data(extract::BodyLimit(self.settings.body_limit))
            .app_data(web::PayloadConfig::new(self.settings.body_limit))
            .app_data(extract::query_config())
            .app_data(extract::path_config())
            // The gateway first: the router tries resources in order, and the platform API's
            // patterns (with regular expressions) would be matched on every `/v1` call.
            .configure(routes::gateway::configure)
            .configure(routes::health::configure)
            .configure(routes::meta::configure)
            .configure(routes::auth::configure)
            .configure(routes::users::configure)
            .configure(routes::api_keys::configure)
            .configure(routes::admin::configure)
            .configure(routes::suppliers::configure)
            .configure(routes::keys::configure)
            .configure(routes::model_configs::configure)
            .configure(routes::categories::configure)
            .configure(routes::capabilities::configure)
            .configure(routes::associations::configure)
            .configure(routes::models::configure)
            .configure(routes::model_parts::configure)
            .configure(routes::conversations::configure)
            .configure(routes::chat::configure)
            .configure(routes::files::configure)
            .configure(routes::stats::configure)
            .configure(routes::logs::configure)
            .configure(routes::limits::configure);
        for routes in &self.extra_routes {
            app = app.configure(routes);
        }
        let (app, mut document) = app.split_for_parts();
        openapi::add_common_responses(&mut document);
        (app, document)
    }

    fn cors(&self) -> Cors {
        let origins = &self.settings.cors_origins;
        let cors = if origins.iter().any(|origin| origin == "*") {
            Cors::default().allow_any_origin()
        } else {
            origins
                .iter()
                .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        };
        cors.allow_any_method()
            .allow_any_header()
            .expose_headers([
                REQUEST_ID_HEADER,
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderName::from_static("x-switchyard-model"),
                actix_web::http::header::HeaderName::from_static("x-switchyard-supplier"),
                actix_web::http::header::HeaderName::from_static("x-switchyard-attempts"),
            ])
            .max_age(3600)
    }
}
